"""The hostile-input suite's table: one row per case, the budgets the figures are judged by, a run's report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Say = Callable[[str], None]

# The goals, printed beside each figure.
GOALS = {
    "indexed_s": 30.0,  # the two ordinary stories of the five-item feed indexed within this of the poll
    "enrich_rss_mb": 300.0,
    "other_alert_delay_s": 5.0,  # what a 429-forever destination may add to other subscriptions' alerts
    "burst_cpu_s": 5.0,  # server CPU for 1,000 wrong logins in a minute
}


@dataclass
class Row:
    """One line of the table: the hostile item, what happened to it, and to the ordinary work beside it."""

    case: str
    hostile: str
    outcome: str
    ordinary: str
    figure: str = ""
    goal: str = ""
    ok: bool = True
    timed: bool = False  # judged by a time or CPU budget: the benchmark's verdict, not the test suite's


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def table(self) -> str:
        head = ("case", "hostile item", "what happened to it", "ordinary work beside it", "figure", "goal", "ok")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join((r.case, r.hostile, r.outcome, r.ordinary, r.figure, r.goal,
                                             "yes" if r.ok else "**NO**")) + " |")
        return "\n".join(lines + [f"- {n}" for n in self.notes])
