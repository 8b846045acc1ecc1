"""The ``govwatch`` command line. Every sub-command builds Settings here and passes them down."""

from __future__ import annotations

import argparse
import sys

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout as ESConnectionTimeout
from kafka.errors import KafkaTimeoutError

from govwatch.errors import GovwatchError
from govwatch.settings import Settings


def _stack(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.stack import stack_down, stack_status, stack_up

    if args.action == "up":
        stack_up(settings, only=args.only)
        return 0
    if args.action == "down":
        stack_down(settings)
        return 0
    return 0 if stack_status(settings) else 1


def _init(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.bootstrap import bootstrap

    for line in bootstrap(settings):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="govwatch", description="AI-governance news monitoring pipeline")
    sub = parser.add_subparsers(dest="command", required=True)

    stack = sub.add_parser("stack", help="local Kafka + Elasticsearch + Prefect, no Docker")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.add_argument("--only", action="append", choices=["kafka", "elasticsearch", "prefect"],
                       help="start only this service (repeatable)")
    stack.set_defaults(handler=_stack)

    init = sub.add_parser("init", help="create Kafka topics and Elasticsearch templates/indices (idempotent)")
    init.set_defaults(handler=_init)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list = []


def register_command(fn):  # noqa: ANN001, ANN201 - decorator used by command modules
    """Let a command module add its sub-parser (keeps this file small as commands grow)."""
    _EXTRA_COMMANDS.append(fn)
    return fn


def main(argv: list[str] | None = None) -> int:
    _load_command_modules()
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    from govwatch.log import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    try:
        return args.handler(args, settings)
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


def _load_command_modules() -> None:
    """Import the modules that register more sub-commands (poll, subscriptions, run ...)."""
    import importlib

    for name in ("govwatch.commands",):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


if __name__ == "__main__":
    # Run as `python -m govwatch.cli`: use the imported module, where the command modules register.
    from govwatch.cli import main as _main

    sys.exit(_main())
