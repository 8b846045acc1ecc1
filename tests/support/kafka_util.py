"""Reading and writing test topics on the real broker."""

from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer, TopicPartition

from govwatch.adapters.kafka_io import make_producer


def produce(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(bootstrap)
    try:
        for fut in [producer.send(topic, key=k, value=v) for k, v in items]:
            fut.get(timeout=30)
    finally:
        producer.close()


def read_all(bootstrap: str, topic: str, expect: int | None = None, timeout_s: float = 30.0,
             settle_s: float = 1.0) -> list:
    """Every record of ``topic`` from the beginning (no group); waits until ``expect`` arrived or quiet."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id=f"test-reader-{uuid.uuid4().hex[:6]}")
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got: list = []
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = [r for recs in consumer.poll(timeout_ms=300).values() for r in recs]
            if batch:
                got.extend(batch)
                quiet_since = time.monotonic()
            if expect is not None and len(got) >= expect and time.monotonic() - quiet_since >= settle_s:
                break
            if expect is None and time.monotonic() - quiet_since >= settle_s:
                break
        return got
    finally:
        consumer.close()
