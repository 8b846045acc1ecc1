"""Kafka adapter (kafka-python 3.x): producers, consumers, topic admin. Library errors are translated here."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from govwatch.errors import StackError, TransientError
from govwatch.topics import TopicSpec

CLIENT_ID = "govwatch"
# How long a client waits for a broker before saying so; long enough for a broker restart.
BOOTSTRAP_TIMEOUT_MS = 15_000
# Reconnect attempts back off exponentially up to this; kafka-python's default (30 s) kept clients logging
# "No node available" for half a minute after a restarted broker was healthy again.
RECONNECT_BACKOFF_MAX_MS = 1_000
# A member that died (kill -9) is noticed after this; its partitions then move. kafka-python's default (45 s)
# left a restarted consumer waiting that long for its partitions. The broker's minimum is 6 s.
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 3_000
# The consumer loop keeps polling (partitions paused) while a batch is worked on or waits for a retry, so this
# is a bound on the loop itself, not on a batch; stated because it is also the rebalance timeout.
MAX_POLL_INTERVAL_MS = 300_000


def broker_health(bootstrap: str) -> str | None:
    """None when the broker answers metadata requests, else the reason."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{CLIENT_ID}-health",
                                 request_timeout_ms=3000, bootstrap_timeout_ms=3000)
    except (KafkaError, OSError) as exc:
        return f"broker not reachable ({type(exc).__name__})"
    try:
        cluster = admin.describe_cluster()
        return None if cluster.get("brokers") else "no brokers in cluster metadata"
    except KafkaError as exc:
        return f"metadata request failed ({type(exc).__name__})"
    finally:
        admin.close()


def admin_client(bootstrap: str) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{CLIENT_ID}-admin",
                                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    except KafkaTimeoutError as exc:
        raise StackError(
            f"no Kafka broker answers at {bootstrap}; start the local stack with `govwatch stack up` "
            "or set GOVWATCH_KAFKA_BOOTSTRAP"
        ) from exc


def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> dict[str, str]:
    """Create missing topics with their documented config; existing ones are left as they are.

    Returns topic name -> "created" | "exists" so `govwatch init` can say what it did.
    """
    admin = admin_client(bootstrap)
    try:
        existing = set(admin.list_topics())
        result: dict[str, str] = {}
        for spec in specs:
            if spec.name in existing:
                result[spec.name] = "exists"
                continue
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.config)])
                result[spec.name] = "created"
            except TopicAlreadyExistsError:
                result[spec.name] = "exists"
        created = [name for name, state in result.items() if state == "created"]
        if created:
            admin.wait_for_topics(created, timeout_ms=30_000)
        return result
    finally:
        admin.close()


def make_producer(bootstrap: str, **overrides: object) -> KafkaProducer:
    """An acks=all, idempotent producer (kafka-python 3 defaults, stated so nobody turns them off)."""
    config: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "client_id": f"{CLIENT_ID}-producer",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "compression_type": None,
        "max_request_size": 4 * 1024 * 1024,
        "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
    }
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except KafkaTimeoutError as exc:
        raise TransientError(f"no Kafka broker answers at {bootstrap}; is `govwatch stack up` running?") from exc


def make_consumer(bootstrap: str, group_id: str, topics: list[str], **overrides: object) -> KafkaConsumer:
    """A consumer-group member with manual commits: offsets move only when the loop says the work is done.

    ``group_instance_id`` (static membership, optional) lets a restarted process with the same id take its
    partitions back at once instead of after a rebalance: give each replica a stable id (a pod name).
    """
    if overrides.get("group_instance_id") is None:
        overrides.pop("group_instance_id", None)
    config: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "client_id": f"{CLIENT_ID}-{group_id}",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 100,
        "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
        "max_poll_interval_ms": MAX_POLL_INTERVAL_MS,
    }
    config.update(overrides)
    try:
        consumer = KafkaConsumer(**config)
    except KafkaTimeoutError as exc:
        raise TransientError(f"no Kafka broker answers at {bootstrap}; is `govwatch stack up` running?") from exc
    if topics:
        consumer.subscribe(topics)
    return consumer


def group_lag(bootstrap: str, group_id: str, topic: str) -> int:
    """Messages of ``topic`` the group has not committed yet (all of them when it never committed)."""
    from kafka import TopicPartition

    probe = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False,
                          client_id=f"{CLIENT_ID}-lag", bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic) or [])]
        ends = probe.end_offsets(parts)
        return sum(max(0, ends[tp] - (probe.committed(tp) or 0)) for tp in parts)
    finally:
        probe.close(autocommit=False)
