"""evaluate_source_health: every enabled feed's health (failing, silent, extraction drift) -> incidents opened
and recovered once, their messages in the alert ledger (create-only ids) and on govwatch.alerts for the notifier,
addressed to the operations subscription (GOVWATCH_SOURCE_HEALTH_SUBSCRIPTION).

One schedule on the stack's Prefect server, every GOVWATCH_SOURCE_HEALTH_INTERVAL_S (600 s). A flow of its own: a
feed's health changes over hours, and a slow evaluation must hold back neither spikes nor digests. Every decision
is in govwatch.alerts.source_health*; the run is govwatch.wiring.source_health, as for `govwatch sources run`.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import cast

from prefect import flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from govwatch.settings import Settings
from govwatch.wiring.source_health import run_source_health


@flow(name="evaluate-source-health", log_prints=True)
def evaluate_source_health(now: str | None = None) -> str:
    """Evaluate every feed's health at ``now`` (ISO 8601; default: the clock); announce opened and healed incidents."""
    summary = run_source_health(Settings(), datetime.fromisoformat(now) if now else None)
    print(summary)
    return summary


def main() -> None:
    settings = Settings()
    from .serving import catch_up_before_serving, prefect_api  # in main(): a script hands main() to govwatch_flows

    # MODULE_PATH: the runner re-imports govwatch_flows.source_health for each run, wherever govwatch is installed.
    deployment = evaluate_source_health.to_deployment(name="every-interval",
                                                      interval=settings.source_health_interval_s, paused=False,
                                                      entrypoint_type=EntrypointType.MODULE_PATH)
    with prefect_api(settings.prefect_api_url):
        catch_up_before_serving("evaluate-source-health/every-interval")  # an outage's late ticks: only the newest runs
        serve(cast(RunnerDeployment, deployment))


if __name__ == "__main__":
    import importlib

    # As a script or with -m this module is __main__, which the runner cannot import: serve the installed module's flow.
    sys.exit(importlib.import_module("govwatch_flows.source_health").main())
