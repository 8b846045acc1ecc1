"""The notify stage: ``alerts`` -> Slack, once per ledger key (subscription and cluster, story, or event story).

For each alert: the ledger says whether it was already delivered (a re-produced alert is skipped); an alert
with no ledger entry gets one re-created from the alert before anything is sent (the notifier never posts
what it cannot record); the subscription gives the destination; the message goes out through the
rate-limited ``SlackSender``; the ledger records the outcome.

Once, where Slack lets us know:

* The destination's pacing slot is waited for first, then the ledger records the post (status ``sending``,
  ``send_started_at``), then the POST, then ``delivered``: nothing sleeps between Slack's 2xx and recording.
* An entry found ``sending`` (the notifier died mid-send) or ``failed`` with ``outcome_unknown`` (Slack did
  not answer in time) has an unknown outcome. Bot-token messages carry the alert id in their metadata, so the
  sender looks for it in the channel history before posting again: found -> ``delivered_via: history``.
  Incoming webhooks cannot be read back: they are resent (at-least-once) and the entry says
  ``possible_duplicate: true``.

**Alerts per event** (granularity ``event``, ``govwatch.alerts.event_delivery``): the first story of a
(subscription, event) to reach this stage creates the event's thread and is posted top-level with a "covered by N
outlets" line; its Slack ``ts`` is recorded before it is marked delivered. A later story replies in that thread
(``thread_ts``) and the parent's line is updated (``chat.update``, once per thread and batch); while the parent's
``ts`` is unknown the reply is deferred (not counted as a failure) and never posted top-level. For a webhook the
later stories become ``rollup_pending`` and go out in the hourly "more coverage" roll-up (``govwatch.alerts.rollup``).

A paused subscription's alerts are ``held`` in the ledger (not sent, not dead-lettered); ``govwatch
subscriptions resume`` releases them as one catch-up digest (:func:`govwatch.alerts.delivery.release_held`), not a
flood. A destination that refuses for good (revoked webhook, 404/410, channel_not_found) dead-letters that alert
only, with the ledger status ``dead_lettered``: the other subscriptions of the batch are unaffected.

**A failing destination is deferred, never waited for** (issue 22: one webhook answering 429 with
``Retry-After: 60`` used to hold every subscription of its partition for minutes). The sender waits at most
``MAX_INLINE_WAIT_S`` (2 s) for any destination; past that it opens the destination's circuit and raises, and every
further alert to it raises at once without a request (``govwatch.alerts.breaker``). This stage then *defers* the
alert: the ledger entry becomes ``failed`` with ``next_attempt_at`` (when the circuit lets a probe through) and
``first_failed_at``, and the handler moves on, so the batch commits with the healthy subscriptions' alerts
delivered. A re-drive (:mod:`govwatch.alerts.redrive`, a thread of every notify process) produces due entries
back to the alerts topic with their usual key, where this stage takes them like any alert: delivered once the
destination recovers, or deferred again. An alert still failing ``GOVWATCH_SLACK_RETRY_WINDOW_S`` after its first
failure is dead-lettered with the last reason (``govwatch dlq replay`` brings it back). The subscriptions of a
batch are delivered in parallel (``SUBSCRIPTIONS_AT_ONCE``, each one's alerts in order), so a destination that
answers only at the send timeout holds its own alerts, not the batch's others.

Why the ledger and a re-drive rather than a delay topic: the ledger already is the once-only authority, so a
deferred alert has exactly one record of its state and nothing new to keep consistent; its due time is exact
(a single delay topic would hold a 5 s retry behind a 300 s one; one topic per delay is more topics, consumers and
deployment); a re-driven copy goes through the same partition (key = subscription id) as every alert of its
subscription, so one notifier at a time handles it and the status checks above absorb any duplicate copy. Nothing
is lost: the entry is written before the offset is committed; a re-drive that dies after claiming leaves a lease
that expires; a notifier process that dies leaves the entries to the others' re-drives. Once-only is unchanged:
an unknown outcome stays recorded across a deferral, so a bot-token destination checks its history first and a
webhook's resend is marked ``possible_duplicate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from structlog.contextvars import bound_contextvars

from govwatch.alerts.channel_format import alert_context
from govwatch.alerts.delivery import deliver
from govwatch.alerts.event_delivery import ParentPending, route
from govwatch.alerts.event_format import event_parent_blocks, event_reply_blocks
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.slack_format import alert_blocks
from govwatch.alerts.slack_outcome import OutcomeUnknown
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.spike_format import spike_blocks
from govwatch.alerts.store import SubscriptionNotFound, SubscriptionStore
from govwatch.alerts.subscriptions import Destination
from govwatch.alerts.threads import EventThreads, Thread, event_key
from govwatch.errors import DeliveryRejected, GovwatchError, TransientError
from govwatch.log import get_logger
from govwatch.models import Alert, utcnow
from govwatch.stages.contract import Rejections
from govwatch.stages.decode import decode_all

log = get_logger("govwatch.notify")

MIN_DEFER_S = 1.0  # a failure without a cooldown (a history read that failed) is retried no sooner than this
DEFAULT_RETRY_WINDOW_S = 3600.0  # GOVWATCH_SLACK_RETRY_WINDOW_S
# Subscriptions of one batch delivered at once (each one's alerts in order): a destination that answers only at the
# send timeout holds its own subscription's alerts, not the others'. Small: Slack paces per channel anyway.
SUBSCRIPTIONS_AT_ONCE = 8


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def unknown_since(entry: dict[str, Any]) -> float | None:
    """Epoch seconds of the first post of an entry whose last send's outcome is unknown, else None."""
    if entry.get("status") != "sending" and not entry.get("outcome_unknown"):
        return None
    started = _parse(entry.get("send_started_at")) or _parse(entry.get("matched_at"))
    return started.timestamp() if started else 0.0


class NotifyStage:
    """Batch handler for the consumer loop (see govwatch.stages.contract)."""

    def __init__(self, store: SubscriptionStore, ledger: AlertLedger, sender: SlackSender, api_base: str,
                 on_close: Callable[[], None] | None = None, *,
                 retry_window_s: float = DEFAULT_RETRY_WINDOW_S,
                 clock: Callable[[], datetime] = utcnow, parallel: int = SUBSCRIPTIONS_AT_ONCE,
                 threads: EventThreads | None = None) -> None:
        self.store = store
        self.ledger = ledger
        self.threads = threads  # None: event alerts are sent like cluster ones (no thread index wired)
        self.sender = sender
        self.api_base = api_base
        self.retry_window_s = retry_window_s
        self._clock = clock
        self._on_close = on_close
        self._pool = ThreadPoolExecutor(parallel, thread_name_prefix="notify-send") if parallel > 1 else None

    def close(self) -> None:
        """Release the sender's HTTP client and the delivery threads (called by the consumer runner at exit)."""
        if self._pool is not None:  # a send still waiting for a slow answer ends at its timeout, not ours to wait
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._on_close is not None:
            self._on_close()

    def __call__(self, records: Sequence[Any]) -> Rejections:
        decoded, rejected = decode_all(records, Alert)
        groups: dict[str, list[tuple[int, Alert]]] = {}
        for pos, alert in decoded:
            groups.setdefault(alert.subscription_id, []).append((pos, alert))
        if self._pool is None or len(groups) <= 1:
            for group in groups.values():
                rejected.update(self._notify_group(records, group))
            return rejected
        futures = [self._pool.submit(self._notify_group, records, group) for group in groups.values()]
        errors: list[BaseException] = []
        for future in futures:  # every group ends before the batch does: a retry never overlaps a running send
            try:
                rejected.update(future.result())
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the other groups finished
                errors.append(exc)
        if errors:  # the batch is retried; what was delivered is skipped then (ledger status)
            raise errors[0]
        return rejected

    def _notify_group(self, records: Sequence[Any], group: list[tuple[int, Alert]]) -> Rejections:
        """One subscription's alerts of the batch, in order."""
        rejected: Rejections = {}
        # The parent's "covered by N outlets" line is updated once per thread and batch: by its last reply here.
        last_of_thread = {event_key(alert): pos for pos, alert in group if alert.granularity == "event"}
        for pos, alert in group:
            rec = records[pos]
            # Every log line of this alert's delivery carries these, bound once.
            with bound_contextvars(alert_id=alert.alert_id[:16], subscription=alert.subscription_id,
                                   story_id=alert.story_id, partition=rec.partition, offset=rec.offset):
                error = self._notify(alert, update_parent=last_of_thread.get(event_key(alert)) == pos)
            if error is not None:
                rejected[pos] = error
        return rejected

    def _notify(self, alert: Alert, update_parent: bool = True) -> DeliveryRejected | None:
        """Deliver one alert; returns the refusal that dead-letters it, raises TransientError to retry the batch."""
        entry = self.ledger.get(alert.alert_id)
        if entry is None:
            entry = self.ledger.ensure(alert, utcnow())
            log.warning("ledger_entry_recreated", reason="no ledger entry for this alert; re-created from it "
                        "before sending")
        status = entry.get("status")
        if status in ("delivered", "dead_lettered"):
            log.info("notify_skipped", reason=f"already {status}")
            return None
        attempts = int(entry.get("attempts", 0)) + 1
        try:
            sub = self.store.get(alert.subscription_id)
        except SubscriptionNotFound:
            self.ledger.mark_failed(alert.alert_id, "subscription deleted before delivery", attempts, True)
            log.info("notify_skipped", reason="subscription deleted")
            return None
        if sub.paused:
            if status != "held":
                self.ledger.mark_held(alert.alert_id, attempts - 1, utcnow())
            log.info("notify_held", reason="subscription paused; released on resume")
            return None
        since = unknown_since(entry)
        first_post = _parse(entry.get("send_started_at"))
        posts_before = int(entry.get("posts") or 0)

        def before_post(post: int) -> None:
            nonlocal first_post
            now = utcnow()
            first_post = first_post or now
            self.ledger.begin_send(alert.alert_id, first_post, now, posts_before + post)

        payload = alert_blocks(alert) if alert.kind == "match" else spike_blocks(alert)
        thread: Thread | None = None
        thread_ts: str | None = None
        if alert.granularity == "event" and self.threads is not None:
            way = route(self.threads, self.ledger, alert, sub.destination, utcnow())
            thread = way.thread
            if way.kind == "rollup":
                self.ledger.mark_rollup(alert.alert_id, utcnow())
                log.info("notify_rolled_up", reason="a later story of the event; webhooks cannot thread")
                return None
            if way.kind == "wait":
                pending = ParentPending("the event thread's parent is not posted yet; the reply waits for it")
                return self._defer(alert, entry, pending, attempts, since is not None)
            if way.kind == "parent":
                payload = event_parent_blocks(alert, thread.outlets, len(thread.stories),
                                              threaded=sub.destination.kind == "bot")
            else:
                payload, thread_ts = event_reply_blocks(alert), thread.ts
        try:
            result = deliver(self.sender, sub.destination, payload, self.api_base, dedup_id=alert.alert_id,
                             unknown_since=since, before_post=before_post, thread_ts=thread_ts,
                             context=alert_context(alert))
        except DeliveryRejected as exc:
            self.ledger.mark_failed(alert.alert_id, str(exc), attempts, permanent=True)
            return exc
        except TransientError as exc:
            unknown = isinstance(exc, OutcomeUnknown) or since is not None
            return self._defer(alert, entry, exc, attempts, unknown)
        except GovwatchError as exc:
            self.ledger.mark_failed(alert.alert_id, str(exc), attempts, permanent=True)
            return DeliveryRejected(str(exc))
        now = utcnow()
        if thread is not None and self.threads is not None:
            self._after_event_post(self.threads, alert, sub.destination, thread, thread_ts, result.ts,
                                   update_parent, now)
        duplicate = result.possible_duplicate or bool(entry.get("possible_duplicate"))
        self.ledger.mark_delivered(alert.alert_id, now, via="history" if result.found_in_history else "post",
                                   possible_duplicate=duplicate)
        latency = (now - alert.trace.first_seen_at).total_seconds()
        log.info("delivered", destination=sub.destination.masked(), first_seen_to_slack_s=round(latency, 3),
                 found_in_history=result.found_in_history, possible_duplicate=duplicate)
        return None

    def _after_event_post(self, threads: EventThreads, alert: Alert, destination: Destination, thread: Thread,
                          thread_ts: str | None, posted_ts: str | None, update_parent: bool, now: datetime) -> None:
        """A parent's post: record its ``ts`` (before the alert is marked delivered, so a delivered parent always
        has it). A reply: count its story on the thread and update the parent's coverage line (cosmetic: a
        failed update is logged, the next reply updates it again)."""
        if thread_ts is None:
            if posted_ts is not None:
                threads.set_ts(thread.key, posted_ts, destination.channel, now)
            return
        counted = threads.add_story(thread.key, alert.story_id, alert.source, now)
        if not update_parent or destination.bot_token is None or not destination.channel:
            return
        payload = event_parent_blocks(counted.parent, counted.outlets, len(counted.stories), threaded=True)
        try:
            self.sender.update_message(destination.bot_token.get_secret_value(), destination.channel, thread_ts,
                                       payload, self.api_base)
        except GovwatchError as exc:
            log.warning("thread_parent_not_updated", error=str(exc)[:300], outlets=counted.outlets)

    def _defer(self, alert: Alert, entry: dict[str, Any], exc: TransientError, attempts: int,
               unknown: bool) -> DeliveryRejected | None:
        """Defer an alert whose destination cannot take it now; dead-letter it when its retry window is over."""
        now = self._clock()
        # A destination that is only busy (a burst to one channel, paced at ~1/s) is not failing: that deferral
        # neither counts as an attempt nor starts the retry window.
        paced = bool(getattr(exc, "paced", False))
        if paced:
            attempts -= 1
        first_failed = _parse(entry.get("first_failed_at")) or (None if paced else now)
        failing_s = (now - first_failed).total_seconds() if first_failed is not None else 0.0
        if not paced and failing_s >= self.retry_window_s:
            maybe = " (a post may have reached Slack unanswered)" if unknown else ""
            reason = f"gave up after {attempts} attempts over {failing_s:.0f}s{maybe}: {exc}"
            self.ledger.mark_failed(alert.alert_id, reason, attempts, True, now, outcome_unknown=unknown)
            log.warning("notify_gave_up", reason=reason[:300])
            return DeliveryRejected(reason)
        delay = max(float(getattr(exc, "retry_after", None) or 0.0), MIN_DEFER_S)
        due = now + timedelta(seconds=delay)
        self.ledger.defer(alert.alert_id, str(exc), attempts, now, due, first_failed, outcome_unknown=unknown)
        log.info("notify_deferred", error=str(exc)[:300], retry_in_s=round(delay, 3), attempts=attempts,
                 failing_s=round(failing_s, 3), outcome_unknown=unknown)
        return None
