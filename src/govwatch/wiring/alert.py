"""The alert consumer's stage: the subscriptions (cached), the alert ledger, the stories alias to match against."""

from __future__ import annotations

from kafka import KafkaProducer

from govwatch.adapters.kafka_topics import ALERTS
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.query import query_limits
from govwatch.alerts.store import SubscriptionStore
from govwatch.settings import Settings
from govwatch.stages.alerter import AlertStage, SubscriptionCache
from govwatch.wiring.clients import elasticsearch


def build_alert_stage(settings: Settings, producer: KafkaProducer) -> AlertStage:
    """The stage that matches indexed batches against the active subscriptions (alerts to govwatch.alerts)."""
    es = elasticsearch(settings)
    cache = SubscriptionCache(SubscriptionStore(es, settings.index("subscriptions")), limits=query_limits(settings))
    return AlertStage(es, producer, cache, AlertLedger(es, settings.index("alert-ledger")), settings.index("stories"),
                      settings.topic(ALERTS), search_timeout_s=settings.alert_search_timeout_s)
