"""A rebalance never splits a batch between two owners.

When partitions of the batch in flight are revoked, the revocation callback waits for the running attempt to end
(heartbeats continue: the listener is kafka-python's async kind), commits it if it succeeded, and otherwise
abandons it uncommitted for the new owner; the batch is never worked on by two members at once. Partitions that
are lost (the group already moved on) make the batch in flight uncommittable. The callbacks run inside ``poll()``,
possibly on kafka-python's IO thread, so each binds the loop's log context itself.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kafka import TopicPartition
from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
from kafka.errors import KafkaError

from govwatch.log import get_logger
from govwatch.loop.batch import commit_offsets
from govwatch.loop.policy import REVOKE_WAIT_S, describe

if TYPE_CHECKING:
    from govwatch.loop.batch_loop import BatchLoop

log = get_logger("govwatch.loop.rebalance")


class RebalanceListener(AsyncConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
    """Async, so kafka-python keeps heartbeating while a revocation waits for the batch in flight."""

    def __init__(self, loop: BatchLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        with self._loop.log_context():
            await self._settle_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        with self._loop.log_context():
            log.info("partitions_assigned", count=len(assigned),
                     partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))
        if self._loop.batch is not None and assigned:  # nothing new is fetched until the batch in flight is done
            self._loop.consumer.pause(*assigned)

    async def on_partitions_lost(self, lost: set[TopicPartition]) -> None:
        batch = self._loop.batch
        self._loop.drop_carry(set(lost))
        if batch is not None and batch.partitions & set(lost):
            batch.revoked = True  # the group already moved on: nothing of this batch may be committed

    async def _settle_revoked(self, partitions: set[TopicPartition]) -> None:
        """Runs while the loop's thread is blocked in poll(): the loop's state is ours alone."""
        loop = self._loop
        loop.drop_carry(partitions)
        batch = loop.batch
        if batch is None or not (batch.partitions & set(partitions)) or batch.settled:
            return
        loop.stats.counts["revoked_in_flight"] += 1
        coordinator = getattr(loop.consumer, "_coordinator", None)
        net = getattr(coordinator, "_net", None)
        commit = getattr(coordinator, "_commit_offsets_sync_async", None)
        attempt = batch.attempt
        if net is None or commit is None:  # a kafka-python without the async internals we wait with
            log.warning("batch_abandoned_on_revoke", reason="no async wait available")
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
        loop.dead_letter_all(batch, rejections)
        try:
            await commit(commit_offsets(batch.records))
            committed = True
        except KafkaError as exc:
            log.warning("commit_failed_on_revoke", error=describe(exc, 200))
            committed = False
        batch.settled = True
        loop.count(batch, rejections, committed, started)
        log.info("batch_committed_on_revoke", size=len(batch.records), committed=committed)
