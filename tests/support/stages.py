"""Running the real consumer stages in-process (threads) or as real subprocesses, for integration tests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from govwatch.adapters import es_io, kafka_io
from govwatch.adapters.fetch import Fetcher
from govwatch.adapters.kafka_topics import ALERTS, ENRICHED, INDEXED, RAW
from govwatch.enrich.clusters import ClusterIndex
from govwatch.enrich.pipeline import Knowledge
from govwatch.loop.batch import LoopStats
from govwatch.loop.batch_loop import run_loop
from govwatch.loop.stop import StopFlag
from govwatch.settings import Settings
from govwatch.stages.enricher import EnrichStage
from govwatch.stages.indexer import IndexStage
from govwatch_dev.demo import child_env

REPO = Path(__file__).resolve().parents[2]
_KNOWLEDGE: Knowledge | None = None


def knowledge(settings: Settings) -> Knowledge:
    global _KNOWLEDGE
    if _KNOWLEDGE is None:
        _KNOWLEDGE = Knowledge.load(settings.relevance_threshold)
    return _KNOWLEDGE


def enrich_handler(settings: Settings, producer):  # noqa: ANN001, ANN201
    return EnrichStage(Fetcher(settings), ClusterIndex(es_io.make_client(settings.es_url), settings.index_prefix),
                       knowledge(settings), producer, settings.topic(ENRICHED), workers=4)


def index_handler(settings: Settings, producer):  # noqa: ANN001, ANN201
    return IndexStage(es_io.make_client(settings.es_url), producer, settings.index_prefix, settings.topic(INDEXED))


STAGES = {"enrich": (RAW, enrich_handler), "index": (ENRICHED, index_handler)}


def run_stage_until(settings: Settings, stage: str, done: Callable[[], bool], timeout_s: float = 60.0,
                    group: str | None = None) -> LoopStats:
    """Run one stage's real loop in a thread until ``done()`` is true; returns its counters."""
    topic, make = STAGES[stage]
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, group or f"{settings.topic_prefix}.{stage}",
                                      [settings.topic(topic)])
    stop, stats = StopFlag(), LoopStats()
    thread = threading.Thread(target=run_loop, args=(consumer, make(settings, producer), producer, stage, stop, stats))
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, f"{stage} stage did not finish within {timeout_s}s: {stats}"
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
        consumer.close(autocommit=False)
        producer.close()
    return stats


def consumer_process(settings: Settings, name: str, log_path: Path) -> subprocess.Popen:
    """Start ``consumers/<name>.py`` as a real process with the test's settings in its environment."""
    env = child_env(settings, {})
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the process' lifetime
    return subprocess.Popen([sys.executable, str(REPO / "consumers" / f"{name}.py")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=REPO)


@contextmanager
def notify_loop(settings: Settings, stage: Any, group: str,  # noqa: ANN401 - a NotifyStage
                **consumer_options: Any) -> Iterator[Callable[[], None]]:  # noqa: ANN401
    """The real consumer loop over the alerts topic in a thread; yields a check that fails if it crashed."""
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, group, [settings.topic(ALERTS)], **consumer_options)
    stop, errors = StopFlag(), []

    def run() -> None:
        try:
            run_loop(consumer, stage, producer, "notify", stop, LoopStats())
        except BaseException as exc:  # noqa: BLE001 - reported by check() in the test's thread
            errors.append(exc)

    def check() -> None:
        assert not errors, f"the notify loop crashed: {errors[0]!r}"

    thread = threading.Thread(target=run, name="notify-loop")
    thread.start()
    try:
        yield check
    finally:
        stop.set()
        thread.join(timeout=60)
        consumer.close(autocommit=False)
        producer.close()
