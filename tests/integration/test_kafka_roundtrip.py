"""The real broker: keyed acks=all produce, group consume with manual commit, resume after restart."""

from __future__ import annotations

import json

from govwatch.adapters.kafka_io import ensure_topics, make_consumer, make_producer
from govwatch.adapters.kafka_topics import TopicSpec


def _drain(consumer, want: int, timeout_s: float = 30.0) -> list:  # noqa: ANN001
    import time

    got: list = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.extend(records)
    return got


def test_consumer_resumes_after_last_commit(initialized, unique) -> None:  # noqa: ANN001
    """After a commit at message 5 and a restart, the group gets exactly messages 6..10 (no loss, no re-delivery)."""
    settings = initialized
    topic = f"{settings.topic_prefix}.roundtrip"
    ensure_topics(settings.kafka_bootstrap, [TopicSpec(topic, 1)])
    producer = make_producer(settings.kafka_bootstrap)
    futures = [producer.send(topic, key=f"k{i}".encode(), value=json.dumps({"n": i}).encode()) for i in range(10)]
    producer.flush()
    assert all(f.get(timeout=10).offset >= 0 for f in futures)  # every send acknowledged (acks=all)
    producer.close()

    group = f"g{unique}"
    first = make_consumer(settings.kafka_bootstrap, group, [topic], max_poll_records=5)
    records = _drain(first, 5)[:5]
    assert [json.loads(r.value)["n"] for r in records] == [0, 1, 2, 3, 4]
    assert records[0].key == b"k0"
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    first.commit({TopicPartition(topic, 0): OffsetAndMetadata(records[-1].offset + 1, "", -1)})
    first.close(autocommit=False)

    second = make_consumer(settings.kafka_bootstrap, group, [topic])
    rest = _drain(second, 5)
    second.close(autocommit=False)
    assert [json.loads(r.value)["n"] for r in rest] == [5, 6, 7, 8, 9]
