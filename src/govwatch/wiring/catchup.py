"""Catch-up after an outage: a served deployment's late scheduled ticks, all but the newest, are superseded.

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
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

Key = tuple[UUID | None, str]  # (deployment, parameters)

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

SUPERSEDED = "Superseded"
PAGE = 200  # the API's default page size
MAX_RUNS = 100_000  # a bound on one catch-up pass: months of one-minute ticks


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
    kept: dict[Key, ScheduledRun] | None = None
    refused: int = 0  # the server refused the state change (the run moved on meanwhile): left as it is

    def render(self, deployment: str) -> str:
        if not self.superseded and not self.refused:
            return f"{deployment}: no late scheduled runs to catch up"
        newest = ", ".join(sorted(_iso(run.due) for run in (self.kept or {}).values()))
        text = (f"{deployment}: {self.superseded} late scheduled runs superseded "
                f"(due {_iso(self.first_due)} .. {_iso(self.last_due)}, while no runner served it); "
                f"the newest late run (due {newest}) runs now and covers them")
        if self.refused:
            text += f"; {self.refused} had moved on meanwhile and were left as they are"
        return text


def _iso(moment: datetime | None) -> str:
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


def supersede_late_runs(deployment_names: Iterable[str], now: Callable[[], datetime] | None = None) -> list[str]:
    """One catch-up pass for each served deployment ("flow-name/deployment-name") that exists; returns a line each.

    Talks to the Prefect API of PREFECT_API_URL, the one the runner will use.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    clock = now or (lambda: datetime.now(UTC))
    lines = []
    with get_client(sync_client=True) as client:
        for name in deployment_names:
            try:
                deployment = client.read_deployment_by_name(name)
            except ObjectNotFound:
                lines.append(f"{name}: not deployed yet, nothing to catch up")
                continue
            lines.append(_catch_up(client, deployment.id, clock()).render(name))
    return lines


def _catch_up(client: SyncPrefectClient, deployment_id: UUID, now: datetime) -> Catchup:
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterNextScheduledStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import State, StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.states import Cancelled

    result = Catchup(kept={})
    handled: list[UUID] = []  # runs seen and left Scheduled (kept, a person's, or refused): not fetched again
    seen = 0
    while seen < MAX_RUNS:
        page = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(not_any_=handled) if handled else None,
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(before_=now)),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=PAGE)
        if not page:
            break
        seen += len(page)
        runs = [_view(run) for run in page]
        superseded, result.kept = split_superseded(runs, now, result.kept)
        by_id = {run.id for run in superseded}
        handled.extend(run.id for run in runs if run.id not in by_id)
        for run in superseded:
            covering = result.kept[(run.deployment_id, run.parameters)]
            state: State[None] = Cancelled(name=SUPERSEDED, message=(
                f"superseded: due {_iso(run.due)} while no runner served this deployment; the late run due "
                f"{_iso(covering.due)} ({covering.id}) does its work"))
            outcome = client.set_flow_run_state(run.id, state)
            if getattr(outcome.status, "value", outcome.status) == "ACCEPT":
                result.superseded += 1
                result.first_due = min(result.first_due or run.due, run.due)
                result.last_due = max(result.last_due or run.due, run.due)
            else:
                result.refused += 1
                handled.append(run.id)
    return result


def _view(run: FlowRun) -> ScheduledRun:
    due = run.next_scheduled_start_time or run.expected_start_time or datetime.min.replace(tzinfo=UTC)
    return ScheduledRun(id=run.id, deployment_id=run.deployment_id,
                        parameters=json.dumps(run.parameters, sort_keys=True, default=str),
                        auto_scheduled=bool(run.auto_scheduled), due=due)


def catch_up_before_serving(*deployment_names: str) -> None:
    """Print one catch-up line per deployment; a failure is reported and serving goes on (the late runs then run one
    by one, as without the catch-up)."""
    try:
        lines = supersede_late_runs(deployment_names)
    except Exception as exc:  # noqa: BLE001 - the catch-up is an optimisation; serving must start regardless
        lines = [f"{', '.join(deployment_names)}: catch-up of late scheduled runs skipped ({type(exc).__name__}: "
                 f"{exc}); the late runs will run one by one"]
    for line in lines:
        print(line, flush=True)
