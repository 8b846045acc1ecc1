"""evaluate_spikes: every active subscription's spike rule -> the alert ledger (create-only spike ids) and
govwatch.alerts (the notifier posts them like keyword alerts).

One schedule on the stack's Prefect server, every GOVWATCH_SPIKE_INTERVAL_S (300 s). A flow of its own rather than
a step of send-digests: digests tick hourly and daily, a spike must be seen within minutes, and a slow or failing
spike search must not hold a digest back. Every decision is in govwatch.alerts.spike*; the run is
govwatch.wiring.spikes, as for `govwatch spikes run`.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import cast

from prefect import flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from govwatch.settings import Settings
from govwatch.wiring.spikes import run_spikes


@flow(name="evaluate-spikes", log_prints=True)
def evaluate_spikes(now: str | None = None) -> str:
    """Evaluate every spike rule at ``now`` (ISO 8601; default: the clock) and announce the new spikes."""
    summary = run_spikes(Settings(), datetime.fromisoformat(now) if now else None)
    print(summary)
    return summary


def main() -> None:
    settings = Settings()
    from .serving import catch_up_before_serving, prefect_api  # in main(): a script hands main() to govwatch_flows

    # MODULE_PATH: the runner re-imports govwatch_flows.spikes for each run, wherever govwatch is installed.
    deployment = evaluate_spikes.to_deployment(name="every-interval", interval=settings.spike_interval_s,
                                               paused=False, entrypoint_type=EntrypointType.MODULE_PATH)
    with prefect_api(settings.prefect_api_url):
        catch_up_before_serving("evaluate-spikes/every-interval")  # an outage's late ticks: only the newest runs
        serve(cast(RunnerDeployment, deployment))


if __name__ == "__main__":
    import importlib

    # As a script or with -m this module is __main__, which the runner cannot import: serve the installed module's flow.
    sys.exit(importlib.import_module("govwatch_flows.spikes").main())
