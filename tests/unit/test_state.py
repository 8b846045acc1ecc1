"""Feed state math: adaptive interval, backoff, dead-feed retry, server hints, serialisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from govwatch.feeds.state import (
    DEAD_AFTER,
    FeedState,
    IntervalPolicy,
    after_failure,
    after_success,
    cadence_s,
    failure_delay,
    next_interval,
    validators_for,
)

POLICY = IntervalPolicy(min_s=300, max_s=3600, dead_s=86400)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def hours_ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


def test_cadence_is_the_median_gap() -> None:
    """Cadence is the median gap between distinct entry dates; fewer than two dates give None."""
    assert cadence_s(hours_ago(0, 1, 2, 3, 10)) == 3600
    assert cadence_s(hours_ago(1, 1)) is None


def test_interval_follows_cadence_within_bounds() -> None:
    """The interval is half the cadence, clamped to the floor and the ceiling."""
    assert next_interval(None, 0, hours_ago(0, 0.5, 1.0), POLICY) == 900
    assert next_interval(None, 0, hours_ago(0, 0.01, 0.02), POLICY) == 300
    assert next_interval(None, 0, hours_ago(0, 24, 48), POLICY) == 3600


def test_interval_without_dates_grows_when_quiet_and_shrinks_on_news() -> None:
    """Without usable dates the interval grows 1.5x after a quiet poll and halves after new stories."""
    assert next_interval(1000, 0, [], POLICY) == 1500
    assert next_interval(1000, 3, [], POLICY) == 500
    assert next_interval(None, 0, [], POLICY) == 450


def test_pinned_interval_wins() -> None:
    """A registry interval_s overrides the adaptive one."""
    assert next_interval(1000, 5, hours_ago(0, 1), POLICY, pinned=42) == 42


def test_failures_back_off_then_go_dead() -> None:
    """Failures double the delay from the floor up to the ceiling, then drop to the dead-feed interval."""
    assert [failure_delay(n, POLICY) for n in (1, 2, 3, 4, 5)] == [300, 600, 1200, 2400, 3600]
    assert failure_delay(DEAD_AFTER, POLICY) == 86400
    assert failure_delay(1, POLICY, retry_after=7200) == 7200


def test_success_resets_failures_and_respects_server_minimum() -> None:
    """A success clears the failure count, stores validators and waits at least the server's max-age."""
    state = FeedState("f", consecutive_failures=3, last_error="boom")
    new = after_success(state, NOW, policy=POLICY, new_stories=2, entry_times=hours_ago(0, 0.5, 1.0), etag='"e"',
                        last_modified="lm", body_hash="h", server_min_s=2000, url="https://x/rss")
    assert (new.consecutive_failures, new.last_error, new.etag, new.body_hash) == (0, None, '"e"', "h")
    assert new.interval_s == 900 and new.next_due_at == NOW + timedelta(seconds=2000)
    assert new.stories_published == 2 and new.last_success_at == NOW


def test_failure_keeps_validators() -> None:
    """A failure keeps ETag/Last-Modified/hash so the next attempt is still conditional."""
    state = FeedState("f", etag='"e"', last_modified="lm", body_hash="h")
    new = after_failure(state, NOW, policy=POLICY, error="timeout")
    assert (new.etag, new.last_modified, new.body_hash, new.consecutive_failures) == ('"e"', "lm", "h", 1)
    assert new.next_due_at == NOW + timedelta(seconds=300)


def test_validators_are_dropped_when_the_url_changes() -> None:
    """Validators of an old URL are not sent to a new one."""
    state = FeedState("f", etag='"e"', last_modified="lm", body_hash="h", url="https://old/rss")
    assert validators_for(state, "https://old/rss") == ('"e"', "lm", "h")
    assert validators_for(state, "https://new/rss") == (None, None, None)


def test_state_roundtrips_through_bytes() -> None:
    """The Kafka value decodes back to the same state."""
    state = after_success(FeedState("f"), NOW, policy=POLICY, new_stories=1, entry_times=[], etag=None,
                          last_modified=None, body_hash="h")
    assert FeedState.from_bytes(state.to_bytes()) == state
    assert FeedState("f").is_due(NOW) and not state.is_due(NOW)
