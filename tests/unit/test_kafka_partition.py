"""The poller's partitioner: the same murmur2 and the same partition as kafka-python's default, for every key."""

from __future__ import annotations

import hashlib
import random

from kafka.partitioner.default import DefaultPartitioner
from kafka.partitioner.default import murmur2 as reference_murmur2

from govwatch.adapters.kafka_partition import KeyHashPartitioner, murmur2


class _Cluster:
    def __init__(self, partitions: int) -> None:
        self.parts = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.parts

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.parts


def test_murmur2_matches_kafka_python_for_every_length_and_byte() -> None:
    """Keys of 0-130 bytes (every tail length), random bytes including 0x80-0xff, story ids and feed ids."""
    rng = random.Random(13)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(131) for _ in range(20)]
    keys += [hashlib.sha256(str(i).encode()).hexdigest().encode() for i in range(2000)]
    keys += [f"feed-{i}".encode() for i in range(500)] + [b"\xff" * 64, b"\x00" * 7]
    assert [murmur2(k) for k in keys] == [reference_murmur2(k) for k in keys]


def test_partition_matches_the_default_partitioner() -> None:
    """Every key lands on the partition kafka-python's DefaultPartitioner (and Java's) picks, for 1-12 partitions."""
    ours, theirs = KeyHashPartitioner(), DefaultPartitioner()
    keys = [hashlib.sha256(str(i).encode()).hexdigest().encode() for i in range(3000)]
    for count in (1, 3, 6, 12):
        cluster = _Cluster(count)
        assert [ours.partition("t", None, k, None, None, cluster) for k in keys] == \
            [theirs.partition("t", None, k, None, None, cluster) for k in keys]


def test_no_key_still_picks_an_existing_partition() -> None:
    """Without a key a random existing partition is used, as by the default partitioner."""
    assert KeyHashPartitioner().partition("t", None, None, b"v", b"v", _Cluster(6)) in range(6)
