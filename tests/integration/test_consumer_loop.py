"""The consumer loop against the real broker: bounded retries, membership kept while work takes long, and a
rebalance that never lets two members work on the same batch."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from kafka import TopicPartition

from govwatch.adapters.kafka_io import ensure_topics, make_consumer, make_producer
from govwatch.adapters.kafka_topics import TopicSpec, dlq
from govwatch.errors import TransientError, Unavailable
from govwatch.loop.batch import LoopStats
from govwatch.loop.batch_loop import run_loop
from govwatch.loop.policy import MAX_BATCH_ATTEMPTS, RetriesExhausted
from govwatch.loop.stop import StopFlag
from govwatch.models import DeadLetter
from tests.support.kafka_util import produce, read_all

# Small group timeouts so that a consumer that stopped polling would be evicted within the test.
FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "max_poll_interval_ms": 6000}


def _topic(settings, name: str, partitions: int = 1) -> str:  # noqa: ANN001
    topic = f"{settings.topic_prefix}.{name}"
    ensure_topics(settings.kafka_bootstrap, [TopicSpec(topic, partitions), TopicSpec(dlq(topic), 1)])
    return topic


def _committed(settings, group: str, topic: str, partitions: int = 1) -> int:  # noqa: ANN001
    probe = make_consumer(settings.kafka_bootstrap, group, [])
    try:
        return sum(probe.committed(TopicPartition(topic, p)) or 0 for p in range(partitions))
    finally:
        probe.close(autocommit=False)


class _Runner:
    """One real loop in a thread (its own consumer and producer), stopped by the test."""

    def __init__(self, settings, topic: str, group: str, handler: Callable, **consumer_over: int | str) -> None:  # noqa: ANN001
        self.producer = make_producer(settings.kafka_bootstrap)
        self.consumer = make_consumer(settings.kafka_bootstrap, group, [topic], **consumer_over)
        self.stop, self.stats = StopFlag(), LoopStats()
        self.thread = threading.Thread(target=run_loop, daemon=True,
                                       args=(self.consumer, handler, self.producer, "test", self.stop, self.stats))
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the loop did not stop"
        self.consumer.close(autocommit=False)
        self.producer.close()


def _wait(cond: Callable[[], bool], what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_record_that_keeps_failing_is_dead_lettered_and_the_rest_flows(initialized, unique) -> None:  # noqa: ANN001
    """A record whose processing always fails (not an outage) goes to the DLQ with its reason after bounded
    attempts; the other records of its batch are processed and every offset is committed."""
    settings = initialized
    topic = _topic(settings, "bounded")
    produce(settings.kafka_bootstrap, topic, [(f"k{i}".encode(), f"v{i}".encode()) for i in range(5)])
    done: Counter = Counter()
    calls = Counter()

    def handler(records: Sequence[Any]) -> dict:
        calls["attempts"] += 1
        if any(r.value == b"v2" for r in records):
            raise TransientError("downstream refuses v2 with a 500")
        done.update(r.value for r in records)
        return {}

    runner = _Runner(settings, topic, f"g{unique}", handler)
    try:
        _wait(lambda: _committed(settings, f"g{unique}", topic) == 5, "all five offsets committed")
    finally:
        runner.close()
    assert done == Counter({b"v0": 1, b"v1": 1, b"v3": 1, b"v4": 1})
    letters = [DeadLetter.from_bytes(r.value) for r in read_all(settings.kafka_bootstrap, dlq(topic), expect=1)]
    assert [(dl.payload, dl.error_type) for dl in letters] == [("v2", RetriesExhausted.__name__)]
    assert "downstream refuses v2" in letters[0].reason and "gave up after" in letters[0].reason
    assert calls["attempts"] >= MAX_BATCH_ATTEMPTS


def test_an_unexpected_exception_is_retried_not_fatal(initialized, unique) -> None:  # noqa: ANN001
    """A handler bug that raises once (KeyError) does not kill the loop: the batch is retried and committed once."""
    settings = initialized
    topic = _topic(settings, "bug")
    produce(settings.kafka_bootstrap, topic, [(b"k", b"v")])
    seen: list[bytes] = []

    def handler(records: Sequence[Any]) -> dict:
        if not seen:
            seen.append(b"boom")
            raise KeyError("no ledger entry")
        seen.extend(r.value for r in records)
        return {}

    runner = _Runner(settings, topic, f"g{unique}", handler)
    try:
        _wait(lambda: _committed(settings, f"g{unique}", topic) == 1, "the offset committed")
        assert runner.thread.is_alive()
    finally:
        runner.close()
    assert seen == [b"boom", b"v"]


@pytest.mark.parametrize("failure", ["slow", "outage"])
def test_membership_survives_work_longer_than_the_poll_interval(initialized, unique, failure: str) -> None:  # noqa: ANN001
    """A batch that takes (slow handler) or waits (an outage, retried without counting) longer than
    max.poll.interval.ms keeps its partition: it is committed by the same member, without a rebalance."""
    settings = initialized
    topic = _topic(settings, f"long{failure}")
    produce(settings.kafka_bootstrap, topic, [(b"k", b"v")])
    started = threading.Event()
    attempts = Counter()
    hold_s = 9.0  # > max_poll_interval_ms (6 s): without polling meanwhile, the broker evicts the member

    def handler(records: Sequence[Any]) -> dict:
        attempts["n"] += 1
        if failure == "slow":
            started.set()
            time.sleep(hold_s)
            return {}
        if not started.is_set():
            started.set()
            started.at = time.monotonic()  # type: ignore[attr-defined]
        if time.monotonic() - started.at < hold_s:  # type: ignore[attr-defined]
            raise Unavailable("Elasticsearch unreachable (connection refused)")
        return {}

    runner = _Runner(settings, topic, f"g{unique}", handler, **FAST_GROUP)
    try:
        _wait(lambda: runner.stats.batches == 1, "the batch done")
        assert runner.stats.counts["dead_lettered"] == 0
        assert runner.stats.counts["revoked_in_flight"] == 0
        assert _committed(settings, f"g{unique}", topic) == 1
    finally:
        runner.close()


def test_rebalance_waits_for_the_batch_in_flight(initialized, unique) -> None:  # noqa: ANN001
    """When a second member joins while the first works on a batch, the first finishes and commits it before
    giving up the partition: every record is processed exactly once across both members."""
    settings = initialized
    topic = _topic(settings, "rebalance", partitions=2)
    produce(settings.kafka_bootstrap, topic, [(f"k{i}".encode(), f"v{i}".encode()) for i in range(20)])
    processed: Counter = Counter()
    lock = threading.Lock()
    release = threading.Event()

    def handler(records: Sequence[Any]) -> dict:
        release.wait(120)  # the first batch is still being worked on when the second member joins
        with lock:
            processed.update((r.partition, r.offset) for r in records)
        return {}

    group = f"g{unique}"
    first = _Runner(settings, topic, group, handler, **FAST_GROUP)
    second = None
    try:
        _wait(lambda: first.consumer.assignment() and first.stats.batches == 0 and not release.is_set()
              and _in_flight(first), "the first member to work on a batch")
        second = _Runner(settings, topic, group, handler, **FAST_GROUP)
        _wait(lambda: first.stats.counts["revoked_in_flight"] >= 1, "the rebalance to reach the batch in flight")
        release.set()
        _wait(lambda: _committed(settings, group, topic, partitions=2) == 20, "all offsets committed")
    finally:
        release.set()
        first.close()
        if second is not None:
            second.close()
    assert sum(processed.values()) == 20 and set(processed.values()) == {1}, processed


def _in_flight(runner: _Runner) -> bool:
    return any(t.name == "test-handler" for t in threading.enumerate())


def test_abandoned_batch_is_read_again_when_the_partition_comes_back(initialized, unique) -> None:  # noqa: ANN001
    """A batch abandoned in a rebalance (its attempt failed meanwhile) is processed again when the same member
    keeps the partition: kafka-python keeps that partition's position, so without a rewind the batch is skipped."""
    settings = initialized
    topic = _topic(settings, "rewind")
    produce(settings.kafka_bootstrap, topic, [(f"k{i}".encode(), f"v{i}".encode()) for i in range(5)])
    release = threading.Event()
    processed: Counter = Counter()
    attempts = Counter()

    def handler(records: Sequence[Any]) -> dict:
        attempts["n"] += 1
        if attempts["n"] == 1:
            release.wait(120)
            raise TransientError("Elasticsearch 500 while the group rebalanced")
        processed.update(r.offset for r in records)
        return {}

    group = f"g{unique}"
    # Member ids start with the client id: "a-..." sorts first, so the range assignor gives it the one partition.
    first = _Runner(settings, topic, group, handler, client_id="a-first", **FAST_GROUP)
    second = None
    try:
        _wait(lambda: _in_flight(first), "the first member to work on the batch")
        second = _Runner(settings, topic, group, lambda records: {}, client_id="b-second", **FAST_GROUP)
        _wait(lambda: first.stats.counts["revoked_in_flight"] >= 1, "the rebalance to reach the batch in flight")
        release.set()
        _wait(lambda: _committed(settings, group, topic) == 5, "all five offsets committed")
        assert second.stats.batches == 0  # the partition stayed with the first member
    finally:
        release.set()
        first.close()
        if second is not None:
            second.close()
    assert processed == Counter({0: 1, 1: 1, 2: 1, 3: 1, 4: 1})
