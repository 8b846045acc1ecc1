"""Spike rules: when coverage of a subscription's query (or of one entity) is surging (pure, no adapters).

A rule fires when the matches in the last ``window_minutes`` are at least ``k`` times the trailing baseline (the mean
count of the ``baseline_windows`` windows of the same length right before it) AND at least ``min_count``. It fires
once per spike: a rule that fired is disarmed, and it re-arms only after the series has fallen back under the
threshold and stayed under it for a whole window. The same :func:`is_over` and :func:`decide` run in the scheduled
evaluation and in the backtest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# A baseline longer than this many windows is a different question (seasonality) and a larger search.
MAX_BASELINE_WINDOWS = 168
MAX_WINDOW_MINUTES = 7 * 24 * 60  # a week: longer "spikes" are trends

Action = Literal["fire", "hold", "rearm", "quiet"]


class SpikeRule(BaseModel):
    """A subscription's spike rule (``Subscription.spike``); the defaults ask for 3x a 6-hour window's weekly mean."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: float = Field(3.0, gt=1.0, le=1000.0, description="Fire at k times the baseline mean or more (k > 1: a flat "
                                                          "series never fires)")
    window_minutes: int = Field(360, ge=5, le=MAX_WINDOW_MINUTES, description="Length of the window counted")
    baseline_windows: int = Field(28, ge=1, le=MAX_BASELINE_WINDOWS, description=(
        "Windows of the same length before it whose mean is the baseline (28 x 6 h = the week before)"))
    min_count: int = Field(5, ge=1, le=1_000_000, description="Fire only with at least this many matches")
    entity_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description=(
        "Count the relevant stories about this entity instead of the subscription's query and filters"))

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


@dataclass(frozen=True)
class Series:
    """Counts of one evaluation: the last window and the baseline windows (most recent first)."""

    current: int
    baseline: tuple[int, ...]

    @property
    def mean(self) -> float:
        return sum(self.baseline) / len(self.baseline) if self.baseline else 0.0


def threshold(rule: SpikeRule, series: Series) -> float:
    """The count the last window must reach: k x the baseline mean, and never below the minimum."""
    return max(rule.k * series.mean, float(rule.min_count))


def is_over(rule: SpikeRule, series: Series) -> bool:
    """Whether the last window is a spike (at or above the threshold)."""
    return series.current >= threshold(rule, series)


def decide(armed: bool, over: bool, calm: bool = True) -> Action:
    """fire (a new spike), hold (the spike goes on: nothing posted), rearm (fell back), quiet (nothing).

    ``calm``: no evaluation was over the threshold for a whole window. A disarmed rule re-arms only then: a
    sliding window flickers around the threshold while a spike ramps up or fades (a story leaves the window,
    the next arrives), and each flicker would otherwise be a "new" spike."""
    if over:
        return "fire" if armed else "hold"
    if armed:
        return "quiet"
    return "rearm" if calm else "hold"


def is_calm(rule: SpikeRule, last_over_at: datetime | None, now: datetime) -> bool:
    """Whether the series has stayed under the threshold for a whole window (since ``last_over_at``)."""
    return last_over_at is None or now - last_over_at >= rule.window


def windows(rule: SpikeRule, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) of the last window then of each baseline window, most recent first."""
    width = rule.window
    return [(end - (i + 1) * width, end - i * width) for i in range(rule.baseline_windows + 1)]


def spike_id(rule_id: str, start: datetime) -> str:
    """The spike's create-only id (= its ledger key): the rule and the start of the window that fired, to the
    minute (two evaluations racing within the same minute name the same spike)."""
    minute = start.replace(second=0, microsecond=0).isoformat()
    return hashlib.sha256(f"spike\n{rule_id}\n{minute}".encode()).hexdigest()


@dataclass(frozen=True)
class Firing:
    """One point of a replay where the rule would have fired."""

    at: datetime
    series: Series


def replay(rule: SpikeRule, bucket_counts: Sequence[int], bucket_ends: Sequence[datetime],
           buckets_per_window: int, armed: bool = True) -> list[Firing]:
    """Evaluate the rule at the end of every bucket that has a full history (counts per equal bucket, oldest
    first), carrying the armed state along as the scheduled evaluation does: when it would have fired."""
    need = buckets_per_window * (rule.baseline_windows + 1)
    fired: list[Firing] = []
    last_over_at: datetime | None = None
    for last in range(need - 1, len(bucket_counts)):
        sums = [sum(bucket_counts[last - (i + 1) * buckets_per_window + 1: last - i * buckets_per_window + 1])
                for i in range(rule.baseline_windows + 1)]
        series, at = Series(sums[0], tuple(sums[1:])), bucket_ends[last]
        over = is_over(rule, series)
        action = decide(armed, over, is_calm(rule, last_over_at, at))
        if over:
            last_over_at = at
        if action == "fire":
            fired.append(Firing(at, series))
        armed = action in ("rearm", "quiet")
    return fired
