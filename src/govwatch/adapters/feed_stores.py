"""The poller's adapters: feed state in the compacted Kafka topic, the published story ids in Elasticsearch,
and the raw-story publisher. Library errors become govwatch errors here (``raise ... from exc``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import orjson
from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from govwatch.adapters.es_io import translate
from govwatch.adapters.group_commit import GroupCommit
from govwatch.adapters.kafka_io import ACK_TIMEOUT_S, BOOTSTRAP_TIMEOUT_MS, client_config
from govwatch.errors import TransientError
from govwatch.models import RawStory, Trace, utcnow

if TYPE_CHECKING:
    from govwatch.settings import Settings

# mget in slices so one huge feed cannot build a multi-MB request.
MGET_SLICE = 500
# A bulk item rejected with 429 (write queue full) is sent again up to this often, after 2, 4, 8 s.
RECORD_RETRIES = 3
RECORD_BACKOFF_S = 2.0
# Only what record() reads: a full bulk answer is ~300 bytes per item to decode for nothing.
_BULK_FILTER = "errors,items.*.status,items.*.error"
_MGET_FILTER = "docs._id,docs.found"
# Items (ids or stories) one coalesced ES request carries at most: ~100 feeds of 20 stories.
BATCH_ITEMS = 2000


class FeedRecord(Protocol):
    """A feed's state as the store keeps it: keyed by feed id, written as bytes (govwatch.feeds.state.FeedState)."""

    @property
    def feed_id(self) -> str: ...
    def to_bytes(self) -> bytes: ...


S = TypeVar("S", bound=FeedRecord)


class KafkaStateStore(Generic[S]):
    """Latest state per feed, rebuilt from the compacted topic and written after every poll. The state type is the
    caller's: ``decode`` reads a record's value, ``new`` makes the state of a feed never polled."""

    def __init__(self, bootstrap: str | Settings, topic: str, producer: KafkaProducer, *,
                 decode: Callable[[bytes], S], new: Callable[[str], S]) -> None:
        self.bootstrap, self.topic, self.producer = bootstrap, topic, producer
        self.decode, self.new = decode, new
        self._states: dict[str, S] = {}
        self._lock = threading.Lock()

    def load(self, timeout_s: float = 30.0) -> dict[str, S]:
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
            states: dict[str, S] = {}
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
                            states[key] = self.decode(record.value)
        except KafkaError as exc:
            raise TransientError(f"cannot read feed state from {self.topic}: {exc}") from exc
        finally:
            consumer.close()
        with self._lock:
            self._states = states
        return dict(states)

    def get(self, feed_id: str) -> S:
        with self._lock:
            return self._states.get(feed_id) or self.new(feed_id)

    def all(self) -> dict[str, S]:
        with self._lock:
            return dict(self._states)

    def put(self, state: S) -> None:
        """Write and wait for the broker's ack, then update memory."""
        try:
            self.producer.send(self.topic, key=state.feed_id.encode(), value=state.to_bytes()).get(ACK_TIMEOUT_S)
        except KafkaError as exc:
            raise TransientError(f"feed state for {state.feed_id} not acknowledged: {exc}") from exc
        with self._lock:
            self._states[state.feed_id] = state


class EsPublishedIds:
    """Ids already published, in ``<prefix>-published`` (create-only docs, _id = story id).

    Concurrent feeds' lookups and records are coalesced (govwatch.adapters.group_commit): one ``_mget`` / ``_bulk``
    serves every feed that asked while the previous one was in flight, each feed getting its own answer."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es, self.index = es, index
        self._lookups: GroupCommit[str, set[str]] = GroupCommit(self._lookup_batch, max_items=BATCH_ITEMS)
        self._records: GroupCommit[RawStory, int] = GroupCommit(self._record_batch, max_items=BATCH_ITEMS)

    def already_published(self, ids: Sequence[str]) -> set[str]:
        return self._lookups.call(list(ids)) if ids else set()

    def record(self, stories: Iterable[RawStory]) -> int:
        """Record published stories; a 409 (already there) is a duplicate, not an error. Returns created.

        No refresh: ``already_published`` uses a realtime mget, which sees documents before a refresh."""
        stories = list(stories)
        return self._records.call(stories) if stories else 0

    def _lookup_batch(self, requests: list[Sequence[str]]) -> list[set[str] | BaseException]:
        ids = list(dict.fromkeys(i for request in requests for i in request))
        found: set[str] = set()
        try:
            for start in range(0, len(ids), MGET_SLICE):
                chunk = ids[start:start + MGET_SLICE]
                response = self.es.mget(index=self.index, ids=chunk, source=False, realtime=True,
                                        filter_path=_MGET_FILTER)
                found.update(doc["_id"] for doc in response.get("docs", []) if doc.get("found"))
        except (ApiError, ESConnectionError, ConnectionTimeout) as exc:
            raise translate(exc, "published-ids lookup") from exc
        return [found.intersection(request) for request in requests]

    def _record_batch(self, requests: list[Sequence[RawStory]]) -> list[int | BaseException]:
        """One ``_bulk`` of every request's creates (NDJSON built here with orjson, response filtered: the
        helpers.bulk path spent more CPU than the request). Items rejected with 429 (write queue full) are sent
        again after a backoff, as helpers.bulk's ``max_retries`` did; other failures fail their own feed only."""
        pending = [(n, _create_lines(self.index, story)) for n, request in enumerate(requests) for story in request]
        created = [0] * len(requests)
        failed: dict[int, list[dict[str, Any]]] = {}
        for attempt in range(RECORD_RETRIES + 1):
            if not pending:
                break
            if attempt:
                time.sleep(RECORD_BACKOFF_S * 2 ** (attempt - 1))
            try:
                # the client sends a bytes body as it is (its stubs only name the list form)
                response = self.es.bulk(operations=b"".join(lines for _, lines in pending),  # type: ignore[arg-type]
                                        filter_path=_BULK_FILTER)
            except (ApiError, ESConnectionError, ConnectionTimeout) as exc:
                if isinstance(exc, ApiError) and exc.status_code == 429 and attempt < RECORD_RETRIES:
                    continue
                raise translate(exc, "published-ids record") from exc
            items = response.get("items") or []
            if len(items) != len(pending):
                raise TransientError(f"published-ids record: {len(items)} answers for {len(pending)} ids")
            retry = []
            for (n, lines), item in zip(pending, items, strict=True):
                status = next(iter(item.values())).get("status", 0)
                if status in (200, 201):
                    created[n] += 1
                elif status == 429 and attempt < RECORD_RETRIES:
                    retry.append((n, lines))
                elif status != 409:
                    failed.setdefault(n, []).append(item)
            pending = retry
        return [TransientError(f"could not record {len(failed[n])} published ids: {failed[n][0]}") if n in failed
                else created[n] for n in range(len(requests))]


def _create_lines(index: str, story: RawStory) -> bytes:
    action = {"create": {"_index": index, "_id": story.story_id}}
    source = {"story_id": story.story_id, "feed_id": story.feed_id, "url": story.url[:2048],
              "published_at": story.published_at.isoformat() if story.published_at else None}
    return orjson.dumps(action) + b"\n" + orjson.dumps(source) + b"\n"


class KafkaPublisher:
    """Sends RawStory messages keyed by story id and returns only once every send is acknowledged."""

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic

    def publish(self, stories: Sequence[RawStory]) -> list[RawStory]:
        sent: list[RawStory] = []
        futures = []
        try:
            # One stamp per call: a feed's stories share their trace, so it is copied once, not per story.
            now, traces = utcnow(), dict[int, Trace]()
            for story in stories:
                trace = traces.get(id(story.trace))
                if trace is None:
                    trace = traces[id(story.trace)] = story.trace.model_copy(update={"published_to_kafka_at": now})
                stamped = story.model_copy(update={"trace": trace})
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
