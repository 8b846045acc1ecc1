"""One batch in flight: its records and partitions, the worker thread of an attempt, the offsets it commits."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from govwatch.stages.contract import BatchHandler, Rejections


@dataclass
class LoopStats:
    """Counters per outcome, readable by tests and benchmarks."""

    counts: Counter[str] = field(default_factory=Counter)
    batches: int = 0


class Attempt:
    """One run of the handler in a daemon thread (a daemon: a hung handler must not keep a stopping process)."""

    def __init__(self, handler: BatchHandler, records: Sequence[Any], name: str) -> None:
        self.result: Rejections | None = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(handler, records), name=name, daemon=True)
        self._thread.start()

    def _run(self, handler: BatchHandler, records: Sequence[Any]) -> None:
        try:
            self.result = handler(records)
        except BaseException as exc:  # noqa: BLE001 - every outcome is judged by the loop
            self.error = exc
        finally:
            self._done.set()

    def done(self) -> bool:
        return self._done.is_set()


@dataclass
class Batch:
    records: list[Any]
    partitions: set[TopicPartition]
    attempt: Attempt | None = None
    revoked: bool = False  # a rebalance took (some of) its partitions: stop working on it
    settled: bool = False  # finished (dead letters sent, offsets committed) by the revocation callback


def topic_partition(rec: ConsumerRecord) -> TopicPartition:
    return TopicPartition(rec.topic, rec.partition)


def record_key(rec: ConsumerRecord) -> str | None:
    """The record's key as text (the story id of the story topics), None when it has none."""
    return rec.key.decode("utf-8", "replace") if isinstance(rec.key, bytes) else None


def first_offsets(records: Sequence[Any]) -> dict[TopicPartition, int]:
    """The lowest offset of ``records`` per partition: where a rewind seeks back to."""
    first: dict[TopicPartition, int] = {}
    for rec in records:
        tp = topic_partition(rec)
        first[tp] = min(rec.offset, first.get(tp, rec.offset))
    return first


def commit_offsets(records: Sequence[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    """The offsets that commit ``records``: one past the highest of each partition."""
    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
    for rec in records:
        tp = topic_partition(rec)
        if tp not in offsets or offsets[tp].offset <= rec.offset:
            offsets[tp] = OffsetAndMetadata(rec.offset + 1, "", -1)
    return offsets
