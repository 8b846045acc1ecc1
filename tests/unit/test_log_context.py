"""Context bound once is on every log line: the loop's batch fields and a stage's record fields reach each line
logged meanwhile without being passed, in every output format, and are gone once the batch or record is done."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from kafka import TopicPartition
from structlog.contextvars import bound_contextvars, get_contextvars

from govwatch.log import configure_logging, get_logger
from govwatch.loop.batch_loop import run_loop
from govwatch.loop.stop import StopFlag
from govwatch.models import Alert, Trace
from govwatch.stages.notifier import NotifyStage

TP = TopicPartition("unit.alerts", 2)


@pytest.fixture(autouse=True)
def _logging_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test configures logging to its captured stderr; the defaults come back after it."""
    monkeypatch.setattr(logging, "basicConfig", lambda **_: None)  # the root handler stays pytest's
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _json_logging(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """JSON logging to the test's captured stderr; returns a reader of the lines logged so far."""
    configure_logging("INFO", "json")

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]

    return read


def _record(offset: int, value: bytes = b"{}") -> SimpleNamespace:
    return SimpleNamespace(topic=TP.topic, partition=TP.partition, offset=offset, key=b"k", value=value)


class _Consumer:
    """Just enough of a KafkaConsumer for one batch: one poll returns the records, commits are kept."""

    def __init__(self, records: list[SimpleNamespace]) -> None:
        self.records = records
        self.committed: list[dict[TopicPartition, Any]] = []

    def subscription(self) -> set[str]:
        return set()

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def paused(self) -> set[TopicPartition]:
        return set()

    def pause(self, *_: TopicPartition) -> None: ...

    def resume(self, *_: TopicPartition) -> None: ...

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[SimpleNamespace]]:
        records, self.records = self.records, []
        return {TP: records} if records else {}

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.committed.append(offsets)

    def highwater(self, _: TopicPartition) -> int | None:
        return None


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_bound_fields_reach_every_format_without_being_passed(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", fmt)
    log = get_logger("unit")
    with bound_contextvars(stage="enrich"):
        with bound_contextvars(story_id="s" * 64, partition=3, offset=41):
            log.info("enriched", status="ok")
        log.info("batch_done", size=1)
    log.info("after")
    lines = capsys.readouterr().err.splitlines()
    enriched, done, after = lines
    for field in ("stage", "enrich", "story_id", "s" * 64, "partition", "3", "offset", "41", "status"):
        assert field in enriched
    assert "stage" in done and "story_id" not in done and "offset" not in done
    assert "stage" not in after
    if fmt == "json":
        assert json.loads(enriched) | {"timestamp": None} == {
            "event": "enriched", "status": "ok", "stage": "enrich", "story_id": "s" * 64, "partition": 3,
            "offset": 41, "level": "info", "logger_name": "unit", "timestamp": None}


def test_a_field_passed_on_the_call_wins_over_a_bound_one(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = _json_logging(capsys)
    with bound_contextvars(stage="alert"):
        get_logger("unit").warning("subscription_flagged", stage="search")
    (line,) = json_lines()
    assert line["stage"] == "search"


def test_the_loop_binds_its_stage_once_per_batch_and_clears_it(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = _json_logging(capsys)
    consumer = _Consumer([_record(7), _record(8)])
    stats = run_loop(consumer, lambda records: {}, producer=None, stage="unit-stage",
                     stop=StopFlag(), max_batches=1)
    assert stats.batches == 1 and consumer.committed
    (done,) = [line for line in json_lines() if line["event"] == "batch_done"]
    assert done["stage"] == "unit-stage" and done["size"] == 2 and done["committed"] is True
    assert get_contextvars() == {}  # cleared after the batch


def test_the_handler_thread_does_not_inherit_the_loop_context(capsys: pytest.CaptureFixture[str]) -> None:
    """Stage lines keep their own fields: the batch context lives on the loop's thread only."""
    json_lines = _json_logging(capsys)
    seen: list[dict[str, Any]] = []

    def handler(records: Sequence[Any]) -> dict[int, Any]:
        seen.append(get_contextvars())
        get_logger("unit").info("handled", records=len(records))
        return {}

    run_loop(_Consumer([_record(1)]), handler, producer=None, stage="unit-stage",
             stop=StopFlag(), max_batches=1)
    assert seen == [{}]
    lines = {line["event"]: line for line in json_lines()}
    assert "stage" not in lines["handled"] and lines["batch_done"]["stage"] == "unit-stage"


class _DeliveredLedger:
    def get(self, alert_id: str) -> dict[str, Any]:
        return {"status": "delivered"}


def test_the_notify_stage_binds_each_alerts_record_context(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = _json_logging(capsys)
    alert = Alert(alert_id="a" * 64, subscription_id="sub-1", subscription_name="EU", story_id="b" * 64,
                  cluster_id="c-1", title="t", url="https://news.example.org/1", source="s", snippet="",
                  trace=Trace(first_seen_at=datetime(2025, 8, 1, tzinfo=UTC)))
    stage = NotifyStage(store=None, ledger=_DeliveredLedger(), sender=None, api_base="",  # type: ignore[arg-type]
                        parallel=1)
    assert stage([_record(9, alert.to_bytes())]) == {}
    (skipped,) = json_lines()
    assert skipped["event"] == "notify_skipped" and skipped["reason"] == "already delivered"
    assert {k: skipped[k] for k in ("alert_id", "subscription", "story_id", "partition", "offset")} == {
        "alert_id": "a" * 16, "subscription": "sub-1", "story_id": "b" * 64, "partition": 2, "offset": 9}
    assert get_contextvars() == {}


def test_log_lines_go_to_the_stderr_of_the_moment_not_of_the_configuration(monkeypatch) -> None:  # noqa: ANN001
    """Logging configured while stderr was one stream (pytest's capture around an in-process main()) keeps working
    after that stream is closed and stderr replaced: lines go to the current stderr."""
    from govwatch.log import configure_logging, get_logger

    saved = structlog.get_config()
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    try:
        configure_logging("INFO", "json")
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        get_logger("govwatch.test").info("after_the_swap")
    finally:
        structlog.configure(**saved)
    assert "after_the_swap" in second.getvalue()
