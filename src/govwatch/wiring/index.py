"""The index consumer's stage: enriched stories into the monthly story indices, then govwatch.stories.indexed."""

from __future__ import annotations

from kafka import KafkaProducer

from govwatch.adapters.kafka_topics import INDEXED
from govwatch.settings import Settings
from govwatch.stages.indexer import IndexStage
from govwatch.wiring.clients import elasticsearch


def build_index_stage(settings: Settings, producer: KafkaProducer) -> IndexStage:
    """The stage that indexes enriched stories (under the settings' index prefix)."""
    return IndexStage(elasticsearch(settings), producer, settings.index_prefix, settings.topic(INDEXED))
