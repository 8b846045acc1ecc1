"""reads govwatch.stories.indexed -> writes govwatch.alerts; dead letters to govwatch.stories.indexed.dlq.

Matches every indexed batch against the active subscriptions and records each match once in the
alert ledger (govwatch-alert-ledger) before producing it. Run several in one consumer group to split
the partitions: `python consumers/alert.py`.
"""

from __future__ import annotations

import sys

from govwatch import es_io, kafka_io
from govwatch.alerts.ledger import Ledger
from govwatch.alerts.store import SubscriptionStore
from govwatch.consumer import StopFlag, run_loop
from govwatch.log import configure_logging
from govwatch.settings import Settings
from govwatch.stages.alerter import AlertStage, SubscriptionCache
from govwatch.topics import ALERTS, INDEXED

GROUP = "alert"


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = StopFlag()
    stop.install_signal_handlers()
    es = es_io.make_client(settings.es_url)
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, f"{settings.topic_prefix}.{GROUP}",
                                      [settings.topic(INDEXED)], max_poll_records=20)
    stage = AlertStage(es, producer, SubscriptionCache(SubscriptionStore(es, settings.index("subscriptions"))),
                       Ledger(es, settings.index("alert-ledger")), settings.index("stories"), settings.topic(ALERTS))
    try:
        run_loop(consumer, stage, producer, "alert", stop)
    finally:
        consumer.close(autocommit=False)
        producer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
