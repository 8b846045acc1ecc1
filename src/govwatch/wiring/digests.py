"""The digest run (``govwatch digest`` and the scheduled send_digests flow): one period's pending digests sent, and
with the hourly one the events' "more coverage" roll-ups for webhook destinations."""

from __future__ import annotations

from govwatch.alerts.digest import send_digests
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.rollup import send_rollups
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.threads import EventThreads
from govwatch.models import utcnow
from govwatch.settings import Settings
from govwatch.wiring.clients import elasticsearch, slack_session


def run_digests(settings: Settings, period: str) -> str:
    """Send the pending digests of every subscription in ``period`` mode now; the run's summary."""
    es = elasticsearch(settings)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    with slack_session(settings) as sender:
        summary = send_digests(store, ledger, sender, settings.slack_api_base, period, utcnow())
        if period == "hourly":  # the webhook roll-ups of events share the hourly tick
            rollups = send_rollups(store, ledger, EventThreads(es, settings.index("alert-threads")), sender,
                                   settings.slack_api_base, utcnow())
            summary.sent.update(rollups.sent)
            summary.failed.update(rollups.failed)
    return summary.render()
