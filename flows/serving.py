"""What every served flow does around `serve`: talk to the configured Prefect server, and catch up after an outage.

* ``prefect_api(url)``: Prefect reads PREFECT_API_URL once, when it is imported, so a flow module (which imports
  Prefect at its top) that only sets the variable in main() would serve on a temporary in-process server instead of
  GOVWATCH_PREFECT_API_URL's. The context sets the current settings too (and the environment, for the run processes).
* ``catch_up_before_serving``: supersede an outage's late scheduled ticks, all but the newest, which runs at once.
  Why, and which ticks: govwatch.wiring.catchup (the decision; the govwatch package never imports Prefect).

Each flow module imports this one relatively inside main(): run as a script (`python flows/spikes.py`), a flow module
hands main() over to the installed govwatch_flows module first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelled

from govwatch.wiring.catchup import Catchup, ScheduledRun, iso, split_superseded

SUPERSEDED = "Superseded"
PAGE = 200  # the API's default page size
MAX_RUNS = 100_000  # a bound on one catch-up pass: months of one-minute ticks


@contextmanager
def prefect_api(url: str) -> Iterator[None]:
    """Within the context, Prefect (this process's client and runner, and the run processes it starts) uses ``url``."""
    os.environ["PREFECT_API_URL"] = url
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


def supersede_late_runs(deployment_names: Iterable[str], now: Callable[[], datetime] | None = None) -> list[str]:
    """One catch-up pass for each served deployment ("flow-name/deployment-name") that exists; returns a line each.

    Talks to the Prefect API of PREFECT_API_URL, the one the runner will use.
    """
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
    result = Catchup()
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
                f"superseded: due {iso(run.due)} while no runner served this deployment; the late run due "
                f"{iso(covering.due)} ({covering.id}) does its work"))
            outcome = client.set_flow_run_state(run.id, state)
            if outcome.status == SetStateStatus.ACCEPT:
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
