"""The loop's retry, wait and commit bounds, and which failures count against a batch.

Outages, that is an unreachable Elasticsearch or broker (:class:`~govwatch.errors.Unavailable`) and rate limits,
are waited out without counting: they are nobody's record's fault, and dead-lettering a whole backlog during an
outage would lose it from the live flow. Nor do version conflicts with a concurrent writer
(:class:`~govwatch.errors.Contended`): the retry re-reads what the other writer stored. Every other failure
counts; a record that keeps failing is dead-lettered as :class:`RetriesExhausted` with the last reason.
"""

from __future__ import annotations

from kafka.errors import KafkaError

from govwatch.errors import Contended, PermanentError, RateLimited, Unavailable

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


class RetriesExhausted(PermanentError):
    """A record kept failing with errors that are not outages; dead-lettered with the last reason."""


def is_outage(exc: BaseException) -> bool:
    """An error that says a dependency is away or busy (or a concurrent writer got there first), not that this
    input is bad (waited out, not counted)."""
    if isinstance(exc, (Unavailable, RateLimited, Contended)):
        return True
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


def describe(exc: BaseException, limit: int) -> str:
    """``Type: message`` of an error, cut to ``limit`` characters for a log line."""
    return f"{type(exc).__name__}: {exc}"[:limit]
