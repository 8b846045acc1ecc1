"""reads govwatch.stories.indexed -> writes govwatch.alerts; dead letters to govwatch.stories.indexed.dlq.

Matches every indexed batch against the active subscriptions and records each match once in the
alert ledger (govwatch-alert-ledger) before producing it. Run several in one consumer group to split
the partitions: `python consumers/alert.py`.
"""

from __future__ import annotations

import sys

from kafka import KafkaProducer

from govwatch.adapters import es_io
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.query import query_limits
from govwatch.alerts.store import SubscriptionStore
from govwatch.loop.consumer import run_consumer
from govwatch.settings import Settings
from govwatch.stages.alerter import AlertStage, SubscriptionCache
from govwatch.adapters.kafka_topics import ALERTS, INDEXED


def build(settings: Settings, producer: KafkaProducer) -> AlertStage:
    es = es_io.make_client(settings)
    cache = SubscriptionCache(SubscriptionStore(es, settings.index("subscriptions")), limits=query_limits(settings))
    return AlertStage(es, producer, cache, AlertLedger(es, settings.index("alert-ledger")), settings.index("stories"),
                      settings.topic(ALERTS), search_timeout_s=settings.alert_search_timeout_s)


def main() -> int:
    return run_consumer("alert", INDEXED, build, max_poll_records=20)


if __name__ == "__main__":
    sys.exit(main())
