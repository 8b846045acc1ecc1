"""Kafka adapter (kafka-python 3.x): producers, consumers, topic admin. Library errors are translated here."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from govwatch.adapters.kafka_topics import TopicSpec
from govwatch.errors import ConfigError, StackError, TransientError

if TYPE_CHECKING:
    from govwatch.settings import Settings

# Every client builder takes where to connect as a bare bootstrap string (the local stack: plaintext, replication
# factor 1) or the settings, which add authentication, TLS and the replication factor of a real cluster.
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
# How long a producer waits for a broker's acknowledgement of what it sent (stages wait for it before their input
# offsets are committed; a dead letter and a feed state are acknowledged before they count as kept).
ACK_TIMEOUT_S = 30

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def security_config(settings: Settings) -> dict[str, Any]:
    """kafka-python keyword arguments for the settings' security protocol, SASL credentials and TLS files.

    Raises ConfigError naming the setting to fix when the combination cannot work (SASL without credentials,
    TLS files on a plaintext protocol, an unknown protocol or mechanism).
    """
    protocol = settings.kafka_security_protocol.upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(f"GOVWATCH_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol!r} is not one of "
                          f"{', '.join(SECURITY_PROTOCOLS)}")
    config: dict[str, Any] = {"security_protocol": protocol}
    tls_files = {"GOVWATCH_KAFKA_SSL_CAFILE": settings.kafka_ssl_cafile,
                 "GOVWATCH_KAFKA_SSL_CERTFILE": settings.kafka_ssl_certfile,
                 "GOVWATCH_KAFKA_SSL_KEYFILE": settings.kafka_ssl_keyfile}
    if protocol in ("SSL", "SASL_SSL"):
        for name, path in tls_files.items():
            if path is not None and not path.is_file():
                raise ConfigError(f"{name}={path} is not a readable file; mount the PEM file there or unset it")
        if (settings.kafka_ssl_certfile is None) != (settings.kafka_ssl_keyfile is None):
            raise ConfigError("mutual TLS needs both GOVWATCH_KAFKA_SSL_CERTFILE and GOVWATCH_KAFKA_SSL_KEYFILE")
        # One context built here (not kafka-python's ssl_* pieces), so hostname checking is explicit.
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
        if settings.kafka_ssl_certfile is not None:
            context.load_cert_chain(str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile))
        config["ssl_context"] = context
    else:
        set_files = [name for name, path in tls_files.items() if path is not None]
        if set_files:
            raise ConfigError(f"{', '.join(set_files)} set but GOVWATCH_KAFKA_SECURITY_PROTOCOL={protocol} uses no "
                              "TLS; set the protocol to SSL or SASL_SSL")
    if protocol.startswith("SASL_"):
        mechanism = (settings.kafka_sasl_mechanism or "").upper()
        if mechanism not in SASL_MECHANISMS:
            raise ConfigError(f"GOVWATCH_KAFKA_SECURITY_PROTOCOL={protocol} needs GOVWATCH_KAFKA_SASL_MECHANISM set to "
                              f"one of {', '.join(SASL_MECHANISMS)} (got {settings.kafka_sasl_mechanism!r})")
        if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
            raise ConfigError(f"SASL {mechanism} needs GOVWATCH_KAFKA_SASL_USERNAME and GOVWATCH_KAFKA_SASL_PASSWORD")
        config.update(sasl_mechanism=mechanism, sasl_plain_username=settings.kafka_sasl_username,
                      sasl_plain_password=settings.kafka_sasl_password.get_secret_value())
    elif settings.kafka_sasl_mechanism or settings.kafka_sasl_username:
        raise ConfigError(f"Kafka SASL settings are set but GOVWATCH_KAFKA_SECURITY_PROTOCOL={protocol}; set it to "
                          "SASL_SSL (or SASL_PLAINTEXT) or unset the SASL settings")
    return config


def client_config(conn: str | Settings) -> dict[str, Any]:
    """``bootstrap_servers`` plus the security arguments: what every Kafka client of govwatch is built with."""
    if isinstance(conn, str):
        return {"bootstrap_servers": conn}
    return {"bootstrap_servers": conn.kafka_bootstrap, **security_config(conn)}


def _bootstrap(conn: str | Settings) -> str:
    return conn if isinstance(conn, str) else conn.kafka_bootstrap


def _replication(conn: str | Settings) -> tuple[int, dict[str, str]]:
    """Replication factor and the matching min.insync.replicas (acks=all then survives one broker down)."""
    factor = 1 if isinstance(conn, str) else conn.kafka_replication_factor
    return factor, ({"min.insync.replicas": str(min(2, factor - 1))} if factor > 1 else {})


def broker_health(conn: str | Settings) -> str | None:
    """None when the broker answers metadata requests, else the reason."""
    try:
        admin = KafkaAdminClient(**client_config(conn), client_id=f"{CLIENT_ID}-health",
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


def admin_client(conn: str | Settings) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(**client_config(conn), client_id=f"{CLIENT_ID}-admin",
                                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    except KafkaTimeoutError as exc:
        raise StackError(
            f"no Kafka broker answers at {_bootstrap(conn)}; start the local stack with `govwatch stack up` "
            "or set GOVWATCH_KAFKA_BOOTSTRAP"
        ) from exc


def ensure_topics(conn: str | Settings, specs: Iterable[TopicSpec]) -> dict[str, str]:
    """Create missing topics with their documented config; existing ones are left as they are.

    The replication factor comes from the settings (1 for a bare bootstrap string). Returns topic name ->
    "created" | "exists" so `govwatch init` can say what it did.
    """
    factor, replication_config = _replication(conn)
    admin = admin_client(conn)
    try:
        existing = set(admin.list_topics())
        result: dict[str, str] = {}
        for spec in specs:
            if spec.name in existing:
                result[spec.name] = "exists"
                continue
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, factor,
                                              topic_configs={**spec.config, **replication_config})])
                result[spec.name] = "created"
            except TopicAlreadyExistsError:
                result[spec.name] = "exists"
        created = [name for name, state in result.items() if state == "created"]
        if created:
            admin.wait_for_topics(created, timeout_ms=30_000)
        return result
    finally:
        admin.close()


def make_producer(conn: str | Settings, **overrides: object) -> KafkaProducer:
    """An acks=all, idempotent producer (kafka-python 3 defaults, stated so nobody turns them off)."""
    config: dict[str, object] = {
        **client_config(conn),
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
        raise TransientError(f"no Kafka broker answers at {_bootstrap(conn)}; is `govwatch stack up` running?") from exc


def make_consumer(conn: str | Settings, group_id: str, topics: list[str], **overrides: object) -> KafkaConsumer:
    """A consumer-group member with manual commits: offsets move only when the loop says the work is done.

    ``group_instance_id`` (static membership, optional) lets a restarted process with the same id take its
    partitions back at once instead of after a rebalance: give each replica a stable id (a pod name).
    """
    if overrides.get("group_instance_id") is None:
        overrides.pop("group_instance_id", None)
    config: dict[str, object] = {
        **client_config(conn),
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
        raise TransientError(f"no Kafka broker answers at {_bootstrap(conn)}; is `govwatch stack up` running?") from exc
    if topics:
        consumer.subscribe(topics)
    return consumer


def group_lag(conn: str | Settings, group_id: str, topic: str) -> int:
    """Messages of ``topic`` the group has not committed yet (all of them when it never committed)."""
    from kafka import TopicPartition

    probe = KafkaConsumer(**client_config(conn), group_id=group_id, enable_auto_commit=False,
                          client_id=f"{CLIENT_ID}-lag", bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic) or [])]
        ends = probe.end_offsets(parts)
        return sum(max(0, ends[tp] - (probe.committed(tp) or 0)) for tp in parts)
    finally:
        probe.close(autocommit=False)
