"""Digest delivery: the ``digest_pending`` ledger entries of each hourly/daily subscription, as one Slack message
per period (split within Slack's limits by ``slack_format.digest_blocks``), then marked delivered.

The alert stage records digest-mode matches in the ledger and produces nothing; this runs on a schedule
(flows/send_digests.py, or ``govwatch digest --period hourly``).

* **Delivered means accepted.** The alerts of a digest message are marked ``delivered`` right after Slack
  accepted that message, so when message k of n fails, messages 1..k-1 are never sent again; a crash between
  the send and the mark re-sends that one message at the next run rather than losing it.
* **Failures are counted, and bounded.** A transient failure (5xx, timeouts, 429 beyond the sender's budget)
  stops the digest: the alerts not yet delivered stay ``digest_pending`` (the status the next run reads) with
  ``attempts`` counted and the error kept; after ``MAX_ATTEMPTS`` runs they are dead-lettered (ledger status
  ``dead_lettered``, with the reason). A permanent refusal dead-letters the refused message's alerts at once,
  and the digest's other messages are still tried (a refusal may concern one payload only).
* **Subscriptions are isolated.** Any exception for one subscription (ledger read, formatting, delivery,
  ledger write) is logged and recorded in the summary; every other subscription still gets its digest.

The ledger reads of one digest are one search plus one ``mget`` (entries' ``also_in_count`` and ``attempts``).
A copy of an already-recorded cluster shows up as "also in N outlets" on its one item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from govwatch.alerts.delivery import deliver
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.slack_format import digest_blocks
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Subscription
from govwatch.errors import DeliveryRejected, TransientError
from govwatch.log import get_logger

log = get_logger("govwatch.alerts.digest")

PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
LOOKBACK = timedelta(days=30)  # pending entries older than this are stale news, not digest material
# Digest runs that failed to deliver an entry before it is dead-lettered: eight hours of an hourly digest's
# outage, eight days of a daily one (the same bound the notifier puts on immediate alerts).
MAX_ATTEMPTS = 8
REASON_CHARS = 300


@dataclass
class DigestSummary:
    sent: dict[str, int] = field(default_factory=dict)  # subscription name -> stories delivered this run
    failed: dict[str, str] = field(default_factory=dict)  # subscription name -> why (some may still have been sent)

    def render(self) -> str:
        parts = [f"{name}: {n} stories" for name, n in self.sent.items()] or ["nothing pending"]
        errors = [f"{name}: FAILED ({why})" for name, why in self.failed.items()]
        return "digests: " + "; ".join(parts + errors)


@dataclass(frozen=True)
class _Outcome:
    delivered: int
    error: str | None = None


def send_digests(store: SubscriptionStore, ledger: AlertLedger, sender: SlackSender, api_base: str, period: str,
                 now: datetime) -> DigestSummary:
    """Send the pending digest of every active subscription whose mode is ``period``."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {sorted(PERIODS)}, not {period!r}")
    summary = DigestSummary()
    label = f"{period} digest, {now - PERIODS[period]:%Y-%m-%d %H:%M} to {now:%H:%M} UTC"
    for sub in store.active():
        if sub.mode != period:
            continue
        try:
            outcome = _send_subscription(sub, ledger, sender, api_base, label, now)
        except Exception as exc:  # one subscription's failure must never stop the others' digests
            summary.failed[sub.name] = f"{type(exc).__name__}: {exc}"[:REASON_CHARS]
            log.error("digest_failed", subscription=sub.id, error=f"{type(exc).__name__}: {exc}"[:REASON_CHARS],
                      exc_info=True)
            continue
        if outcome.delivered:
            summary.sent[sub.name] = outcome.delivered
        if outcome.error:
            summary.failed[sub.name] = outcome.error[:REASON_CHARS]
    return summary


def _send_subscription(sub: Subscription, ledger: AlertLedger, sender: SlackSender, api_base: str, label: str,
                       now: datetime) -> _Outcome:
    alerts = ledger.pending_digest(sub.id, now - LOOKBACK)
    if not alerts:
        return _Outcome(0)
    entries = ledger.get_many([a.alert_id for a in alerts])
    also_in = {a.cluster_id: int(entries.get(a.alert_id, {}).get("also_in_count", 0)) for a in alerts}
    messages = digest_blocks(sub.name, label, alerts, also_in)
    delivered = 0
    errors: list[str] = []
    for number, message in enumerate(messages, start=1):
        try:
            deliver(sender, sub.destination, message.payload, api_base)
        except DeliveryRejected as exc:
            _dead_letter(ledger, message.covered, entries, str(exc), now)
            errors.append(f"message {number} of {len(messages)} refused, {len(message.covered)} stories "
                          f"dead-lettered: {exc}")
            log.warning("digest_message_refused", subscription=sub.id, message=number, messages=len(messages),
                        stories=len(message.covered), error=str(exc)[:REASON_CHARS])
            continue
        except TransientError as exc:
            rest = [aid for later in messages[number - 1:] for aid in later.covered]
            given_up = _retry_later(ledger, rest, entries, str(exc), now)
            errors.append(f"message {number} of {len(messages)} failed after {delivered} of {len(alerts)} "
                          f"stories were sent; {len(rest) - given_up} left for the next run, {given_up} "
                          f"dead-lettered: {exc}")
            log.warning("digest_message_failed", subscription=sub.id, message=number, messages=len(messages),
                        delivered=delivered, pending=len(rest) - given_up, dead_lettered=given_up,
                        error=str(exc)[:REASON_CHARS])
            break
        for aid in message.covered:
            ledger.mark_delivered(aid, now)
        delivered += len(message.covered)
        log.info("digest_message_sent", subscription=sub.id, message=number, messages=len(messages),
                 stories=len(message.covered), destination=sub.destination.masked())
    return _Outcome(delivered, "; ".join(errors) or None)


def _attempts(entries: dict[str, dict[str, Any]], aid: str) -> int:
    return int(entries.get(aid, {}).get("attempts") or 0) + 1


def _dead_letter(ledger: AlertLedger, ids: Sequence[str], entries: dict[str, dict[str, Any]], reason: str,
                 now: datetime) -> None:
    for aid in ids:
        ledger.mark_failed(aid, reason, _attempts(entries, aid), permanent=True, at=now)


def _retry_later(ledger: AlertLedger, ids: Sequence[str], entries: dict[str, dict[str, Any]], reason: str,
                 now: datetime) -> int:
    """Keep ``ids`` pending for the next run with the attempt counted; dead-letter those past the bound.
    Returns how many were dead-lettered."""
    given_up = 0
    for aid in ids:
        attempts = _attempts(entries, aid)
        if attempts >= MAX_ATTEMPTS:
            ledger.mark_failed(aid, f"digest gave up after {attempts} attempts: {reason}", attempts,
                               permanent=True, at=now)
            given_up += 1
        else:
            ledger.mark_digest_retry(aid, reason, attempts, now)
    return given_up
