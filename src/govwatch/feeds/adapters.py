"""The poller's adapters: feed state in the compacted Kafka topic, the published-ids ledger in Elasticsearch,
and the raw-story publisher. Library errors become govwatch errors here (``raise ... from exc``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch, helpers
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from govwatch.errors import TransientError
from govwatch.es_io import translate
from govwatch.feeds.state import FeedState
from govwatch.kafka_io import BOOTSTRAP_TIMEOUT_MS, client_config
from govwatch.models import RawStory, utcnow

if TYPE_CHECKING:
    from govwatch.settings import Settings

ACK_TIMEOUT_S = 30.0
# mget in slices so one huge feed cannot build a multi-MB request.
MGET_SLICE = 500


class KafkaStateStore:
    """Latest FeedState per feed, rebuilt from the compacted topic and written after every poll."""

    def __init__(self, bootstrap: str | Settings, topic: str, producer: KafkaProducer) -> None:
        self.bootstrap, self.topic, self.producer = bootstrap, topic, producer
        self._states: dict[str, FeedState] = {}
        self._lock = threading.Lock()

    def load(self, timeout_s: float = 30.0) -> dict[str, FeedState]:
        """Read the topic from the beginning to its end offsets (the log end at call time)."""
        try:
            consumer = KafkaConsumer(**client_config(self.bootstrap), enable_auto_commit=False, group_id=None,
                                     client_id="govwatch-feed-state", bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
        except KafkaError as exc:
            raise TransientError(f"cannot read feed state from {self.topic}: {exc}") from exc
        try:
            partitions = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            if not tps:
                raise TransientError(f"topic {self.topic} not found; run `govwatch init`")
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            states: dict[str, FeedState] = {}
            deadline = time.monotonic() + timeout_s
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise TransientError(f"feed state in {self.topic} not read to its end within {timeout_s}s")
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        key = record.key.decode()
                        if record.value is None:
                            states.pop(key, None)
                        else:
                            states[key] = FeedState.from_bytes(record.value)
        except KafkaError as exc:
            raise TransientError(f"cannot read feed state from {self.topic}: {exc}") from exc
        finally:
            consumer.close()
        with self._lock:
            self._states = states
        return dict(states)

    def get(self, feed_id: str) -> FeedState:
        with self._lock:
            return self._states.get(feed_id) or FeedState(feed_id=feed_id)

    def all(self) -> dict[str, FeedState]:
        with self._lock:
            return dict(self._states)

    def put(self, state: FeedState) -> None:
        """Write and wait for the broker's ack, then update memory."""
        try:
            self.producer.send(self.topic, key=state.feed_id.encode(), value=state.to_bytes()).get(ACK_TIMEOUT_S)
        except KafkaError as exc:
            raise TransientError(f"feed state for {state.feed_id} not acknowledged: {exc}") from exc
        with self._lock:
            self._states[state.feed_id] = state


class PublishedLedger:
    """Ids already published, in ``<prefix>-published`` (create-only docs, _id = story id)."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es, self.index = es, index

    def already_published(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        try:
            for start in range(0, len(ids), MGET_SLICE):
                chunk = list(ids[start:start + MGET_SLICE])
                response = self.es.mget(index=self.index, ids=chunk, source=False, realtime=True)
                found.update(doc["_id"] for doc in response["docs"] if doc.get("found"))
        except (ApiError, ESConnectionError, ConnectionTimeout) as exc:
            raise translate(exc, "published-ids lookup") from exc
        return found

    def record(self, stories: Iterable[RawStory]) -> int:
        """Record published stories; a 409 (already there) is a duplicate, not an error. Returns created.

        No refresh: ``already_published`` uses a realtime mget, which sees documents before a refresh."""
        actions = [{"_op_type": "create", "_index": self.index, "_id": s.story_id,
                    "_source": {"story_id": s.story_id, "feed_id": s.feed_id, "url": s.url[:2048],
                                "published_at": s.published_at.isoformat() if s.published_at else None}}
                   for s in stories]
        if not actions:
            return 0
        try:
            ok, errors = helpers.bulk(self.es, actions, raise_on_error=False, max_retries=3)
        except (ApiError, ESConnectionError, ConnectionTimeout) as exc:
            raise translate(exc, "published-ids record") from exc
        real = [e for e in errors if next(iter(e.values())).get("status") != 409]
        if real:
            raise TransientError(f"could not record {len(real)} published ids: {real[0]}")
        return ok


class KafkaPublisher:
    """Sends RawStory messages keyed by story id and returns only once every send is acknowledged."""

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic

    def publish(self, stories: Sequence[RawStory]) -> list[RawStory]:
        sent: list[RawStory] = []
        futures = []
        try:
            for story in stories:
                stamped = story.model_copy(update={"trace": story.trace.model_copy(
                    update={"published_to_kafka_at": utcnow()})})
                futures.append(self.producer.send(self.topic, key=story.story_id.encode(), value=stamped.to_bytes()))
                sent.append(stamped)
            # Wait on our own futures, not producer.flush(): flush waits for every thread's records and sends
            # each feed's few records as their own small batches; within linger_ms they share batches instead.
            deadline = time.monotonic() + ACK_TIMEOUT_S
            for future in futures:
                future.get(max(0.0, deadline - time.monotonic()))
        except KafkaError as exc:
            raise TransientError(f"publish to {self.topic} not acknowledged: {type(exc).__name__}: {exc}") from exc
        return sent
