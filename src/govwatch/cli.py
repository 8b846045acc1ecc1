"""The ``govwatch`` command line. Every sub-command builds Settings here and passes them down."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from importlib.metadata import entry_points

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout as ESConnectionTimeout
from kafka.errors import KafkaTimeoutError

from govwatch.errors import GovwatchError
from govwatch.settings import Settings

# modules of govwatch.commands
PRODUCT_COMMANDS = ("poll", "subscriptions", "digest", "dlq", "events", "kibana", "web", "spikes",
                    "sources")
COMMAND_ENTRY_POINTS = "govwatch.commands"  # where govwatch-dev (devtools/) adds its sub-commands
DEVELOPMENT_COMMANDS = {"stack": "local Kafka + Elasticsearch + Prefect, no Docker",
                        "demo": "run the pipeline end to end on the bundled offline news sample"}


def _init(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.adapters.bootstrap import bootstrap

    for line in bootstrap(settings):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="govwatch", description="AI-governance news monitoring pipeline")
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="create Kafka topics and Elasticsearch templates/indices (idempotent)")
    init.set_defaults(handler=_init)

    for name in PRODUCT_COMMANDS:
        importlib.import_module(f"govwatch.commands.{name}").register(sub)
    _add_development_commands(sub)
    return parser


def _add_development_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``govwatch stack`` and ``govwatch demo`` come from the govwatch-dev distribution of a checkout (entry point
    group ``govwatch.commands``). Without it, they still parse and say how to get them."""
    found = {ep.name: ep for ep in entry_points(group=COMMAND_ENTRY_POINTS)}
    for _name, ep in sorted(found.items()):
        ep.load()(sub)
    for name, helptext in DEVELOPMENT_COMMANDS.items():
        if name not in found:
            missing = sub.add_parser(name, help=f"{helptext} (development tooling, not installed)")
            missing.add_argument("rest", nargs=argparse.REMAINDER)
            missing.set_defaults(handler=_not_installed(name))


def _not_installed(name: str) -> Callable[[argparse.Namespace, Settings], int]:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        print(f"govwatch: error: `govwatch {name}` is development tooling from the repository checkout and is not "
              "installed here; in a checkout run `. deploy/bootstrap-env.sh` (or `pip install -e ./devtools`)",
              file=sys.stderr)
        return 2
    return handler


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    from govwatch.log import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    try:
        status: int = args.handler(args, settings)
        return status
    except GovwatchError as exc:
        print(f"govwatch: error: {exc}", file=sys.stderr)
        return 2
    except (ESConnectionError, ESConnectionTimeout) as exc:
        print(f"govwatch: error: Elasticsearch at {settings.es_url} is unreachable ({type(exc).__name__}); "
              "start the local stack with `govwatch stack up` or set GOVWATCH_ES_URL", file=sys.stderr)
        return 2
    except KafkaTimeoutError:
        print(f"govwatch: error: no Kafka broker answers at {settings.kafka_bootstrap}; start the local stack "
              "with `govwatch stack up` or set GOVWATCH_KAFKA_BOOTSTRAP", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
