"""The subscription service of the web app and of ``govwatch subscriptions``: one store, one ledger, Slack sessions."""

from __future__ import annotations

from functools import partial

from elasticsearch import Elasticsearch

from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscription_service import Clock, SubscriptionService
from govwatch.models import utcnow
from govwatch.settings import Settings
from govwatch.wiring.clients import elasticsearch, slack_session


def subscription_service(settings: Settings, es: Elasticsearch | None = None,
                         clock: Clock = utcnow) -> SubscriptionService:
    """The service on ``es`` (default: a new client from the settings); each test message or resume gets its own
    SSRF-guarded Slack sender."""
    es = es if es is not None else elasticsearch(settings)
    return SubscriptionService(es, settings, SubscriptionStore(es, settings.index("subscriptions")),
                               AlertLedger(es, settings.index("alert-ledger")), partial(slack_session, settings),
                               clock)
