"""reads govwatch.stories.raw -> writes govwatch.stories.enriched; dead letters to govwatch.stories.raw.dlq.

Fetches each story's page (SSRF-guarded), extracts text, finds entities, topics and near-duplicate
clusters. Run several in one consumer group to split the partitions: `python consumers/enrich.py`.
"""

from __future__ import annotations

import sys

from govwatch import es_io, kafka_io
from govwatch.clusters import ClusterIndex
from govwatch.consumer import StopFlag, run_loop
from govwatch.enrich.pipeline import Knowledge
from govwatch.fetch import Fetcher
from govwatch.log import configure_logging
from govwatch.settings import Settings
from govwatch.stages.enricher import EnrichStage
from govwatch.topics import ENRICHED, RAW

GROUP = "enrich"


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = StopFlag()
    stop.install_signal_handlers()
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, f"{settings.topic_prefix}.{GROUP}",
                                      [settings.topic(RAW)], max_poll_records=50)
    stage = EnrichStage(Fetcher(settings), ClusterIndex(es_io.make_client(settings.es_url), settings.index_prefix),
                        Knowledge.load(settings.relevance_threshold), producer, settings.topic(ENRICHED),
                        workers=settings.fetch_workers)
    try:
        run_loop(consumer, stage, producer, "enrich", stop)
    finally:
        consumer.close(autocommit=False)
        producer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
