"""``govwatch poll``: run the poll_feeds flow once or serve it on the stack's Prefect server.

The flow file is loaded by path so that the govwatch package itself never imports Prefect.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import govwatch
from govwatch.cli import register_command
from govwatch.errors import ConfigError
from govwatch.settings import Settings

FLOW_FILE = Path(govwatch.__file__).resolve().parents[2] / "flows" / "poll_feeds.py"


def load_flow_module(path: Path = FLOW_FILE) -> ModuleType:
    """Import flows/poll_feeds.py from the repository checkout."""
    if not path.is_file():
        raise ConfigError(f"flow file {path} not found; run govwatch from a repository checkout")
    spec = importlib.util.spec_from_file_location("govwatch_flows_poll_feeds", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _poll(args: argparse.Namespace, settings: Settings) -> int:
    if args.serve:
        # Served from the flow file run as a script: Prefect's runner re-imports a deployment's flow by its
        # file path (entrypoint flows/poll_feeds.py:poll_feeds), which a module loaded by path cannot offer.
        # exec, not a child process: SIGTERM/SIGINT must reach the server itself (it pauses the deployment and
        # exits), never leave an orphan serving the deployment with stale settings.
        env = {**os.environ, "PREFECT_API_URL": settings.prefect_api_url}
        os.chdir(FLOW_FILE.parents[1])
        os.execve(sys.executable, [sys.executable, str(FLOW_FILE), "--serve"], env)
    result = load_flow_module().main(force=args.all)
    print(result["summary"])
    for problem in result["registry_problems"]:
        print(f"  registry: {problem}")
    return 0


@register_command
def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("poll", help="poll the feed registry and publish new stories to Kafka")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="poll the due feeds once and print the summary")
    mode.add_argument("--serve", action="store_true", help="serve a scheduled deployment on the Prefect server")
    parser.add_argument("--all", action="store_true", help="with --once: poll every feed, due or not")
    parser.set_defaults(handler=_poll)
