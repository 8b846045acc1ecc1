"""The digest run (``govwatch digest`` and the scheduled send_digests flow): one period's pending digests sent."""

from __future__ import annotations

from govwatch.alerts.digest import send_digests
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.store import SubscriptionStore
from govwatch.models import utcnow
from govwatch.settings import Settings
from govwatch.wiring.clients import elasticsearch, slack_session


def run_digests(settings: Settings, period: str) -> str:
    """Send the pending digests of every subscription in ``period`` mode now; the run's summary."""
    es = elasticsearch(settings)
    with slack_session(settings) as sender:
        summary = send_digests(SubscriptionStore(es, settings.index("subscriptions")),
                               AlertLedger(es, settings.index("alert-ledger")), sender, settings.slack_api_base,
                               period, utcnow())
    return summary.render()
