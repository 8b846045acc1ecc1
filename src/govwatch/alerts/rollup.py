"""The "more coverage" roll-up: an event's later stories for a webhook destination, which cannot thread.

The notifier posts an event's first story top-level and marks every later one ``rollup_pending`` in the ledger.
The hourly digest run (``govwatch digest --period hourly``, the scheduled send_digests flow) sends them: **one
message per (subscription, event, window)**, the window being the hour since the previous run (a long list is
split within Slack's limits by ``slack_format.digest_blocks``), headed by the event's title (its parent story).
Why the digest tick rather than a timer of its own: it already runs on a schedule with every subscription's
destination at hand, and an hour is what the digest modes promise; a story thus reaches the channel within
about an hour, while the first report of the event was immediate.

Delivered means accepted, as for digests: a message's alerts are marked ``delivered`` (``via: rollup``) right after
Slack accepted it; a transient failure leaves the rest ``rollup_pending`` for the next run; a permanent refusal
dead-letters that message's alerts; a paused subscription's follow-ups wait for a run after it is resumed. One
subscription's failure never stops the others (logged and in the summary).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from govwatch.alerts.delivery import deliver
from govwatch.alerts.digest import LOOKBACK, REASON_CHARS, DigestSummary
from govwatch.alerts.event_format import rollup_blocks
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionNotFound, SubscriptionStore
from govwatch.alerts.threads import EventThreads, event_key, thread_key
from govwatch.errors import DeliveryRejected, TransientError
from govwatch.log import get_logger
from govwatch.models import Alert

log = get_logger("govwatch.alerts.rollup")

WINDOW = timedelta(hours=1)


def send_rollups(store: SubscriptionStore, ledger: AlertLedger, threads: EventThreads, sender: SlackSender,
                 api_base: str, now: datetime) -> DigestSummary:
    """Send every pending roll-up: one message (or a split) per subscription and event."""
    summary = DigestSummary()
    groups: dict[tuple[str, str], list[Alert]] = {}
    for alert in ledger.pending_rollups(now - LOOKBACK):
        groups.setdefault((alert.subscription_id, event_key(alert)), []).append(alert)
    label = f"{now - WINDOW:%Y-%m-%d %H:%M} to {now:%H:%M} UTC"
    for (subscription_id, event), alerts in groups.items():
        try:
            sent = _send_event(store, ledger, threads, sender, api_base, subscription_id, event, alerts, label, now)
        except Exception as exc:  # one subscription's failure must never stop the others' roll-ups
            why = f"{type(exc).__name__}: {exc}"[:REASON_CHARS]
            summary.failed[f"{subscription_id} roll-up"] = why
            log.error("rollup_failed", subscription=subscription_id, error=why, exc_info=True)
            continue
        if sent:
            name = f"{alerts[0].subscription_name} (more coverage)"
            summary.sent[name] = summary.sent.get(name, 0) + sent
    return summary


def _send_event(store: SubscriptionStore, ledger: AlertLedger, threads: EventThreads, sender: SlackSender,
                api_base: str, subscription_id: str, event: str, alerts: list[Alert], label: str,
                now: datetime) -> int:
    try:
        sub = store.get(subscription_id)
    except SubscriptionNotFound:
        for alert in alerts:
            ledger.mark_failed(alert.alert_id, "subscription deleted before delivery", 1, True, now)
        return 0
    if sub.paused:
        return 0
    thread = threads.get(thread_key(subscription_id, event))
    title = thread.parent.title if thread is not None else alerts[0].title
    delivered = 0
    for message in rollup_blocks(sub.name, title, label, alerts):
        try:
            deliver(sender, sub.destination, message.payload, api_base)
        except DeliveryRejected as exc:
            for aid in message.covered:
                ledger.mark_failed(aid, f"roll-up refused: {exc}", 1, True, now)
            log.warning("rollup_message_refused", subscription=sub.id, stories=len(message.covered),
                        error=str(exc)[:REASON_CHARS])
            continue
        except TransientError as exc:
            log.warning("rollup_message_failed", subscription=sub.id, delivered=delivered,
                        error=str(exc)[:REASON_CHARS])
            raise
        for aid in message.covered:
            ledger.mark_delivered(aid, now, via="rollup")
        delivered += len(message.covered)
        log.info("rollup_message_sent", subscription=sub.id, stories=len(message.covered),
                 destination=sub.destination.masked())
    return delivered
