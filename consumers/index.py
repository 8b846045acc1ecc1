"""reads govwatch.stories.enriched -> writes Elasticsearch (govwatch-stories-YYYY.MM) and govwatch.stories.indexed;
dead letters to govwatch.stories.enriched.dlq.

Run several of these in one consumer group to split the partitions: `python consumers/index.py`.
"""

from __future__ import annotations

import sys

from kafka import KafkaProducer

from govwatch.adapters import es_io
from govwatch.loop.consumer import run_consumer
from govwatch.settings import Settings
from govwatch.stages.indexer import IndexStage
from govwatch.adapters.kafka_topics import ENRICHED, INDEXED


def build(settings: Settings, producer: KafkaProducer) -> IndexStage:
    return IndexStage(es_io.make_client(settings), producer, settings.index_prefix, settings.topic(INDEXED))


def main() -> int:
    return run_consumer("index", ENRICHED, build, max_poll_records=200)


if __name__ == "__main__":
    sys.exit(main())
