"""The notify stage: ``alerts`` -> Slack, once per (subscription, story cluster).

For each alert: the ledger says whether it was already delivered (a re-produced alert is skipped);
the subscription gives the destination (a paused or deleted one is recorded and not sent); the message
goes out through the rate-limited ``SlackSender``; the ledger records the outcome. A destination that
refuses for good (revoked webhook, 404/410, channel_not_found) dead-letters that alert only, with the
ledger status ``dead_lettered``: the other subscriptions of the batch are unaffected. A transient failure
(5xx, timeouts, 429 beyond the sender's budget) is recorded as ``failed`` and the batch is retried; the
alerts already delivered in it are skipped on the retry; after ``MAX_ATTEMPTS`` such failures the alert is
dead-lettered, so one destination that keeps failing cannot hold up the others in its partition for ever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from govwatch.alerts.ledger import Ledger
from govwatch.alerts.slack_format import alert_blocks
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionNotFound, SubscriptionStore
from govwatch.alerts.subscriptions import Destination
from govwatch.consumer import Rejections
from govwatch.errors import DeliveryRejected, GovwatchError, TransientError
from govwatch.log import get_logger
from govwatch.models import Alert, utcnow
from govwatch.stages.parse import decode_all

log = get_logger("govwatch.notify")

# Batch retries (each already inside the sender's own retries and backoff) before an alert is dead-lettered.
MAX_ATTEMPTS = 8


def deliver(sender: SlackSender, destination: Destination, payload: dict[str, Any], api_base: str) -> None:
    """Send one payload to a subscription's destination (webhook or bot token + channel)."""
    if destination.kind == "webhook" and destination.webhook_url is not None:
        sender.send_webhook(destination.webhook_url.get_secret_value(), payload)
    elif destination.bot_token is not None and destination.channel:
        sender.post_message(destination.bot_token.get_secret_value(), destination.channel, payload, api_base)
    else:  # the model validator makes this unreachable for stored subscriptions
        raise DeliveryRejected("subscription has no usable destination")


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
            entry = self.ledger.get(alert.alert_id)
            if entry is not None and entry.get("status") in ("delivered", "dead_lettered"):
                log.info("notify_skipped", reason=f"already {entry['status']}", **context)
                continue
            attempts = int((entry or {}).get("attempts", 0)) + 1
            try:
                sub = self.store.get(alert.subscription_id)
            except SubscriptionNotFound:
                self.ledger.mark_failed(alert.alert_id, "subscription deleted before delivery", attempts, True)
                log.info("notify_skipped", reason="subscription deleted", **context)
                continue
            if sub.paused:
                self.ledger.mark_failed(alert.alert_id, "subscription paused before delivery", attempts, True)
                log.info("notify_skipped", reason="subscription paused", **context)
                continue
            try:
                deliver(self.sender, sub.destination, alert_blocks(alert), self.api_base)
            except DeliveryRejected as exc:
                self.ledger.mark_failed(alert.alert_id, str(exc), attempts, permanent=True)
                rejected[pos] = exc
                continue
            except TransientError as exc:
                if attempts >= MAX_ATTEMPTS:  # a destination failing for this long must not block its partition
                    self.ledger.mark_failed(alert.alert_id, f"gave up after {attempts} attempts: {exc}", attempts, True)
                    rejected[pos] = DeliveryRejected(f"gave up after {attempts} attempts: {exc}")
                    continue
                self.ledger.mark_failed(alert.alert_id, str(exc), attempts, permanent=False)
                raise
            except GovwatchError as exc:
                self.ledger.mark_failed(alert.alert_id, str(exc), attempts, permanent=True)
                rejected[pos] = DeliveryRejected(str(exc))
                continue
            now = utcnow()
            self.ledger.mark_delivered(alert.alert_id, now)
            latency = (now - alert.trace.first_seen_at).total_seconds()
            log.info("delivered", destination=sub.destination.masked(), first_seen_to_slack_s=round(latency, 3),
                     **context)
        return rejected
