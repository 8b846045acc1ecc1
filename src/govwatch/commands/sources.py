"""``govwatch sources list | show | run``: each feed's health (see README "Source health").

``list`` prints one line per enabled feed, ``show`` everything known of one feed, ``run`` evaluates every feed now
(what the scheduled ``source-health`` flow does) and announces the incidents it opens or heals.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from govwatch.errors import InvalidQuery
from govwatch.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sources", help="source health: failing, silent and extraction-drifting feeds")
    p.set_defaults(handler=_run)
    acts = p.add_subparsers(dest="action", required=True)
    ls = acts.add_parser("list", help="every enabled feed: last success, last new story, extraction, incidents")
    ls.add_argument("--now", help="as of this ISO 8601 time (UTC); default: the clock")
    show = acts.add_parser("show", help="one feed's state and open incidents")
    show.add_argument("feed_id")
    show.add_argument("--now", help="as of this ISO 8601 time (UTC); default: the clock")
    run = acts.add_parser("run", help="evaluate every feed now (what the scheduled flow does)")
    run.add_argument("--now", help="evaluate as of this ISO 8601 time (UTC); default: the clock")


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _at(value: str | None) -> str:
    return "never" if value is None else f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def line(view: dict[str, Any]) -> str:
    """One feed in one line."""
    kinds = ",".join(i["kind"] for i in view["incidents"]) or "ok"
    gap = "n/a" if view["typical_gap_h"] is None else f"{view['typical_gap_h']:g} h"
    return (f"{view['feed_id']}  [{kinds}]  success {_at(view['last_success_at'])}  new {_at(view['last_new_at'])}"
            f"  every {gap}  extracted {_share(view['extraction_today'])} today vs "
            f"{_share(view['extraction_before'])} before")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.wiring.source_health import overviews, run_source_health

    if args.action == "run":
        print(run_source_health(settings, _when(args.now)))
        return 0
    if args.action == "list":
        for view in overviews(settings, _when(args.now)):
            print(line(view))
        return 0
    views = overviews(settings, _when(args.now), only=args.feed_id)
    if not views:
        raise InvalidQuery(f"no enabled feed {args.feed_id!r} in the registry")
    view = views[0]
    print(line(view))
    print(f"name: {view['name']}")
    print(f"last attempt: {_at(view['last_attempt_at'])}; failures in a row: {view['consecutive_failures']}"
          + (f"; last error: {view['last_error']}" if view["last_error"] else ""))
    print(f"stories: {view['stories_today']} in the last 24 h, {view['stories_before']} the days before")
    for incident in view["incidents"]:
        print(f"open incident: {incident['kind']} since {_at(incident['opened_at'])}: {incident['reason']}")
    return 0
