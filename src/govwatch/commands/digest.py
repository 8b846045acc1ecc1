"""``govwatch digest --period hourly|daily``: send the pending digests now (what the scheduled flow runs)."""

from __future__ import annotations

import argparse

from govwatch.settings import Settings


def _digest(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.wiring.digests import run_digests

    print(run_digests(settings, args.period))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("digest", help="send pending hourly or daily digests now")
    parser.add_argument("--period", choices=["hourly", "daily"], required=True)
    parser.set_defaults(handler=_digest)
