"""The index stage: enriched stories -> Elasticsearch (bulk, idempotent) -> "indexed" message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from govwatch.adapters.kafka_io import ACK_TIMEOUT_S
from govwatch.adapters.story_index import bulk_index, indexed_batch
from govwatch.models import EnrichedStory, utcnow
from govwatch.stages.contract import Rejections
from govwatch.stages.decode import decode_all


class IndexStage:
    """Batch handler for the consumer loop (see govwatch.stages.contract)."""

    def __init__(self, es: Elasticsearch, producer: KafkaProducer, index_prefix: str, indexed_topic: str) -> None:
        self.es = es
        self.producer = producer
        self.prefix = index_prefix
        self.indexed_topic = indexed_topic

    def __call__(self, records: Sequence[Any]) -> Rejections:
        decoded, rejected = decode_all(records, EnrichedStory)
        if not decoded:
            return rejected
        now = utcnow()
        stories = [s.model_copy(update={"trace": s.trace.model_copy(update={"indexed_at": now})}) for _, s in decoded]
        refused = bulk_index(self.es, self.prefix, stories)
        for pos, error in refused.items():
            rejected[decoded[pos][0]] = error
        done = [s for pos, s in enumerate(stories) if pos not in refused]
        if done:
            # The message's indexed_at is when the stories became searchable (after the refresh).
            batch = indexed_batch(self.prefix, done, utcnow())
            self.producer.send(self.indexed_topic, key=batch.batch_id.encode(), value=batch.to_bytes()).get(
                timeout=ACK_TIMEOUT_S)
        return rejected
