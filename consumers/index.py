"""reads govwatch.stories.enriched -> writes Elasticsearch (govwatch-stories-YYYY.MM) and govwatch.stories.indexed;
dead letters to govwatch.stories.enriched.dlq.

Run several of these in one consumer group to split the partitions: `python consumers/index.py`.
"""

from __future__ import annotations

import sys

from govwatch import es_io, kafka_io
from govwatch.consumer import StopFlag, run_loop
from govwatch.log import configure_logging
from govwatch.settings import Settings
from govwatch.stages.indexer import IndexStage
from govwatch.topics import ENRICHED, INDEXED

GROUP = "index"


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = StopFlag()
    stop.install_signal_handlers()
    es = es_io.make_client(settings.es_url)
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, f"{settings.topic_prefix}.{GROUP}",
                                      [settings.topic(ENRICHED)], max_poll_records=200)
    stage = IndexStage(es, producer, settings.index_prefix, settings.topic(INDEXED))
    try:
        run_loop(consumer, stage, producer, "index", stop)
    finally:
        consumer.close(autocommit=False)
        producer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
