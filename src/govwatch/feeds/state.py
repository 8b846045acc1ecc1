"""Per-feed poll state and its update rules (pure), plus its store: the compacted ``feeds.state`` topic.

The interval adapts to each feed's posting cadence: half the median gap between its recent entries, so a
new story waits on average a quarter of the cadence, clamped to [poll_min_interval_s, poll_max_interval_s].
Failures back off exponentially from the floor; after ``DEAD_AFTER`` failures in a row the feed is retried
only every poll_dead_interval_s. The server's own hints (Cache-Control max-age, feed <ttl>, Retry-After)
are minimums: we never ask sooner than the server said.
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govwatch.settings import Settings

# Consecutive failures after which a feed counts as dead and drops to the slow retry.
DEAD_AFTER = 8
# Entry dates used to estimate cadence: enough to smooth a burst, recent enough to follow a change.
CADENCE_WINDOW = 20
# When the feed gives no usable dates: grow the interval when nothing was new, shrink it when something was.
GROW, SHRINK = 1.5, 0.5


@dataclass(frozen=True)
class IntervalPolicy:
    min_s: float
    max_s: float
    dead_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> IntervalPolicy:
        return cls(settings.poll_min_interval_s, settings.poll_max_interval_s, settings.poll_dead_interval_s)

    def clamp(self, seconds: float) -> float:
        return max(self.min_s, min(self.max_s, seconds))


@dataclass(frozen=True)
class FeedState:
    feed_id: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    next_due_at: datetime | None = None
    interval_s: float | None = None
    stories_published: int = 0
    url: str | None = field(default=None, metadata={"doc": "feed URL the validators belong to"})

    def is_due(self, now: datetime) -> bool:
        return self.next_due_at is None or self.next_due_at <= now

    def to_bytes(self) -> bytes:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> FeedState:
        data = json.loads(raw)
        known = set(cls.__dataclass_fields__)
        data = {k: v for k, v in data.items() if k in known}
        for key in ("last_attempt_at", "last_success_at", "next_due_at"):
            if data.get(key):
                data[key] = datetime.fromisoformat(data[key])
        return cls(**data)


def cadence_s(entry_times: Sequence[datetime]) -> float | None:
    """Median gap in seconds between the newest distinct entry dates, or None with fewer than two."""
    times = sorted({t for t in entry_times if t is not None}, reverse=True)[:CADENCE_WINDOW]
    if len(times) < 2:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    return statistics.median(gaps)


def next_interval(previous: float | None, new_stories: int, entry_times: Sequence[datetime],
                  policy: IntervalPolicy, pinned: float | None = None) -> float:
    """The interval after a successful poll (pure)."""
    if pinned is not None:
        return pinned
    cadence = cadence_s(entry_times)
    if cadence is not None:
        return policy.clamp(cadence / 2)
    base = previous if previous is not None else policy.min_s
    return policy.clamp(base * (SHRINK if new_stories else GROW))


def failure_delay(consecutive_failures: int, policy: IntervalPolicy, retry_after: float | None = None) -> float:
    """Backoff after the n-th failure in a row: min * 2**(n-1) up to max; dead feeds wait dead_s."""
    if consecutive_failures >= DEAD_AFTER:
        delay = policy.dead_s
    else:
        delay = min(policy.max_s, policy.min_s * 2 ** max(0, consecutive_failures - 1))
    return max(delay, retry_after or 0.0)


def after_success(state: FeedState, now: datetime, *, policy: IntervalPolicy, new_stories: int,
                  entry_times: Sequence[datetime], etag: str | None, last_modified: str | None,
                  body_hash: str | None, server_min_s: float | None = None, pinned_interval: float | None = None,
                  url: str | None = None) -> FeedState:
    """State after a poll that fetched (or was told not-modified) and published everything new."""
    interval = next_interval(state.interval_s, new_stories, entry_times, policy, pinned_interval)
    wait = max(interval, server_min_s or 0.0)
    return replace(state, etag=etag, last_modified=last_modified, body_hash=body_hash, last_attempt_at=now,
                   last_success_at=now, consecutive_failures=0, last_error=None, interval_s=interval,
                   next_due_at=now + timedelta(seconds=wait), stories_published=state.stories_published + new_stories,
                   url=url or state.url)


def after_failure(state: FeedState, now: datetime, *, policy: IntervalPolicy, error: str,
                  retry_after: float | None = None) -> FeedState:
    """State after a poll that failed; validators are kept so the next try can still be conditional."""
    failures = state.consecutive_failures + 1
    delay = failure_delay(failures, policy, retry_after)
    return replace(state, last_attempt_at=now, consecutive_failures=failures, last_error=error[:500],
                   next_due_at=now + timedelta(seconds=delay))


def validators_for(state: FeedState, url: str) -> tuple[str | None, str | None, str | None]:
    """(etag, last_modified, body_hash) to reuse, or all None when the registry changed the feed's URL."""
    if state.url is not None and state.url != url:
        return None, None, None
    return state.etag, state.last_modified, state.body_hash
