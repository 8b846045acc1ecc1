"""``govwatch poll``: run the poll_feeds flow once or serve it on the stack's Prefect server.

The flow lives in ``flows/poll_feeds.py``, installed as the module ``govwatch_flows.poll_feeds``; it is imported
by name only when a poll runs, so that the govwatch package itself never imports Prefect.
"""

from __future__ import annotations

import argparse
import importlib
import os
from types import ModuleType

from govwatch.errors import ConfigError
from govwatch.settings import Settings

FLOW_MODULE = "govwatch_flows.poll_feeds"


def load_flow_module() -> ModuleType:
    """The installed poll flow module (``flows/poll_feeds.py``: same file from a checkout or a wheel)."""
    try:
        return importlib.import_module(FLOW_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in ("govwatch_flows", FLOW_MODULE):
            raise
        raise ConfigError(f"the flow module {FLOW_MODULE} is not installed; reinstall govwatch "
                          "(`pip install .` or `pip install govwatch-*.whl`)") from exc


def _poll(args: argparse.Namespace, settings: Settings) -> int:
    if args.serve:
        # Served in this process: SIGTERM/SIGINT reach the runner itself (it pauses the deployment and exits),
        # so no orphan keeps serving it. The deployment names its flow by module path, which Prefect's runner
        # re-imports for each scheduled run wherever govwatch is installed, from any working directory.
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
        load_flow_module().main(serve=True)
        return 0
    result = load_flow_module().main(force=args.all)
    print(result["summary"])
    for problem in result["registry_problems"]:
        print(f"  registry: {problem}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("poll", help="poll the feed registry and publish new stories to Kafka")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="poll the due feeds once and print the summary")
    mode.add_argument("--serve", action="store_true", help="serve a scheduled deployment on the Prefect server")
    parser.add_argument("--all", action="store_true", help="with --once: poll every feed, due or not")
    parser.set_defaults(handler=_poll)
