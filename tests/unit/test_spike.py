"""Spike rules: the pure decision (threshold, minimum, re-arm), the replay the backtest uses, and the Slack payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from pydantic import ValidationError

from govwatch.alerts.slack_format import within_limits
from govwatch.alerts.spike import (
    Series,
    SpikeRule,
    decide,
    is_calm,
    is_over,
    replay,
    spike_id,
    threshold,
    windows,
)
from govwatch.alerts.spike_format import spike_blocks
from govwatch.models import Alert, AlertLink, Trace

RULE = SpikeRule(k=3.0, window_minutes=60, baseline_windows=4, min_count=5)
T0 = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)


def test_threshold_is_k_times_the_baseline_mean() -> None:
    """10 in the window against a mean of 3 fires at k=3 (threshold 9); 8 does not."""
    assert threshold(RULE, Series(10, (2, 3, 4, 3))) == pytest.approx(9.0)
    assert is_over(RULE, Series(10, (2, 3, 4, 3)))
    assert not is_over(RULE, Series(8, (2, 3, 4, 3)))


def test_minimum_count_holds_when_the_baseline_is_empty() -> None:
    """From nothing, 4 stories are not a spike (minimum 5); 5 are."""
    assert not is_over(RULE, Series(4, (0, 0, 0, 0)))
    assert is_over(RULE, Series(5, (0, 0, 0, 0)))


def test_decide_fires_once_then_holds_and_rearms_after_falling_back() -> None:
    """Armed + over fires; disarmed + over holds (nothing posted); disarmed + under re-arms; armed + under is quiet."""
    assert decide(True, True) == "fire"
    assert decide(False, True) == "hold"
    assert decide(False, False) == "rearm"
    assert decide(True, False) == "quiet"
    assert decide(False, False, calm=False) == "hold"


def test_rule_rearms_only_after_a_whole_calm_window() -> None:
    """Under the threshold for less than a window is not calm yet; a whole window is."""
    assert not is_calm(RULE, T0, T0 + timedelta(minutes=30))
    assert is_calm(RULE, T0, T0 + timedelta(minutes=60)) and is_calm(RULE, None, T0)


def test_a_flickering_spike_fires_once() -> None:
    """A sliding window that dips under the threshold for half a window mid-spike does not fire a second time."""
    rule = SpikeRule(k=1.5, window_minutes=60, baseline_windows=2, min_count=5)
    counts = [0] * 6 + [3, 3, 0, 6, 0, 0, 0, 0]
    ends = [T0 + timedelta(minutes=30 * i) for i in range(len(counts))]
    assert [f.at for f in replay(rule, counts, ends, 2)] == [ends[7]]


def test_k_must_exceed_one() -> None:
    """k <= 1 would make a flat series fire: refused."""
    with pytest.raises(ValidationError):
        SpikeRule(k=1.0)


def test_windows_are_contiguous_most_recent_first() -> None:
    """The last window then each baseline window of the same length, edge to edge."""
    spans = windows(RULE, T0)
    assert spans[0] == (T0 - timedelta(hours=1), T0)
    assert len(spans) == 5
    assert all(a[0] == b[1] for a, b in pairwise(spans))


def test_flat_series_with_the_same_total_never_fires() -> None:
    """A spike of 24 fires once; the same 24 spread flat over the same hours never fires."""
    ends = [T0 + timedelta(hours=i) for i in range(24)]
    spiky = [0] * 20 + [24, 0, 0, 0]
    flat = [1] * 24
    assert [f.at for f in replay(RULE, spiky, ends, 1)] == [ends[20]]
    assert sum(spiky) == sum(flat) and replay(RULE, flat, ends, 1) == []


def test_replay_fires_once_per_spike_and_again_after_recovery() -> None:
    """A spike lasting three hours fires once; after the series falls back, a second spike fires again."""
    ends = [T0 + timedelta(hours=i) for i in range(16)]
    counts = [1, 1, 1, 1, 1, 12, 14, 13, 1, 1, 1, 1, 1, 1, 15, 1]
    fired = [f.at for f in replay(RULE, counts, ends, 1)]
    assert fired == [ends[5], ends[14]]


def test_replay_sums_buckets_into_windows() -> None:
    """With two buckets per window, the window is the sum of its last two buckets."""
    rule = SpikeRule(k=3.0, window_minutes=60, baseline_windows=2, min_count=5)
    ends = [T0 + timedelta(minutes=30 * i) for i in range(8)]
    fired = replay(rule, [0, 1, 1, 0, 0, 3, 3, 0], ends, 2)
    assert [(f.at, f.series.current, f.series.baseline) for f in fired] == [(ends[6], 6, (0, 2))]


def test_spike_id_is_stable_within_the_minute_and_per_rule() -> None:
    """Two evaluations in the same minute name the same spike; another rule or minute is another spike."""
    assert spike_id("sub-a", T0) == spike_id("sub-a", T0 + timedelta(seconds=30))
    assert spike_id("sub-a", T0) != spike_id("sub-b", T0)
    assert spike_id("sub-a", T0) != spike_id("sub-a", T0 + timedelta(minutes=1))


def _alert(title: str, lines: list[str], links: list[AlertLink]) -> Alert:
    return Alert(alert_id="a" * 64, subscription_id="sub-a", subscription_name="AI Act", story_id="b" * 64,
                 cluster_id="a" * 64, title=title, url="https://example.org/1", source="govwatch spikes",
                 kind="spike", lines=lines, links=links, trace=Trace(first_seen_at=T0))


def test_spike_payload_names_stories_and_escapes_user_text() -> None:
    """The title, lines and top stories are in the payload; mrkdwn control sequences from stories are escaped."""
    alert = _alert("Spike: AI Act: 12 stories in the last 1 h", ["Event: <!channel> summit (7 stories)"],
                   [AlertLink(title="EU fines <@U123>", url="https://example.org/1")])
    payload = spike_blocks(alert)
    text = json.dumps(payload)
    assert "12 stories in the last 1 h" in text and "summit (7 stories)" in text
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "<https://example.org/1|" in text
    assert within_limits(payload)


def test_spike_payload_fits_with_hostile_sizes() -> None:
    """Huge titles, lines and links are clipped until the payload is within Slack's limits."""
    huge = "&<>" * 3000
    alert = _alert(huge, [huge] * 20, [AlertLink(title=huge, url="https://example.org/" + "a" * 1900)] * 20)
    assert within_limits(spike_blocks(alert))


def test_web_backtest_step_is_the_finest_that_fits_one_aggregation() -> None:
    from govwatch.web.subscription_pages import backtest_step

    six_hours = SpikeRule(k=3, window_minutes=360, baseline_windows=28, min_count=5)
    assert backtest_step(six_hours, 30, 5) == 5  # 30 days of 5-minute buckets fit
    assert backtest_step(six_hours, 90, 5) == 15  # 90 days would need 28,008 five-minute buckets
    assert backtest_step(six_hours, 90, 60) == 60  # never finer than the evaluation interval
