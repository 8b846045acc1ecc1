"""The one consumer loop every stage runs on (retry, dead-letter and commit policy live here only).

    poll a batch -> handler(records) -> dead-letter the records it rejected -> commit the batch

* The handler produces or indexes its output and waits for the acknowledgement before it returns;
  only then are offsets committed, so a crash re-delivers at most the uncommitted batch, and the
  idempotent sinks (key/_id = story id) absorb the replay.
* **Membership stays alive while work takes time.** The handler runs in a worker thread; meanwhile this
  thread pauses the batch's partitions and keeps calling ``poll()`` (no records come back, heartbeats and
  rebalance callbacks do), so neither a slow batch (Slack pacing, ``Retry-After`` waits) nor a backoff wait
  can exceed ``max.poll.interval.ms`` and get the consumer evicted while it still works on its partitions.
* **A rebalance never splits a batch between two owners** (govwatch.loop.rebalance).
* ``PermanentError`` for one record (returned by the handler) sends that record to ``<topic>.dlq``
  with the reason and the original payload (govwatch.adapters.dead_letters); the rest of the batch continues.
* Retries are bounded (govwatch.loop.policy). A failed attempt (``TransientError``, a Kafka error, or an
  unexpected exception: a bug must not crash-loop the process) is retried with capped exponential backoff;
  outages are waited out without counting. After ``MAX_BATCH_ATTEMPTS`` counted failures the batch is
  split and each record gets ``MAX_RECORD_ATTEMPTS`` of its own; a record that still fails is
  dead-lettered as ``RetriesExhausted`` with the last reason (``govwatch dlq replay`` brings it back).
* SIGTERM/SIGINT set a flag: the running attempt gets ``STOP_GRACE_S`` to finish (then it is committed),
  otherwise the batch is abandoned uncommitted, and the consumer leaves its group cleanly.
* The batch's log context (``stage``) is bound once per batch on the loop's thread and cleared after it; the
  handler's thread starts with its own, empty context.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from structlog.contextvars import bound_contextvars

from govwatch import metrics
from govwatch.adapters.dead_letters import dead_letter
from govwatch.log import get_logger
from govwatch.loop.batch import (
    Attempt,
    Batch,
    LoopStats,
    commit_offsets,
    first_offsets,
    record_key,
    topic_partition,
)
from govwatch.loop.policy import (
    BACKOFF_MAX_S,
    BACKOFF_START_S,
    COMMIT_ATTEMPTS,
    MAX_BATCH_ATTEMPTS,
    MAX_RECORD_ATTEMPTS,
    POLL_TIMEOUT_MS,
    STOP_GRACE_S,
    WAIT_POLL_MS,
    RetriesExhausted,
    describe,
    is_outage,
)
from govwatch.loop.rebalance import RebalanceListener
from govwatch.loop.stop import StopFlag
from govwatch.stages.contract import BatchHandler, Rejections

log = get_logger("govwatch.loop.batch_loop")


class BatchLoop:
    def __init__(self, consumer: KafkaConsumer, handler: BatchHandler, producer: KafkaProducer, stage: str,
                 stop: StopFlag, stats: LoopStats) -> None:
        self.consumer, self.handler, self.producer = consumer, handler, producer
        self.stage, self.stop, self.stats = stage, stop, stats
        self.batch: Batch | None = None
        self.carry: list[Any] = []  # records a wait-poll returned for newly assigned partitions: next batch
        self._pending_rewind: dict[TopicPartition, int] = {}  # partition -> offset to seek back to
        self._listener = RebalanceListener(self)
        topics = consumer.subscription()
        if topics:  # re-subscribing with the same topics only installs the listener
            consumer.subscribe(topics=sorted(topics), listener=self._listener)

    def log_context(self) -> AbstractContextManager[Any]:
        """The fields every log line of the loop carries, bound while a batch (or a rebalance callback) runs."""
        return bound_contextvars(stage=self.stage)

    # --- the loop ------------------------------------------------------------------------------------

    def run(self, max_batches: int | None) -> LoopStats:
        delay = BACKOFF_START_S
        while not self.stop.is_set() and (max_batches is None or self.stats.batches < max_batches):
            with self.log_context():
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
                        log.warning("poll_retry", error=describe(exc, 200), wait_s=delay)
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
        batch = self.batch = Batch(records, {topic_partition(r) for r in records})
        self._pause_all()
        try:
            rejections = self._attempts(batch)
            if batch.settled:
                return
            if rejections is None:
                log.info("batch_abandoned", size=len(records), reason="rebalanced" if batch.revoked else "stopping")
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
        for tp, offset in first_offsets(records).items():
            self._pending_rewind[tp] = min(offset, self._pending_rewind.get(tp, offset))

    def drop_carry(self, partitions: set[TopicPartition]) -> None:
        """Carried records of partitions we lost are dropped, and read again if the partitions come back."""
        self._remember_rewind([rec for rec in self.carry if topic_partition(rec) in partitions])
        self.carry = [rec for rec in self.carry if topic_partition(rec) not in partitions]

    def _apply_rewinds(self) -> None:
        if not self._pending_rewind:
            return
        assigned = self.consumer.assignment()
        for tp, offset in self._pending_rewind.items():
            if tp in assigned:  # partitions that went elsewhere restart from their commit at the new owner
                self.consumer.seek(tp, offset)
                log.info("rewound", topic=tp.topic, partition=tp.partition, offset=offset)
        self._pending_rewind.clear()

    def _attempts(self, batch: Batch) -> Rejections | None:
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
            log.warning("batch_retry", attempt=attempt_no, counted_failures=failures, outage=not counted,
                        wait_s=wait, error=describe(outcome, 300), first_offset=batch.records[0].offset,
                        partition=batch.records[0].partition)
            if not self._wait(batch, wait):
                return None
            delay = min(delay * 2, BACKOFF_MAX_S)

    def _one_by_one(self, batch: Batch) -> Rejections | None:
        """The batch keeps failing: find the records at fault, each with its own bounded attempts."""
        log.warning("batch_split", size=len(batch.records))
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

    def _run_attempt(self, batch: Batch, records: Sequence[Any]) -> Rejections | BaseException | None:
        """Rejections, the attempt's exception, or None when the batch was abandoned meanwhile."""
        attempt = batch.attempt = Attempt(self.handler, records, f"{self.stage}-handler")
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

    def _wait(self, batch: Batch, seconds: float) -> bool:
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
            log.warning("poll_retry", error=describe(exc, 200))
            self.stop.wait(timeout_ms / 1000)
            return
        self._apply_rewinds()
        # Records can only come from partitions a rebalance assigned during the wait: keep them, in order, for
        # the next batch, and pause those partitions too.
        self.carry.extend(rec for part in polled.values() for rec in part)
        self._pause_all()

    # --- finishing a batch ---------------------------------------------------------------------------

    def _finish(self, batch: Batch, rejections: Rejections, started: float) -> None:
        self.dead_letter_all(batch, rejections)
        committed = self._commit(batch.records)
        self.count(batch, rejections, committed, started)

    def dead_letter_all(self, batch: Batch, rejections: Rejections) -> None:
        for index, error in sorted(rejections.items()):
            rec = batch.records[index]
            self._until_done(partial(dead_letter, self.producer, self.stage, rec, error), "dead letter")
            self.stats.counts["dead_lettered"] += 1
            metrics.dead_lettered(self.stage, type(error).__name__)
            log.warning("dead_lettered", topic=rec.topic, partition=rec.partition, offset=rec.offset,
                        story_id=record_key(rec), error_type=type(error).__name__, reason=str(error)[:300])

    def count(self, batch: Batch, rejections: Rejections, committed: bool, started: float) -> None:
        self.stats.batches += 1
        self.stats.counts["processed"] += len(batch.records) - len(rejections)
        metrics.batch_done(self.stage, len(batch.records) - len(rejections), len(rejections),
                           time.monotonic() - started)
        metrics.record_lag(self.stage, self.consumer, batch.records)
        log.info("batch_done", size=len(batch.records), rejected=len(rejections), committed=committed,
                 elapsed_ms=round((time.monotonic() - started) * 1000, 1))

    def _until_done(self, action: Callable[[], None], what: str) -> None:
        """Dead letters must not be dropped: a broker outage is waited out (the batch stays uncommitted)."""
        delay = BACKOFF_START_S
        while True:
            try:
                action()
                return
            except KafkaError as exc:
                log.warning("retrying", what=what, error=describe(exc, 200), wait_s=delay)
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def _commit(self, records: Sequence[Any]) -> bool:
        """Commit the batch; False when it could not be (the work is done: a re-delivery is absorbed by the sinks)."""
        delay = BACKOFF_START_S
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                self.consumer.commit(commit_offsets(records))
                return True
            except CommitFailedError:
                # The group rebalanced before we could commit: the new owner re-processes; sinks are idempotent.
                log.warning("commit_failed_rebalanced", size=len(records))
                return False
            except KafkaError as exc:
                if not getattr(exc, "retriable", False) or attempt == COMMIT_ATTEMPTS:
                    log.warning("commit_failed", size=len(records), error=describe(exc, 200))
                    return False
                log.warning("commit_retry", error=describe(exc, 200), wait_s=delay)
                self.stop.wait(delay)
                delay = min(delay * 2, 5.0)
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
    return BatchLoop(consumer, handler, producer, stage, stop, stats or LoopStats()).run(max_batches)
