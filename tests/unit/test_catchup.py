"""Which late scheduled runs a returning runner supersedes (govwatch.wiring.catchup.split_superseded)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from govwatch.wiring.catchup import ScheduledRun, split_superseded

NOW = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)  # just after a year boundary, on purpose: ticks span two years
DEPLOYMENT = uuid4()
HOURLY, DAILY = '{"period": "hourly"}', '{"period": "daily"}'  # one deployment, two schedules, two parameter sets


def _run(due: datetime, params: str = HOURLY, auto: bool = True, deployment: UUID = DEPLOYMENT) -> ScheduledRun:
    return ScheduledRun(id=uuid4(), deployment_id=deployment, parameters=params, auto_scheduled=auto, due=due)


def test_every_late_tick_but_the_newest_is_superseded() -> None:
    ticks = [_run(NOW - timedelta(minutes=m)) for m in range(1, 61)]  # an hour away: 60 late ticks, 2026 and 2027
    superseded, kept = split_superseded(ticks, NOW)
    assert kept == {(DEPLOYMENT, HOURLY): ticks[0]}
    assert sorted(r.id for r in superseded) == sorted(r.id for r in ticks[1:])


def test_future_ticks_and_a_persons_runs_are_never_superseded() -> None:
    future = _run(NOW + timedelta(seconds=1))
    asked = _run(NOW - timedelta(hours=2), auto=False)  # "Run now" while the runner was away
    late_old, late_new = _run(NOW - timedelta(minutes=2)), _run(NOW - timedelta(minutes=1))
    superseded, kept = split_superseded([future, asked, late_old, late_new], NOW)
    assert superseded == [late_old]
    assert kept == {(DEPLOYMENT, HOURLY): late_new}


def test_a_tick_due_exactly_now_counts_as_due() -> None:
    older, due_now = _run(NOW - timedelta(minutes=1)), _run(NOW)
    superseded, kept = split_superseded([older, due_now], NOW)
    assert superseded == [older]
    assert kept[(DEPLOYMENT, HOURLY)] == due_now


def test_each_deployment_and_parameter_set_keeps_its_own_newest_tick() -> None:
    other = uuid4()
    hourly = [_run(NOW - timedelta(hours=h)) for h in (1, 2, 3)]
    daily = [_run(NOW - timedelta(days=d), params=DAILY) for d in (1, 2)]
    elsewhere = [_run(NOW - timedelta(hours=h), deployment=other) for h in (1, 5)]
    superseded, kept = split_superseded(hourly + daily + elsewhere, NOW)
    assert kept == {(DEPLOYMENT, HOURLY): hourly[0], (DEPLOYMENT, DAILY): daily[0], (other, HOURLY): elsewhere[0]}
    assert {r.id for r in superseded} == {hourly[1].id, hourly[2].id, daily[1].id, elsewhere[1].id}


def test_pages_newest_first_keep_the_first_pages_newest() -> None:
    """The caller pages through runs newest first and hands the kept runs on: a later page supersedes all of its own."""
    ticks = [_run(NOW - timedelta(minutes=m)) for m in range(1, 11)]
    first, kept = split_superseded(ticks[:4], NOW)
    second, kept = split_superseded(ticks[4:], NOW, kept)
    assert kept == {(DEPLOYMENT, HOURLY): ticks[0]}
    assert [r.id for r in first + second] == [r.id for r in ticks[1:]]


def test_a_kept_run_seen_again_on_a_later_page_is_not_superseded() -> None:
    newest = _run(NOW - timedelta(minutes=1))
    _, kept = split_superseded([newest], NOW)
    superseded, kept = split_superseded([newest, _run(NOW - timedelta(minutes=2))], NOW, kept)
    assert newest.id not in {r.id for r in superseded}
    assert len(superseded) == 1
