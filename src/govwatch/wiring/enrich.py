"""The enrich consumer's stage: page fetcher (SSRF-guarded), near-duplicate cluster index, the warmed-up models."""

from __future__ import annotations

from kafka import KafkaProducer

from govwatch.adapters.fetch import Fetcher
from govwatch.adapters.kafka_topics import ENRICHED
from govwatch.enrich.clusters import ClusterIndex
from govwatch.enrich.pipeline import Knowledge
from govwatch.settings import Settings
from govwatch.stages.enricher import EnrichStage
from govwatch.wiring.clients import elasticsearch


def build_enrich_stage(settings: Settings, producer: KafkaProducer) -> EnrichStage:
    """The stage that turns raw stories into enriched ones (written to govwatch.stories.enriched)."""
    knowledge = Knowledge.load(settings.relevance_threshold)
    knowledge.warm_up()  # before the first poll joins the group: no cold first batch
    return EnrichStage(Fetcher(settings), ClusterIndex(elasticsearch(settings), settings.index_prefix),
                       knowledge, producer, settings.topic(ENRICHED), workers=settings.fetch_workers,
                       per_host=settings.fetch_per_host, fetch_budget_s=settings.enrich_fetch_budget_s,
                       page_max_bytes=settings.enrich_page_max_bytes)
