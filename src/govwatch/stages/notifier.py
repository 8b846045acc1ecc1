"""The notify stage: ``alerts`` -> Slack, once per (subscription, story cluster).

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

A paused subscription's alerts are ``held`` in the ledger (not sent, not dead-lettered); ``govwatch
subscriptions resume`` releases them as one catch-up digest (:func:`release_held`), not a flood. A destination
that refuses for good (revoked webhook, 404/410, channel_not_found) dead-letters that alert only, with the
ledger status ``dead_lettered``: the other subscriptions of the batch are unaffected. A transient failure
(5xx, timeouts, 429 beyond the sender's budget) is recorded as ``failed`` and the batch is retried; the
alerts already delivered in it are skipped on the retry; after ``MAX_ATTEMPTS`` such failures the alert is
dead-lettered, so one destination that keeps failing cannot hold up the others in its partition for ever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from govwatch.alerts.ledger import Ledger
from govwatch.alerts.slack_format import alert_blocks, digest_blocks
from govwatch.alerts.slack_send import BeforePost, OutcomeUnknown, SendResult, SlackSender
from govwatch.alerts.store import SubscriptionNotFound, SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.consumer import Rejections
from govwatch.errors import DeliveryRejected, GovwatchError, RateLimited, TransientError, Unavailable
from govwatch.log import get_logger
from govwatch.models import Alert, utcnow
from govwatch.stages.parse import decode_all

log = get_logger("govwatch.notify")

# Batch retries (each already inside the sender's own retries and backoff) before an alert is dead-lettered.
MAX_ATTEMPTS = 8


def deliver(sender: SlackSender, destination: Destination, payload: dict[str, Any], api_base: str, *,
            dedup_id: str | None = None, unknown_since: float | None = None,
            before_post: BeforePost | None = None) -> SendResult:
    """Send one payload to a subscription's destination (webhook or bot token + channel).

    ``dedup_id`` tags a bot-token message so that a send with an unknown outcome can be found again;
    ``unknown_since`` (epoch seconds) says an earlier send of it may have arrived unanswered."""
    if destination.kind == "webhook" and destination.webhook_url is not None:
        return sender.send_webhook(destination.webhook_url.get_secret_value(), payload,
                                   unknown_since=unknown_since, before_post=before_post)
    if destination.bot_token is not None and destination.channel:
        return sender.post_message(destination.bot_token.get_secret_value(), destination.channel, payload,
                                   api_base, dedup_id=dedup_id, unknown_since=unknown_since,
                                   before_post=before_post)
    raise DeliveryRejected("subscription has no usable destination")  # the model validator prevents this


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def unknown_since(entry: dict[str, Any]) -> float | None:
    """Epoch seconds of the first post of an entry whose last send's outcome is unknown, else None."""
    if entry.get("status") != "sending" and not entry.get("outcome_unknown"):
        return None
    started = _parse(entry.get("send_started_at")) or _parse(entry.get("matched_at"))
    return started.timestamp() if started else 0.0


class NotifyStage:
    """Batch handler for the consumer loop (see govwatch.consumer)."""

    def __init__(self, store: SubscriptionStore, ledger: Ledger, sender: SlackSender, api_base: str,
                 on_close: Callable[[], None] | None = None) -> None:
        self.store = store
        self.ledger = ledger
        self.sender = sender
        self.api_base = api_base
        self._on_close = on_close

    def close(self) -> None:
        """Release the sender's HTTP client (called by the consumer runner at exit)."""
        if self._on_close is not None:
            self._on_close()

    def __call__(self, records: Sequence[Any]) -> Rejections:
        decoded, rejected = decode_all(records, Alert)
        for pos, alert in decoded:
            rec = records[pos]
            context = dict(alert_id=alert.alert_id[:16], subscription=alert.subscription_id,
                           story_id=alert.story_id, partition=rec.partition, offset=rec.offset)
            error = self._notify(alert, context)
            if error is not None:
                rejected[pos] = error
        return rejected

    def _notify(self, alert: Alert, context: dict[str, Any]) -> DeliveryRejected | None:
        """Deliver one alert; returns the refusal that dead-letters it, raises TransientError to retry the batch."""
        entry = self.ledger.get(alert.alert_id)
        if entry is None:
            entry = self.ledger.ensure(alert, utcnow())
            log.warning("ledger_entry_recreated", reason="no ledger entry for this alert; re-created from it "
                        "before sending", **context)
        status = entry.get("status")
        if status in ("delivered", "dead_lettered"):
            log.info("notify_skipped", reason=f"already {status}", **context)
            return None
        attempts = int(entry.get("attempts", 0)) + 1
        try:
            sub = self.store.get(alert.subscription_id)
        except SubscriptionNotFound:
            self.ledger.mark_failed(alert.alert_id, "subscription deleted before delivery", attempts, True)
            log.info("notify_skipped", reason="subscription deleted", **context)
            return None
        if sub.paused:
            if status != "held":
                self.ledger.mark_held(alert.alert_id, attempts - 1, utcnow())
            log.info("notify_held", reason="subscription paused; released on resume", **context)
            return None
        since = unknown_since(entry)
        first_post = _parse(entry.get("send_started_at"))
        posts_before = int(entry.get("posts") or 0)

        def before_post(post: int) -> None:
            nonlocal first_post
            now = utcnow()
            first_post = first_post or now
            self.ledger.begin_send(alert.alert_id, first_post, now, posts_before + post)

        try:
            result = deliver(self.sender, sub.destination, alert_blocks(alert), self.api_base,
                             dedup_id=alert.alert_id, unknown_since=since, before_post=before_post)
        except DeliveryRejected as exc:
            self.ledger.mark_failed(alert.alert_id, str(exc), attempts, permanent=True)
            return exc
        except TransientError as exc:
            unknown = isinstance(exc, OutcomeUnknown) or since is not None
            if attempts >= MAX_ATTEMPTS:  # a destination failing for this long must not block its partition
                maybe = " (a post may have reached Slack unanswered)" if unknown else ""
                reason = f"gave up after {attempts} attempts{maybe}: {exc}"
                self.ledger.mark_failed(alert.alert_id, reason, attempts, True, outcome_unknown=unknown)
                return DeliveryRejected(reason)
            self.ledger.mark_failed(alert.alert_id, str(exc), attempts, permanent=False, outcome_unknown=unknown)
            if isinstance(exc, (RateLimited, Unavailable)):
                raise
            # This stage bounds its retries per alert in the ledger (MAX_ATTEMPTS, ~1.5 min of backoff): the loop
            # must not count them a second time, or a 30 s Slack outage dead-letters alerts (chaos slack-drop).
            raise Unavailable(f"{exc} (attempt {attempts} of {MAX_ATTEMPTS} for this alert)") from exc
        except GovwatchError as exc:
            self.ledger.mark_failed(alert.alert_id, str(exc), attempts, permanent=True)
            return DeliveryRejected(str(exc))
        now = utcnow()
        duplicate = result.possible_duplicate or bool(entry.get("possible_duplicate"))
        self.ledger.mark_delivered(alert.alert_id, now, via="history" if result.found_in_history else "post",
                                   possible_duplicate=duplicate)
        latency = (now - alert.trace.first_seen_at).total_seconds()
        log.info("delivered", destination=sub.destination.masked(), first_seen_to_slack_s=round(latency, 3),
                 found_in_history=result.found_in_history, possible_duplicate=duplicate, **context)
        return None


def release_held(sub: Subscription, ledger: Ledger, sender: SlackSender, api_base: str, now: datetime) -> int:
    """Send the alerts held while ``sub`` was paused as one catch-up digest; returns how many it covered.

    Resuming should neither lose nor flood: every held alert is in the catch-up (the digest formatting caps
    its size and counts the rest as "…and N more"), and each is marked ``delivered`` (``via: catch_up``) only
    after Slack accepted the messages; a failure leaves them ``held`` for the next ``resume``."""
    alerts = ledger.held(sub.id)
    if not alerts:
        return 0
    entries = ledger.get_many([a.alert_id for a in alerts])
    also_in = {a.cluster_id: int(entries.get(a.alert_id, {}).get("also_in_count", 0)) for a in alerts}
    label = f"held while paused, {alerts[0].trace.first_seen_at:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC"
    for message in digest_blocks(sub.name, label, alerts, also_in):
        # digest_blocks yields payload dicts, or DigestMessage objects carrying one (newer slack_format)
        payload = getattr(message, "payload", message)
        deliver(sender, sub.destination, payload, api_base)
    for alert in alerts:
        ledger.mark_delivered(alert.alert_id, now, via="catch_up")
    log.info("held_released", subscription=sub.id, alerts=len(alerts), destination=sub.destination.masked())
    return len(alerts)
