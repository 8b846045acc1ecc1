"""The index stage: enriched stories -> their events -> Elasticsearch (bulk, idempotent) -> "indexed" message.

Order, for crash safety: the batch's events are written first (govwatch.enrich.event_assign), then the stories
with their ``event_id``, then the "indexed" message; the loop commits the offsets only after all three. A crash
in between replays the batch: each story is found as a member of the event it joined (decision "replay") and
lands there again, so counts do not change. An :class:`~govwatch.adapters.event_index.EventConflict` (another
index process changed an event meanwhile) is raised before any story is written and the loop retries the batch.

A story Elasticsearch then refuses (mapping error, dead-lettered) stays a member of its event: the event counts
what the pipeline saw, and a replay of the dead letter lands in the same event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from govwatch.adapters.kafka_io import ACK_TIMEOUT_S
from govwatch.adapters.story_index import bulk_index, indexed_batch
from govwatch.enrich.event_assign import EventAssigner, member_of
from govwatch.models import EnrichedStory, utcnow
from govwatch.stages.contract import Rejections
from govwatch.stages.decode import decode_all


class IndexStage:
    """Batch handler for the consumer loop (see govwatch.stages.contract).

    ``events`` is the process's one assigner (it remembers the events it wrote); by default one is built here.
    """

    def __init__(self, es: Elasticsearch, producer: KafkaProducer, index_prefix: str, indexed_topic: str,
                 events: EventAssigner | None = None) -> None:
        self.es = es
        self.producer = producer
        self.prefix = index_prefix
        self.indexed_topic = indexed_topic
        self.events = events or EventAssigner(es, index_prefix)

    def __call__(self, records: Sequence[Any]) -> Rejections:
        decoded, rejected = decode_all(records, EnrichedStory)
        if not decoded:
            return rejected
        now = utcnow()
        stories = [s.model_copy(update={"trace": s.trace.model_copy(update={"indexed_at": now})}) for _, s in decoded]
        decisions = self.events.assign([member_of(s) for s in stories])
        event_ids = {s.story_id: d.event.event_id for s, d in zip(stories, decisions, strict=True)}
        refused = bulk_index(self.es, self.prefix, stories, event_ids)
        for pos, error in refused.items():
            rejected[decoded[pos][0]] = error
        done = [s for pos, s in enumerate(stories) if pos not in refused]
        if done:
            # The message's indexed_at is when the stories became searchable (after the refresh).
            batch = indexed_batch(self.prefix, done, utcnow(), event_ids)
            self.producer.send(self.indexed_topic, key=batch.batch_id.encode(), value=batch.to_bytes()).get(
                timeout=ACK_TIMEOUT_S)
        return rejected
