"""Digest delivery: the ``digest_pending`` ledger entries of each hourly/daily subscription, as one Slack message
per period (split within Slack's limits by ``slack_format.digest_blocks``), then marked delivered.

The alert stage records digest-mode matches in the ledger and produces nothing; this runs on a schedule
(flows/send_digests.py, or ``govwatch digest --period hourly``). An entry is marked ``delivered`` only after
the message holding it was accepted, so a crash in between re-sends that digest at the next run rather than
losing it. A copy of an already-recorded cluster shows up as "also in N outlets" on its one item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from govwatch.alerts.ledger import Ledger
from govwatch.alerts.slack_format import digest_blocks
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionStore
from govwatch.errors import DeliveryRejected, TransientError
from govwatch.log import get_logger
from govwatch.stages.notifier import deliver

log = get_logger("govwatch.alerts.digest")

PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
LOOKBACK = timedelta(days=30)  # pending entries older than this are stale news, not digest material


@dataclass
class DigestSummary:
    sent: dict[str, int] = field(default_factory=dict)  # subscription name -> stories in its digest
    failed: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        parts = [f"{name}: {n} stories" for name, n in self.sent.items()] or ["nothing pending"]
        errors = [f"{name}: FAILED ({why})" for name, why in self.failed.items()]
        return "digests: " + "; ".join(parts + errors)


def send_digests(store: SubscriptionStore, ledger: Ledger, sender: SlackSender, api_base: str, period: str,
                 now: datetime) -> DigestSummary:
    """Send the pending digest of every active subscription whose mode is ``period``."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {sorted(PERIODS)}, not {period!r}")
    summary = DigestSummary()
    label = f"{period} digest, {now - PERIODS[period]:%Y-%m-%d %H:%M} to {now:%H:%M} UTC"
    for sub in store.active():
        if sub.mode != period:
            continue
        alerts = ledger.pending_digest(sub.id, now - LOOKBACK)
        if not alerts:
            continue
        also_in = {a.cluster_id: ledger.also_in_count(a.alert_id) for a in alerts}
        try:
            for payload in digest_blocks(sub.name, label, alerts, also_in):
                deliver(sender, sub.destination, payload, api_base)
        except (DeliveryRejected, TransientError) as exc:
            permanent = isinstance(exc, DeliveryRejected)
            for alert in alerts:
                # A transient failure keeps the entries digest_pending-equivalent ("failed", retried next run).
                if permanent:
                    ledger.mark_failed(alert.alert_id, str(exc), 1, permanent=True, at=now)
            summary.failed[sub.name] = str(exc)[:200]
            log.warning("digest_failed", subscription=sub.id, permanent=permanent, error=str(exc)[:300])
            continue
        for alert in alerts:
            ledger.mark_delivered(alert.alert_id, now)
        summary.sent[sub.name] = len(alerts)
        log.info("digest_sent", subscription=sub.id, stories=len(alerts), destination=sub.destination.masked())
    return summary
