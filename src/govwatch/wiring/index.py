"""The index consumer's stage: enriched stories into their events and the monthly story indices, then
govwatch.stories.indexed."""

from __future__ import annotations

from kafka import KafkaProducer

from govwatch.adapters.kafka_topics import INDEXED
from govwatch.enrich.event_assign import EventAssigner
from govwatch.settings import Settings
from govwatch.stages.indexer import IndexStage
from govwatch.wiring.clients import elasticsearch


def build_index_stage(settings: Settings, producer: KafkaProducer) -> IndexStage:
    """The stage that indexes enriched stories (under the settings' index prefix), with the process's one
    event assigner (it remembers the events this process wrote until they are searchable)."""
    es = elasticsearch(settings)
    return IndexStage(es, producer, settings.index_prefix, settings.topic(INDEXED),
                      EventAssigner(es, settings.index_prefix))
