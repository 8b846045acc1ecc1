"""govwatch.metrics: counters per stage, lag per partition, the /metrics endpoint and its health check."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx
import pytest
from kafka import TopicPartition
from prometheus_client import REGISTRY

from govwatch import metrics
from govwatch.errors import ConfigError


@dataclass
class _Rec:
    topic: str
    partition: int
    offset: int


class _FakeConsumer:
    """Only what record_lag reads: the log end per partition as the last fetch reported it."""

    def __init__(self, ends: dict[TopicPartition, int | None]) -> None:
        self.ends = ends

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends.get(tp)


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_batch_counters_by_stage() -> None:
    """A batch adds its processed and rejected records and one latency observation to its stage's series."""
    before = (_value("govwatch_stories_processed_total", stage="unit-a"),
              _value("govwatch_stories_failed_total", stage="unit-a"),
              _value("govwatch_batch_duration_seconds_count", stage="unit-a"))
    metrics.batch_done("unit-a", processed=7, rejected=2, seconds=0.3)
    metrics.dead_lettered("unit-a", "InvalidMessage")
    metrics.batch_retry("unit-a", outage=True)
    assert _value("govwatch_stories_processed_total", stage="unit-a") == before[0] + 7
    assert _value("govwatch_stories_failed_total", stage="unit-a") == before[1] + 2
    assert _value("govwatch_batch_duration_seconds_count", stage="unit-a") == before[2] + 1
    assert _value("govwatch_dead_letters_total", stage="unit-a", error_type="InvalidMessage") >= 1
    assert _value("govwatch_batch_retries_total", stage="unit-a", kind="outage") >= 1


def test_lag_is_log_end_minus_next_offset() -> None:
    """Lag per partition is the known log end minus the offset after the batch's last record; unknown ends are
    skipped."""
    consumer = _FakeConsumer({TopicPartition("t.raw", 0): 120, TopicPartition("t.raw", 1): None})
    metrics.record_lag("unit-lag", consumer, [_Rec("t.raw", 0, 99), _Rec("t.raw", 0, 100), _Rec("t.raw", 1, 5)])
    assert _value("govwatch_consumer_lag", stage="unit-lag", topic="t.raw", partition="0") == 19
    assert REGISTRY.get_sample_value("govwatch_consumer_lag",
                                     {"stage": "unit-lag", "topic": "t.raw", "partition": "1"}) is None


def test_endpoint_serves_and_health_check_passes() -> None:
    """serve() exposes the series over HTTP and `python -m govwatch.metrics check URL` exits 0 against it, 1 without
    it."""
    port = _free_port()
    metrics.serve(port)
    metrics.slack_delivery("delivered")
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'govwatch_slack_deliveries_total{outcome="delivered"}' in body
    assert metrics.main(["check", f"http://127.0.0.1:{port}/metrics"]) == 0
    assert metrics.main(["check", f"http://127.0.0.1:{_free_port()}/metrics"]) == 1


def test_taken_port_names_the_setting() -> None:
    """A metrics port already in use is a ConfigError naming GOVWATCH_METRICS_PORT."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ConfigError, match="GOVWATCH_METRICS_PORT"):
            metrics.serve(busy.getsockname()[1])


def test_check_without_a_port_says_what_to_set(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """With no GOVWATCH_METRICS_PORT and no URL the health check fails and names the setting."""
    monkeypatch.delenv("GOVWATCH_METRICS_PORT", raising=False)
    monkeypatch.chdir("/")
    assert metrics.main(["check"]) == 1
    assert "GOVWATCH_METRICS_PORT" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
