"""The one consumer loop every stage runs on (retry, dead-letter and commit policy live here only).

    poll a batch -> handler(records) -> dead-letter the records it rejected -> commit the batch

* The handler produces or indexes its output and waits for the acknowledgement before it returns;
  only then are offsets committed, so a crash re-delivers at most the uncommitted batch, and the
  idempotent sinks (key/_id = story id) absorb the replay.
* **Membership stays alive while work takes time.** The handler runs in a worker thread; meanwhile this
  thread pauses the batch's partitions and keeps calling ``poll()`` (no records come back, heartbeats and
  rebalance callbacks do), so neither a slow batch (Slack pacing, ``Retry-After`` waits) nor a backoff wait
  can exceed ``max.poll.interval.ms`` and get the consumer evicted while it still works on its partitions.
* **A rebalance never splits a batch between two owners.** When partitions of the batch in flight are
  revoked, the revocation callback waits for the running attempt to end (heartbeats continue: the
  listener is kafka-python's async kind), commits it if it succeeded, and otherwise abandons it
  uncommitted for the new owner; the batch is never worked on by two members at once.
* ``PermanentError`` for one record (returned by the handler) sends that record to ``<topic>.dlq``
  with the reason and the original payload; the rest of the batch continues.
* Retries are bounded. A failed attempt (``TransientError``, a Kafka error, or an unexpected exception: a
  bug must not crash-loop the process) is retried with capped exponential backoff. Outages, that is an
  unreachable Elasticsearch or broker (:class:`~govwatch.errors.Unavailable`) and rate limits, are waited
  out without counting: they are nobody's record's fault and dead-lettering a whole backlog during an
  outage would lose it from the live flow. After ``MAX_BATCH_ATTEMPTS`` counted failures the batch is
  split and each record gets ``MAX_RECORD_ATTEMPTS`` of its own; a record that still fails is
  dead-lettered as :class:`RetriesExhausted` with the last reason (``govwatch dlq replay`` brings it back).
* SIGTERM/SIGINT set a flag: the running attempt gets ``STOP_GRACE_S`` to finish (then it is committed),
  otherwise the batch is abandoned uncommitted, and the consumer leaves its group cleanly.
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
from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from govwatch import metrics
from govwatch.errors import PermanentError, RateLimited, TransientError, Unavailable
from govwatch.log import get_logger
from govwatch.models import DeadLetter, utcnow

log = get_logger("govwatch.loop.consumer")

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
POLL_TIMEOUT_MS = 500
# While a batch is worked on or waits for its retry, poll (its partitions paused) this often: heartbeats and
# rebalance callbacks run inside poll(), and nothing is fetched for paused partitions.
WAIT_POLL_MS = 200
# Counted failures of a whole batch before its records are tried one by one: with the backoff above that is
# ~15 s of a failing dependency that is up (5xx, a bug), long enough to ride out a blip.
MAX_BATCH_ATTEMPTS = 5
MAX_RECORD_ATTEMPTS = 3  # counted failures of one record alone before it is dead-lettered with the reason
STOP_GRACE_S = 15.0  # on SIGTERM, how long the running attempt may still finish (and be committed)
REVOKE_WAIT_S = 120.0  # on a rebalance, how long we hold the group for the running attempt (< rebalance timeout)
COMMIT_ATTEMPTS = 8  # retriable commit errors (broker away) before giving up on committing one finished batch

# index in the batch -> the permanent error that rejects that record
Rejections = dict[int, PermanentError]
BatchHandler = Callable[[Sequence[Any]], Rejections]


class RetriesExhausted(PermanentError):
    """A record kept failing with errors that are not outages; dead-lettered with the last reason."""


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


def is_outage(exc: BaseException) -> bool:
    """An error that says a dependency is away or busy, not that this input is bad (waited out, not counted)."""
    if isinstance(exc, (Unavailable, RateLimited)):
        return True
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


def _tp(rec: Any) -> TopicPartition:
    return TopicPartition(rec.topic, rec.partition)


def _key(rec: Any) -> str | None:
    return rec.key.decode("utf-8", "replace") if isinstance(rec.key, bytes) else None


class _Attempt:
    """One run of the handler in a daemon thread (a daemon: a hung handler must not keep a stopping process)."""

    def __init__(self, handler: BatchHandler, records: Sequence[Any], name: str) -> None:
        self.result: Rejections | None = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(handler, records), name=name, daemon=True)
        self._thread.start()

    def _run(self, handler: BatchHandler, records: Sequence[Any]) -> None:
        try:
            self.result = handler(records)
        except BaseException as exc:  # noqa: BLE001 - every outcome is judged by the loop
            self.error = exc
        finally:
            self._done.set()

    def done(self) -> bool:
        return self._done.is_set()


@dataclass
class _Batch:
    records: list[Any]
    partitions: set[TopicPartition]
    attempt: _Attempt | None = None
    revoked: bool = False  # a rebalance took (some of) its partitions: stop working on it
    settled: bool = False  # finished (dead letters sent, offsets committed) by the revocation callback


class _Loop:
    def __init__(self, consumer: KafkaConsumer, handler: BatchHandler, producer: KafkaProducer, stage: str,
                 stop: StopFlag, stats: LoopStats) -> None:
        self.consumer, self.handler, self.producer = consumer, handler, producer
        self.stage, self.stop, self.stats = stage, stop, stats
        self.batch: _Batch | None = None
        self.carry: list[Any] = []  # records a wait-poll returned for newly assigned partitions: next batch
        self._pending_rewind: dict[TopicPartition, int] = {}  # partition -> offset to seek back to
        self._listener = _Listener(self)
        topics = consumer.subscription()
        if topics:  # re-subscribing with the same topics only installs the listener
            consumer.subscribe(topics=sorted(topics), listener=self._listener)

    # --- the loop ------------------------------------------------------------------------------------

    def run(self, max_batches: int | None) -> LoopStats:
        delay = BACKOFF_START_S
        while not self.stop.is_set() and (max_batches is None or self.stats.batches < max_batches):
            # Partitions are paused only while a batch is in flight; a pause that outlived one (a rebalance
            # callback racing the end of the batch) would stop a partition for good, silently.
            stale = self.consumer.paused()
            if stale:
                self.consumer.resume(*stale)
            if self.carry:
                records, self.carry = self.carry, []
            else:
                try:
                    polled = self.consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                except KafkaError as exc:
                    if not getattr(exc, "retriable", False):
                        raise
                    log.warning("poll_retry", stage=self.stage, error=f"{type(exc).__name__}: {exc}"[:200],
                                wait_s=delay)
                    self.stop.wait(delay)
                    delay = min(delay * 2, BACKOFF_MAX_S)
                    continue
                delay = BACKOFF_START_S
                self._apply_rewinds()
                records = [rec for part in polled.values() for rec in part]
            if records:
                self._process(records)
        return self.stats

    def _process(self, records: list[Any]) -> None:
        started = time.monotonic()
        batch = self.batch = _Batch(records, {_tp(r) for r in records})
        self._pause_all()
        try:
            rejections = self._attempts(batch)
            if batch.settled:
                return
            if rejections is None:
                log.info("batch_abandoned", stage=self.stage, size=len(records),
                         reason="rebalanced" if batch.revoked else "stopping")
                self._rewind(records)
                return
            self._finish(batch, rejections, started)
        finally:
            self.batch = None
            paused = self.consumer.paused()
            if paused:
                self.consumer.resume(*paused)

    def _pause_all(self) -> None:
        """Nothing new is fetched while a batch is in flight (new assignments included)."""
        assigned = self.consumer.assignment()
        if assigned:
            self.consumer.pause(*assigned)

    def _rewind(self, records: Sequence[Any]) -> None:
        """Records we read but did not finish go back: kafka-python keeps a partition's position when a
        rebalance gives it back to the same member, so without this they would be skipped (lost to this stage)."""
        self._remember_rewind(records)
        self._apply_rewinds()

    def _remember_rewind(self, records: Sequence[Any]) -> None:
        for tp, offset in _first_offsets(records).items():
            self._pending_rewind[tp] = min(offset, self._pending_rewind.get(tp, offset))

    def drop_carry(self, partitions: set[TopicPartition]) -> None:
        """Carried records of partitions we lost are dropped, and read again if the partitions come back."""
        self._remember_rewind([rec for rec in self.carry if _tp(rec) in partitions])
        self.carry = [rec for rec in self.carry if _tp(rec) not in partitions]

    def _apply_rewinds(self) -> None:
        if not self._pending_rewind:
            return
        assigned = self.consumer.assignment()
        for tp, offset in self._pending_rewind.items():
            if tp in assigned:  # partitions that went elsewhere restart from their commit at the new owner
                self.consumer.seek(tp, offset)
                log.info("rewound", stage=self.stage, topic=tp.topic, partition=tp.partition, offset=offset)
        self._pending_rewind.clear()

    def _attempts(self, batch: _Batch) -> Rejections | None:
        """Run the handler until it succeeds; None when the batch was abandoned (stop or rebalance)."""
        failures, delay, attempt_no = 0, BACKOFF_START_S, 0
        while True:
            attempt_no += 1
            outcome = self._run_attempt(batch, batch.records)
            if outcome is None:
                return None
            if not isinstance(outcome, BaseException):
                return outcome
            counted = not is_outage(outcome)
            failures += counted
            if failures >= MAX_BATCH_ATTEMPTS:
                return self._one_by_one(batch) if len(batch.records) > 1 else self._give_up(outcome, failures)
            wait = max(delay, getattr(outcome, "retry_after", None) or 0)
            metrics.batch_retry(self.stage, outage=not counted)
            log.warning("batch_retry", stage=self.stage, attempt=attempt_no, counted_failures=failures,
                        outage=not counted, wait_s=wait, error=f"{type(outcome).__name__}: {outcome}"[:300],
                        first_offset=batch.records[0].offset, partition=batch.records[0].partition)
            if not self._wait(batch, wait):
                return None
            delay = min(delay * 2, BACKOFF_MAX_S)

    def _one_by_one(self, batch: _Batch) -> Rejections | None:
        """The batch keeps failing: find the records at fault, each with its own bounded attempts."""
        log.warning("batch_split", stage=self.stage, size=len(batch.records))
        rejected: Rejections = {}
        for index, rec in enumerate(batch.records):
            failures, delay = 0, BACKOFF_START_S
            while True:
                outcome = self._run_attempt(batch, [rec])
                if outcome is None:
                    return None
                if not isinstance(outcome, BaseException):
                    if 0 in outcome:
                        rejected[index] = outcome[0]
                    break
                failures += not is_outage(outcome)
                if failures >= MAX_RECORD_ATTEMPTS:
                    rejected[index] = self._give_up(outcome, failures)[0]
                    break
                if not self._wait(batch, delay):
                    return None
                delay = min(delay * 2, BACKOFF_MAX_S)
        return rejected

    @staticmethod
    def _give_up(error: BaseException, failures: int) -> Rejections:
        return {0: RetriesExhausted(f"gave up after {failures} failed attempts: {type(error).__name__}: {error}")}

    def _run_attempt(self, batch: _Batch, records: Sequence[Any]) -> Rejections | BaseException | None:
        """Rejections, the attempt's exception, or None when the batch was abandoned meanwhile."""
        attempt = batch.attempt = _Attempt(self.handler, records, f"{self.stage}-handler")
        stop_deadline: float | None = None
        while not attempt.done():
            self._poll_paused()
            if batch.revoked or batch.settled:
                return None
            if self.stop.is_set():
                stop_deadline = stop_deadline or time.monotonic() + STOP_GRACE_S
                if time.monotonic() >= stop_deadline:
                    return None
        if batch.revoked or batch.settled:
            return None
        return attempt.error if attempt.error is not None else (attempt.result or {})

    def _wait(self, batch: _Batch, seconds: float) -> bool:
        """Back off for ``seconds`` while keeping the membership alive; False when the batch must be dropped."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.stop.is_set() or batch.revoked:
                return False
            self._poll_paused(min(WAIT_POLL_MS, max(1, int((deadline - time.monotonic()) * 1000))))
        return not (self.stop.is_set() or batch.revoked)

    def _poll_paused(self, timeout_ms: int = WAIT_POLL_MS) -> None:
        try:
            polled = self.consumer.poll(timeout_ms=timeout_ms)
        except KafkaError as exc:  # the broker is away: the batch goes on; membership is re-established later
            if not getattr(exc, "retriable", False):
                raise
            log.warning("poll_retry", stage=self.stage, error=f"{type(exc).__name__}: {exc}"[:200])
            self.stop.wait(timeout_ms / 1000)
            return
        self._apply_rewinds()
        # Records can only come from partitions a rebalance assigned during the wait: keep them, in order, for
        # the next batch, and pause those partitions too.
        self.carry.extend(rec for part in polled.values() for rec in part)
        self._pause_all()

    # --- finishing a batch ---------------------------------------------------------------------------

    def _finish(self, batch: _Batch, rejections: Rejections, started: float) -> None:
        self._dead_letter_all(batch, rejections)
        committed = self._commit(batch.records)
        self._count(batch, rejections, committed, started)

    def _dead_letter_all(self, batch: _Batch, rejections: Rejections) -> None:
        for index, error in sorted(rejections.items()):
            rec = batch.records[index]
            self._until_done(lambda rec=rec, error=error: dead_letter(self.producer, self.stage, rec, error),
                             "dead letter")
            self.stats.counts["dead_lettered"] += 1
            metrics.dead_lettered(self.stage, type(error).__name__)
            log.warning("dead_lettered", stage=self.stage, topic=rec.topic, partition=rec.partition,
                        offset=rec.offset, story_id=_key(rec), error_type=type(error).__name__,
                        reason=str(error)[:300])

    def _count(self, batch: _Batch, rejections: Rejections, committed: bool, started: float) -> None:
        self.stats.batches += 1
        self.stats.counts["processed"] += len(batch.records) - len(rejections)
        metrics.batch_done(self.stage, len(batch.records) - len(rejections), len(rejections),
                           time.monotonic() - started)
        metrics.record_lag(self.stage, self.consumer, batch.records)
        log.info("batch_done", stage=self.stage, size=len(batch.records), rejected=len(rejections),
                 committed=committed, elapsed_ms=round((time.monotonic() - started) * 1000, 1))

    def _until_done(self, action: Callable[[], None], what: str) -> None:
        """Dead letters must not be dropped: a broker outage is waited out (the batch stays uncommitted)."""
        delay = BACKOFF_START_S
        while True:
            try:
                action()
                return
            except KafkaError as exc:
                log.warning("retrying", stage=self.stage, what=what, error=f"{type(exc).__name__}: {exc}"[:200],
                            wait_s=delay)
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def _commit(self, records: Sequence[Any]) -> bool:
        """Commit the batch; False when it could not be (the work is done: a re-delivery is absorbed by the sinks)."""
        delay = BACKOFF_START_S
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                self.consumer.commit(_offsets(records))
                return True
            except CommitFailedError:
                # The group rebalanced before we could commit: the new owner re-processes; sinks are idempotent.
                log.warning("commit_failed_rebalanced", stage=self.stage, size=len(records))
                return False
            except KafkaError as exc:
                if not getattr(exc, "retriable", False) or attempt == COMMIT_ATTEMPTS:
                    log.warning("commit_failed", stage=self.stage, size=len(records),
                                error=f"{type(exc).__name__}: {exc}"[:200])
                    return False
                log.warning("commit_retry", stage=self.stage, error=f"{type(exc).__name__}: {exc}"[:200],
                            wait_s=delay)
                self.stop.wait(delay)
                delay = min(delay * 2, 5.0)
        return False

    # --- rebalance (called from inside poll(), on this thread) ----------------------------------------

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        """Runs on kafka-python's IO thread while this thread is blocked in poll(): the state is ours alone."""
        self.drop_carry(partitions)
        batch = self.batch
        if batch is None or not (batch.partitions & set(partitions)) or batch.settled:
            return
        self.stats.counts["revoked_in_flight"] += 1
        coordinator = getattr(self.consumer, "_coordinator", None)
        net = getattr(coordinator, "_net", None)
        commit = getattr(coordinator, "_commit_offsets_sync_async", None)
        attempt = batch.attempt
        if net is None or commit is None:  # a kafka-python without the async internals we wait with
            log.warning("batch_abandoned_on_revoke", stage=self.stage, reason="no async wait available")
            batch.revoked = True
            return
        started = time.monotonic()
        while attempt is not None and not attempt.done() and time.monotonic() - started < REVOKE_WAIT_S:
            await net.sleep(0.05)  # yields to kafka-python's loop: heartbeats go on while the batch finishes
        if attempt is None or not attempt.done() or attempt.error is not None:
            batch.revoked = True  # not done (or failed): the new owner takes it from the last commit
            return
        # The work is done: commit it while we still own the partitions, so the new owner starts after it.
        rejections = attempt.result or {}
        self._dead_letter_all(batch, rejections)
        try:
            await commit(_offsets(batch.records))
            committed = True
        except KafkaError as exc:
            log.warning("commit_failed_on_revoke", stage=self.stage, error=f"{type(exc).__name__}: {exc}"[:200])
            committed = False
        batch.settled = True
        self._count(batch, rejections, committed, started)
        log.info("batch_committed_on_revoke", stage=self.stage, size=len(batch.records), committed=committed)


def _first_offsets(records: Sequence[Any]) -> dict[TopicPartition, int]:
    first: dict[TopicPartition, int] = {}
    for rec in records:
        tp = _tp(rec)
        first[tp] = min(rec.offset, first.get(tp, rec.offset))
    return first


def _offsets(records: Sequence[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
    for rec in records:
        tp = _tp(rec)
        if tp not in offsets or offsets[tp].offset <= rec.offset:
            offsets[tp] = OffsetAndMetadata(rec.offset + 1, "", -1)
    return offsets


class _Listener(AsyncConsumerRebalanceListener):
    """Async, so kafka-python keeps heartbeating while a revocation waits for the batch in flight."""

    def __init__(self, loop: _Loop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._loop.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions_assigned", stage=self._loop.stage, count=len(assigned),
                 partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))
        if self._loop.batch is not None and assigned:  # nothing new is fetched until the batch in flight is done
            self._loop.consumer.pause(*assigned)

    async def on_partitions_lost(self, lost: set[TopicPartition]) -> None:
        batch = self._loop.batch
        self._loop.drop_carry(set(lost))
        if batch is not None and batch.partitions & set(lost):
            batch.revoked = True  # the group already moved on: nothing of this batch may be committed


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
    return _Loop(consumer, handler, producer, stage, stop, stats or LoopStats()).run(max_batches)


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


def _connect(stage: str, stop: StopFlag, make: Callable[[], Any]) -> Any:  # noqa: ANN401 - a Kafka client
    """A Kafka client, waiting for the broker if it is away at start (a restart during an outage must not crash
    loop); None when asked to stop while waiting."""
    delay = BACKOFF_START_S
    while not stop.is_set():
        try:
            return make()
        except (TransientError, KafkaError) as exc:
            if isinstance(exc, KafkaError) and not getattr(exc, "retriable", False):
                raise
            log.warning("waiting_for_kafka", stage=stage, error=f"{type(exc).__name__}: {exc}"[:200], wait_s=delay)
            stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
    return None


def run_consumer(stage: str, input_topic: str, build: Callable[[Any, KafkaProducer], BatchHandler],
                 max_poll_records: int) -> int:
    """The ``main()`` of every consumer process: settings, logging, signals, clients, the loop, a clean exit.

    ``build(settings, producer)`` returns the stage's batch handler; if it has a ``close()`` it is called
    at exit. The consumer group is ``<topic prefix>.<stage>``.
    """
    from govwatch.adapters import kafka_io
    from govwatch.log import configure_logging
    from govwatch.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = StopFlag()
    stop.install_signal_handlers()
    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_port, settings.metrics_host)
    producer = _connect(stage, stop, lambda: kafka_io.make_producer(settings))
    if producer is None:
        return 0
    handler = build(settings, producer)  # before joining the group: a slow start must not hold partitions
    consumer = _connect(stage, stop, lambda: kafka_io.make_consumer(
        settings, f"{settings.topic_prefix}.{stage}", [settings.topic(input_topic)],
        max_poll_records=max_poll_records, group_instance_id=settings.consumer_instance_id(stage)))
    if consumer is None:
        producer.close()
        return 0
    try:
        run_loop(consumer, handler, producer, stage, stop)
    finally:
        consumer.close(autocommit=False)
        producer.close()
        close = getattr(handler, "close", None)
        if close is not None:
            close()
    return 0
