"""Sending to a subscription's Slack destination: one payload (:func:`deliver`), and the alerts held while a
subscription was paused, as one catch-up digest (:func:`release_held`).

Used by the notify stage (govwatch.stages.notifier), the scheduled digests (govwatch.alerts.digest) and the
subscription service (test messages, resume); the once-only rules of a send live in govwatch.alerts.slack_send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from govwatch.alerts.channel_send import ChannelSender, message_key
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.slack_format import digest_blocks
from govwatch.alerts.slack_outcome import SendResult
from govwatch.alerts.slack_send import BeforePost, SlackSender
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.errors import DeliveryRejected
from govwatch.log import get_logger

log = get_logger("govwatch.alerts.delivery")


def deliver(sender: SlackSender, destination: Destination, payload: dict[str, Any], api_base: str, *,
            dedup_id: str | None = None, unknown_since: float | None = None,
            before_post: BeforePost | None = None, thread_ts: str | None = None,
            context: dict[str, Any] | None = None) -> SendResult:
    """Send one payload to a subscription's destination (Slack webhook or bot token + channel, Teams, JSON webhook,
    e-mail: the last three need a ``ChannelSender``).

    ``dedup_id`` tags a bot-token message so that a send with an unknown outcome can be found again;
    ``unknown_since`` (epoch seconds) says an earlier send of it may have arrived unanswered; ``thread_ts``
    (bot tokens only) posts it as a reply in that message's thread; ``context`` (alert fields) goes into a JSON
    webhook's body."""
    if destination.kind in ("teams", "json", "email"):
        return _deliver_other(sender, destination, payload, message_key(dedup_id, payload), unknown_since,
                              before_post, context)
    if destination.kind == "webhook" and destination.webhook_url is not None:
        return sender.send_webhook(destination.webhook_url.get_secret_value(), payload,
                                   unknown_since=unknown_since, before_post=before_post)
    if destination.bot_token is not None and destination.channel:
        return sender.post_message(destination.bot_token.get_secret_value(), destination.channel, payload,
                                   api_base, dedup_id=dedup_id, unknown_since=unknown_since,
                                   before_post=before_post, thread_ts=thread_ts)
    raise DeliveryRejected("subscription has no usable destination")  # the model validator prevents this


def _deliver_other(sender: SlackSender, destination: Destination, payload: dict[str, Any], key: str,
                   unknown_since: float | None, before_post: BeforePost | None,
                   context: dict[str, Any] | None) -> SendResult:
    if not isinstance(sender, ChannelSender):
        raise DeliveryRejected(f"{destination.kind} destinations need the channel sender (govwatch.wiring.clients)")
    url = destination.webhook_url.get_secret_value() if destination.webhook_url else ""
    if destination.kind == "teams":
        return sender.send_teams(url, payload, unknown_since=unknown_since, before_post=before_post)
    if destination.kind == "json":
        secret = destination.signing_secret.get_secret_value() if destination.signing_secret else None
        return sender.send_json(url, payload, alert_id=key, secret=secret, context=context,
                                unknown_since=unknown_since, before_post=before_post)
    return sender.send_email(list(destination.to), payload, alert_id=key, unknown_since=unknown_since,
                             before_post=before_post)


def release_held(sub: Subscription, ledger: AlertLedger, sender: SlackSender, api_base: str, now: datetime) -> int:
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
        deliver(sender, sub.destination, message.payload, api_base)
    for alert in alerts:
        ledger.mark_delivered(alert.alert_id, now, via="catch_up")
    log.info("held_released", subscription=sub.id, alerts=len(alerts), destination=sub.destination.masked())
    return len(alerts)
