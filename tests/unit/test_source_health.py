"""The source health decisions (govwatch.alerts.source_health) on a fixed clock, across a month boundary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from govwatch.alerts.source_health import (
    Extraction,
    HealthPolicy,
    decide,
    extraction_drift,
    failing,
    incident_id,
    message_id,
    periods,
    silent,
    typical_gap_s,
)
from govwatch.alerts.source_health_run import FeedFacts, HealthContext, health_alert, overview
from govwatch.alerts.spike_format import spike_blocks
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.commands.sources import line
from govwatch.feeds.state import FeedState

# The clock: 02:00 on the 1st of a month, so the history lies in the month before.
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
POLICY = HealthPolicy(fail_after_s=6 * 3600, silence_factor=4.0, silence_floor_s=12 * 3600, min_gaps=3)


def hourly_then_quiet(quiet: timedelta, n: int = 10, gap: timedelta = timedelta(hours=3)) -> list[datetime]:
    """n stories ``gap`` apart, the newest ``quiet`` before NOW."""
    newest = NOW - quiet
    return [newest - i * gap for i in range(n)]


def test_typical_gap_is_the_median_of_the_newest_window() -> None:
    seen = hourly_then_quiet(timedelta(0), n=30)
    assert typical_gap_s(seen, 20) == 3 * 3600
    assert typical_gap_s([NOW], 20) is None
    # one long pause among many short gaps does not move the median
    assert typical_gap_s([*seen[:5], seen[4] - timedelta(days=5)], 20) == 3 * 3600


def test_failing_opens_only_after_the_setting() -> None:
    last_ok = NOW - timedelta(hours=5)  # 21:00 on the last day of November
    short = failing(4, last_ok, "HTTP 503", NOW, POLICY)
    assert short.condition is False
    long = failing(9, NOW - timedelta(hours=7), "HTTP 503", NOW, POLICY)
    assert long.condition is True
    assert "7.0 h" in long.reason and "9 in a row" in long.reason and "HTTP 503" in long.reason
    assert failing(0, last_ok, None, NOW, POLICY).condition is False
    assert failing(3, None, "x", NOW, POLICY).condition is None


def test_silence_is_judged_against_the_feeds_own_interval() -> None:
    # every 3 h: limit max(4 x 3 h, 12 h) = 12 h
    assert silent(hourly_then_quiet(timedelta(hours=11)), False, NOW, POLICY).condition is False
    loud = silent(hourly_then_quiet(timedelta(hours=13)), False, NOW, POLICY)
    assert loud.condition is True
    assert "13.0 h" in loud.reason and "every 3.0 h" in loud.reason
    # a daily feed may stay quiet three days, not five
    daily = timedelta(days=1)
    assert silent(hourly_then_quiet(timedelta(days=3), gap=daily), False, NOW, POLICY).condition is False
    assert silent(hourly_then_quiet(timedelta(days=5), gap=daily), False, NOW, POLICY).condition is True


def test_silence_has_no_opinion_without_history_or_while_failing() -> None:
    assert silent(hourly_then_quiet(timedelta(days=9), n=3), False, NOW, POLICY).condition is None
    assert silent(hourly_then_quiet(timedelta(days=9)), True, NOW, POLICY).condition is None
    assert silent([], False, NOW, POLICY).condition is None


def test_extraction_drop_opens_and_needs_the_recovery_share_to_close() -> None:
    before, broken = Extraction(page=95, total=100), Extraction(page=1, total=20)
    opened = extraction_drift(before, broken, False, POLICY)
    assert opened.condition is True
    assert "5% of its last 24 h stories (1/20)" in opened.reason and "95% (95/100)" in opened.reason
    # hysteresis: 30% is above the trigger (10%) but below the recovery share (50%): stays open
    assert extraction_drift(before, Extraction(page=6, total=20), True, POLICY).condition is True
    assert extraction_drift(before, Extraction(page=6, total=20), False, POLICY).condition is False
    assert extraction_drift(before, Extraction(page=15, total=20), True, POLICY).condition is False


def test_extraction_needs_a_good_before_and_enough_stories() -> None:
    assert extraction_drift(Extraction(80, 100), Extraction(0, 20), False, POLICY).condition is False
    assert extraction_drift(Extraction(95, 100), Extraction(0, 4), False, POLICY).condition is None
    assert extraction_drift(Extraction(4, 4), Extraction(0, 20), False, POLICY).condition is None


@pytest.mark.parametrize(("open_", "condition", "action"), [
    (False, True, "open"), (False, False, "quiet"), (False, None, "quiet"),
    (True, True, "hold"), (True, False, "recover"), (True, None, "hold"),
])
def test_decide(open_: bool, condition: bool | None, action: str) -> None:
    assert decide(open_, condition) == action


def test_ids_are_stable_and_distinct() -> None:
    a = incident_id("feed-a", "silent", NOW)
    assert a == incident_id("feed-a", "silent", NOW)
    assert a != incident_id("feed-a", "failing", NOW) != incident_id("feed-a", "silent", NOW + timedelta(seconds=1))
    assert message_id(a, "open") != message_id(a, "recovered")


def test_periods_roll_across_the_month_boundary() -> None:
    start, today, end = periods(NOW, POLICY)
    assert (start, today, end) == (datetime(2026, 11, 23, 2, tzinfo=UTC), datetime(2026, 11, 30, 2, tzinfo=UTC), NOW)


def _facts(**poll: object) -> FeedFacts:
    seen = hourly_then_quiet(timedelta(hours=16), n=12)
    return FeedFacts("quiet", "Quiet Feed", FeedState("quiet", **poll), seen, Extraction(95, 100), Extraction(1, 20))


def test_the_message_names_the_reason_and_links_to_the_source_page() -> None:
    ops = Subscription(name="operations", query="ops-only", destination=Destination(
        kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/ops"))
    ctx = HealthContext(Elasticsearch("http://127.0.0.1:1"), "s", None, None, None, ops,  # type: ignore[arg-type]
                        "https://govwatch.example.org/", POLICY)
    facts = _facts()
    reason = silent(facts.seen, False, NOW, POLICY).reason
    incident = incident_id("quiet", "silent", NOW)
    opened = health_alert(ctx, ops, facts, "silent", incident, reason, "open", NOW, NOW)
    healed = health_alert(ctx, ops, facts, "silent", incident, "new story", "recover", NOW,
                          NOW + timedelta(hours=5))
    assert opened.alert_id == message_id(incident, "open") and healed.alert_id == message_id(incident, "recovered")
    assert opened.subscription_id == ops.id and opened.kind == "health" and opened.story_id == incident
    assert opened.title == "Source health: Quiet Feed has gone silent" and opened.lines[0] == reason
    assert healed.title == "Recovered: Quiet Feed (silent)" and healed.lines[0].startswith("Healed after 5.0 h")
    assert opened.links[0].url == "https://govwatch.example.org/sources/quiet" == opened.url
    slack = json.dumps(spike_blocks(opened))
    assert "has gone silent" in slack and "no new story for 16.0 h" in slack and "/sources/quiet" in slack


def test_the_overview_and_its_cli_line() -> None:
    facts = _facts(last_success_at=NOW - timedelta(minutes=5), consecutive_failures=0)
    view = overview(facts, {"silent": {"open": True, "opened_at": NOW.isoformat(), "reason": "quiet"},
                            "failing": {"open": False}}, POLICY)
    assert view["typical_gap_h"] == 3.0 and view["extraction_today"] == 0.05 and view["extraction_before"] == 0.95
    assert view["incidents"] == [{"kind": "silent", "opened_at": NOW.isoformat(), "reason": "quiet"}]
    assert view["last_new_at"] == (NOW - timedelta(hours=16)).isoformat()
    assert line(view) == ("quiet  [silent]  success 2026-12-01 01:55  new 2026-11-30 10:00  every 3 h  extracted "
                          "5% today vs 95% before")
