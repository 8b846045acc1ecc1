"""send_digests: the alert ledger's digest_pending entries -> one Slack message per subscription and period; with the
hourly run, the rollup_pending entries -> one "more coverage" message per (subscription, event) for webhooks.

Two schedules on the stack's Prefect server: hourly digests every hour, daily digests at 07:00 UTC.
Every decision is in govwatch.alerts.digest; the run (clients and all) is govwatch.wiring.digests, as for the CLI.
"""

from __future__ import annotations

import sys
from typing import cast

from prefect import flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from govwatch.settings import Settings
from govwatch.wiring.digests import run_digests


@flow(name="send-digests", log_prints=True)
def send_digests(period: str = "hourly") -> str:
    """Send the pending digests of every subscription in ``period`` mode."""
    summary = run_digests(Settings(), period)
    print(summary)
    return summary


def main() -> None:
    from .serving import catch_up_before_serving, prefect_api  # in main(): a script hands main() to govwatch_flows

    # MODULE_PATH: the runner re-imports govwatch_flows.send_digests for each run, wherever govwatch is installed.
    module_path = EntrypointType.MODULE_PATH
    # to_deployment is sync-compatible: called outside an event loop it returns the deployment itself.
    with prefect_api(Settings().prefect_api_url):
        catch_up_before_serving("send-digests/hourly", "send-digests/daily")  # an outage's late ticks: the newest runs
        serve(
            cast(RunnerDeployment, send_digests.to_deployment(
                name="hourly", interval=3600, parameters={"period": "hourly"}, paused=False,
                entrypoint_type=module_path)),
            cast(RunnerDeployment, send_digests.to_deployment(
                name="daily", cron="0 7 * * *", parameters={"period": "daily"}, paused=False,
                entrypoint_type=module_path)),
        )


if __name__ == "__main__":
    import importlib

    # As a script or with -m this module is __main__, which the runner cannot import: serve the installed module's flow.
    sys.exit(importlib.import_module("govwatch_flows.send_digests").main())
