"""Driving the real alert stage and reading the notifier's progress, for the event-alert test and benchmark.

Each helper waits on state (records handled, offsets committed), never on time; ``WAIT_S`` bounds every wait."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from elasticsearch import Elasticsearch
from kafka import TopicPartition

from govwatch.adapters import kafka_io
from govwatch.adapters.kafka_topics import ALERTS, INDEXED
from govwatch.loop.batch import LoopStats
from govwatch.loop.batch_loop import run_loop
from govwatch.loop.stop import StopFlag
from govwatch.settings import Settings
from govwatch.stages.alerter import AlertStage

WAIT_S = 180.0  # readiness deadline on a busy 2-core machine; callers wait on state, never on time


def wait(condition: Callable[[], bool], what: str, check: Callable[[], None] | None = None) -> None:
    """Poll ``condition`` until true; fail after ``WAIT_S`` (``check`` raises if a helper thread crashed)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if check is not None:
            check()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def run_alert_stage(settings: Settings, stage: AlertStage, group: str, records: int) -> None:
    """The real consumer loop over the indexed topic, batch by batch, until ``records`` records were handled."""
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, group, [settings.topic(INDEXED)])
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    stats = LoopStats()
    deadline = time.monotonic() + WAIT_S
    try:
        while stats.counts["processed"] < records:
            assert time.monotonic() < deadline, f"the alert stage handled {stats.counts} of {records} records"
            run_loop(consumer, stage, producer, "alert", StopFlag(), stats, max_batches=stats.batches + 1)
    finally:
        consumer.close(autocommit=False)
        producer.close()


def topic_records(settings: Settings, name: str) -> int:
    """How many records topic ``name`` (unprefixed, e.g. ALERTS) holds."""
    topic = settings.topic(name)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, f"{settings.topic_prefix}-count", [])
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close(autocommit=False)


def alert_records(settings: Settings) -> int:
    """How many records the alerts topic holds."""
    return topic_records(settings, ALERTS)


def drained(settings: Settings, group: str) -> bool:
    """Whether ``group`` committed every alerts record there is."""
    topic = settings.topic(ALERTS)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, group, [])
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        ends = consumer.end_offsets(parts)
        return all((consumer.committed(tp) or 0) >= ends[tp] for tp in parts)
    finally:
        consumer.close(autocommit=False)


def statuses(es: Elasticsearch, ledger_index: str, subscription_id: str) -> Counter[str]:
    """Ledger entries of one subscription, counted by status."""
    es.indices.refresh(index=ledger_index)
    query = {"term": {"subscription_id": subscription_id}}
    hits = es.search(index=ledger_index, query=query, size=1000)["hits"]["hits"]
    return Counter(h["_source"]["status"] for h in hits)
