"""reads govwatch.stories.raw -> writes govwatch.stories.enriched; dead letters to govwatch.stories.raw.dlq.

Fetches each story's page (SSRF-guarded), extracts text, finds entities, topics and near-duplicate
clusters. Run several in one consumer group to split the partitions: `python consumers/enrich.py`.
"""

from __future__ import annotations

import sys

from kafka import KafkaProducer

from govwatch.adapters import es_io
from govwatch.adapters.clusters import ClusterIndex
from govwatch.loop.consumer import run_consumer
from govwatch.enrich.pipeline import Knowledge
from govwatch.adapters.fetch import Fetcher
from govwatch.settings import Settings
from govwatch.stages.enricher import EnrichStage
from govwatch.adapters.kafka_topics import ENRICHED, RAW


def build(settings: Settings, producer: KafkaProducer) -> EnrichStage:
    knowledge = Knowledge.load(settings.relevance_threshold)
    knowledge.warm_up()  # before the first poll joins the group: no cold first batch
    return EnrichStage(Fetcher(settings), ClusterIndex(es_io.make_client(settings), settings.index_prefix),
                       knowledge, producer, settings.topic(ENRICHED), workers=settings.fetch_workers,
                       per_host=settings.fetch_per_host, fetch_budget_s=settings.enrich_fetch_budget_s,
                       page_max_bytes=settings.enrich_page_max_bytes)


def main() -> int:
    return run_consumer("enrich", RAW, build, max_poll_records=50)


if __name__ == "__main__":
    sys.exit(main())
