"""Catch-up after an outage: which of a served deployment's late scheduled ticks are superseded (all but the newest).

While no runner serves a deployment (it crashed, was killed, or its host was down), Prefect's scheduler keeps
creating one run per tick; a runner stopped cleanly pauses the deployment, but the pause (a PATCH by the runner) only
removes the ticks still in the future. A runner that comes back finds every tick of the outage late and, with
``limit=1``, starts one per poll of the API (every 10 s): an hour away left 60 runs that each redo the same work, and a
run someone asks for meanwhile ("Run now", `prefect deployment run`) waits behind all of them.

Every one of our served flows works from the clock and its own state (which feeds are due, which spike windows and
incidents are open, which digest periods were sent), so the newest due tick does everything the older ones would
have done. Before serving, each flow therefore moves the older late ticks to Cancelled, named "Superseded", with a
message that names the tick that covers them; the newest late tick runs at once. Runs a person created (not
auto-scheduled) are never touched, and nothing in the future is.

Only the decision lives here (the govwatch package never imports Prefect); flows/serving.py reads the runs and moves
them through the Prefect API.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

Key = tuple[UUID | None, str]  # (deployment, parameters)


@dataclass(frozen=True)
class ScheduledRun:
    """What the decision needs of a run that is still Scheduled."""

    id: UUID
    deployment_id: UUID | None
    parameters: str  # the run's parameters as canonical JSON: ticks with the same ones do the same work
    auto_scheduled: bool
    due: datetime  # when it was meant to start


@dataclass
class Catchup:
    """The result of one pass: what was superseded, by which tick, and what could not be moved."""

    superseded: int = 0
    first_due: datetime | None = None
    last_due: datetime | None = None
    kept: dict[Key, ScheduledRun] = field(default_factory=dict)
    refused: int = 0  # the server refused the state change (the run moved on meanwhile): left as it is

    def render(self, deployment: str) -> str:
        if not self.superseded and not self.refused:
            return f"{deployment}: no late scheduled runs to catch up"
        newest = ", ".join(sorted(iso(run.due) for run in self.kept.values()))
        text = (f"{deployment}: {self.superseded} late scheduled runs superseded "
                f"(due {iso(self.first_due)} .. {iso(self.last_due)}, while no runner served it); "
                f"the newest late run (due {newest}) runs now and covers them")
        if self.refused:
            text += f"; {self.refused} had moved on meanwhile and were left as they are"
        return text


def iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "?"


def split_superseded(runs: Iterable[ScheduledRun], now: datetime,
                     keep: dict[Key, ScheduledRun] | None = None,
                     ) -> tuple[list[ScheduledRun], dict[Key, ScheduledRun]]:
    """Split Scheduled runs into the superseded ones and, per (deployment, parameters), the newest due one it keeps.

    Only auto-scheduled runs that are due (``due <= now``) and older than a due run of the same deployment with the
    same parameters are superseded. Not per schedule: a runner that serves again replaces the deployment's schedule,
    so the ticks of one outage can come from several schedules that no longer exist, all doing the same work.
    ``keep`` carries the kept runs of earlier pages, so a caller can page through runs newest first.
    """
    kept = dict(keep or {})
    superseded: list[ScheduledRun] = []
    for run in sorted(runs, key=lambda r: r.due, reverse=True):
        if not run.auto_scheduled or run.due > now:
            continue
        key = (run.deployment_id, run.parameters)
        newest = kept.get(key)
        if newest is None:
            kept[key] = run
        elif run.id != newest.id:
            superseded.append(run)
    return superseded, kept
