"""The one consumer loop every stage runs on (retry, dead-letter and commit policy live here only).

    poll a batch -> handler(records) -> dead-letter the records it rejected -> commit the batch

* The handler produces or indexes its output and waits for the acknowledgement before it returns;
  only then are offsets committed, so a crash re-delivers at most the uncommitted batch, and the
  idempotent sinks (key/_id = story id) absorb the replay.
* ``PermanentError`` for one record (returned by the handler) sends that record to ``<topic>.dlq``
  with the reason and the original payload; the rest of the batch continues.
* ``TransientError`` raised by the handler retries the whole batch with capped exponential backoff,
  without committing, until it succeeds or the process is asked to stop.
* SIGTERM/SIGINT set a flag: the current batch is finished (or abandoned uncommitted while it is
  retrying) and the consumer leaves its group cleanly.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from govwatch.errors import PermanentError, TransientError
from govwatch.log import get_logger
from govwatch.models import DeadLetter, utcnow

log = get_logger("govwatch.consumer")

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
POLL_TIMEOUT_MS = 500

# index in the batch -> the permanent error that rejects that record
Rejections = dict[int, PermanentError]
BatchHandler = Callable[[Sequence[Any]], Rejections]


@dataclass
class LoopStats:
    """Counters per outcome, readable by tests and benchmarks."""

    counts: Counter = field(default_factory=Counter)
    batches: int = 0


class StopFlag:
    """Set by SIGTERM/SIGINT (or by a test) to end the loop after the current batch."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self, *_: object) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.set)
        signal.signal(signal.SIGINT, self.set)


def dead_letter(producer: KafkaProducer, stage: str, record: Any, error: Exception) -> None:
    """Send one record to ``<topic>.dlq`` with its reason and original payload; waits for the ack."""
    value = record.value if isinstance(record.value, bytes) else bytes(record.value or b"")
    key = record.key.decode("utf-8", "replace") if isinstance(record.key, bytes) else record.key
    letter = DeadLetter(
        stage=stage, reason=str(error)[:2000], error_type=type(error).__name__, topic=record.topic,
        partition=record.partition, offset=record.offset, key=key, payload=value.decode("utf-8", "replace"),
        story_id=key if key and len(key) == 64 else None, failed_at=utcnow(),
    )
    producer.send(f"{record.topic}.dlq", key=record.key, value=letter.to_bytes()).get(timeout=30)


def _commit(consumer: KafkaConsumer, records: Sequence[Any]) -> bool:
    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
    for rec in records:
        tp = TopicPartition(rec.topic, rec.partition)
        if tp not in offsets or offsets[tp].offset <= rec.offset:
            offsets[tp] = OffsetAndMetadata(rec.offset + 1, "", -1)
    try:
        consumer.commit(offsets)
        return True
    except CommitFailedError:
        # The group rebalanced while we worked: the new owner re-processes; sinks are idempotent.
        log.warning("commit_failed_rebalanced", partitions=len(offsets))
        return False


def run_loop(
    consumer: KafkaConsumer,
    handler: BatchHandler,
    producer: KafkaProducer,
    stage: str,
    stop: StopFlag,
    stats: LoopStats | None = None,
    max_batches: int | None = None,
) -> LoopStats:
    """Run ``handler`` over batches until ``stop`` is set (or ``max_batches`` batches are done)."""
    stats = stats or LoopStats()
    while not stop.is_set() and (max_batches is None or stats.batches < max_batches):
        polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
        records = [rec for part in polled.values() for rec in part]
        if not records:
            continue
        started = time.monotonic()
        rejections = _handle_with_retry(handler, records, stop, stage)
        if rejections is None:  # asked to stop while retrying: leave the batch uncommitted
            log.info("batch_abandoned", stage=stage, size=len(records))
            break
        for index, error in sorted(rejections.items()):
            rec = records[index]
            dead_letter(producer, stage, rec, error)
            stats.counts["dead_lettered"] += 1
            log.warning("dead_lettered", stage=stage, topic=rec.topic, partition=rec.partition,
                        offset=rec.offset, story_id=_key(rec), reason=str(error)[:300])
        committed = _commit(consumer, records)
        stats.batches += 1
        stats.counts["processed"] += len(records) - len(rejections)
        log.info("batch_done", stage=stage, size=len(records), rejected=len(rejections), committed=committed,
                 elapsed_ms=round((time.monotonic() - started) * 1000, 1))
    return stats


def _handle_with_retry(handler: BatchHandler, records: list[Any], stop: StopFlag, stage: str) -> Rejections | None:
    delay = BACKOFF_START_S
    attempt = 0
    while True:
        attempt += 1
        try:
            return handler(records)
        except (TransientError, KafkaError) as exc:
            wait = max(delay, getattr(exc, "retry_after", None) or 0)
            log.warning("batch_retry", stage=stage, attempt=attempt, wait_s=wait, error=str(exc)[:300],
                        first_offset=records[0].offset, partition=records[0].partition)
            if stop.wait(wait):
                return None
            delay = min(delay * 2, BACKOFF_MAX_S)


def _key(rec: Any) -> str | None:
    return rec.key.decode("utf-8", "replace") if isinstance(rec.key, bytes) else None


def each_record(fn: Callable[[Any], None]) -> BatchHandler:
    """Adapt a per-record function to a batch handler: PermanentError rejects only that record."""

    def handle(records: Sequence[Any]) -> Rejections:
        rejected: Rejections = {}
        for index, rec in enumerate(records):
            try:
                fn(rec)
            except PermanentError as exc:
                rejected[index] = exc
        return rejected

    return handle


def run_consumer(stage: str, input_topic: str, build: Callable[[Any, KafkaProducer], BatchHandler],
                 max_poll_records: int) -> int:
    """The ``main()`` of every consumer process: settings, logging, signals, clients, the loop, a clean exit.

    ``build(settings, producer)`` returns the stage's batch handler; if it has a ``close()`` it is called
    at exit. The consumer group is ``<topic prefix>.<stage>``.
    """
    from govwatch import kafka_io
    from govwatch.log import configure_logging
    from govwatch.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = StopFlag()
    stop.install_signal_handlers()
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, f"{settings.topic_prefix}.{stage}",
                                      [settings.topic(input_topic)], max_poll_records=max_poll_records)
    handler = build(settings, producer)
    try:
        run_loop(consumer, handler, producer, stage, stop)
    finally:
        consumer.close(autocommit=False)
        producer.close()
        close = getattr(handler, "close", None)
        if close is not None:
            close()
    return 0
