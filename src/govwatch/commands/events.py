"""``govwatch events list | show``: the events found so far, and one event with all its coverage.

Exit codes: 0 shown; 1 no such event; 2 a malformed id or argument, or Elasticsearch unreachable (the CLI's
usual error line).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta

from govwatch.settings import Settings

RELATIVE = re.compile(r"^(\d{1,4})([hd])$")
TITLE_CHARS = 90
MAX_LIMIT = 200


def _since(value: str) -> datetime:
    """``7d``/``12h`` back from now, or an ISO time with a zone."""
    rel = RELATIVE.match(value)
    if rel:
        n, unit = int(rel.group(1)), rel.group(2)
        return datetime.now(UTC) - (timedelta(days=n) if unit == "d" else timedelta(hours=n))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--since takes 7d, 12h or an ISO time such as 2026-12-01T08:00Z, not {value!r}") from exc
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--since needs a time zone (add Z for UTC): {value!r}")
    return parsed


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"--limit takes a whole number from 1 to {MAX_LIMIT}, not {value!r}")
    return int(value)


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.web.events import list_events
    from govwatch.wiring.clients import elasticsearch

    rows = list_events(elasticsearch(settings), settings.index_prefix, settings.index("stories"),
                       since=args.since, limit=args.limit, order=args.order)
    print(f"{len(rows)} events" + (f" seen since {args.since:%Y-%m-%d %H:%M}Z" if args.since else ""))
    for e in rows:
        print(f"{e.first_seen[:16].replace('T', ' ')}  {e.outlet_count:>3} outlets {e.story_count:>4} stories  "
              f"{','.join(e.languages) or '-':<8} {_clip(e.title or '(no title)', TITLE_CHARS)}")
        print(f"    {e.event_id}")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.adapters.event_index import is_event_id
    from govwatch.web.events import event_view
    from govwatch.wiring.clients import elasticsearch

    if not is_event_id(args.event_id):
        print(f"govwatch: error: {args.event_id[:80]!r} is not an event id (64 lowercase hex characters)",
              file=sys.stderr)
        return 2
    view = event_view(elasticsearch(settings), settings.index_prefix, settings.index("stories"), args.event_id)
    if view is None:
        print(f"govwatch: error: no event {args.event_id} in {settings.index('events')}", file=sys.stderr)
        return 1
    print(view.title or "(no title)")
    print(f"  event {view.event_id}")
    print(f"  first report {view.first_seen}, latest {view.last_seen}")
    print(f"  {view.story_count} stories in {view.outlet_count} outlets; languages: "
          f"{', '.join(view.languages) or '-'}")
    print(f"  entities: {', '.join(e['name'] for e in view.entities) or '-'}")
    print(f"  topics: {', '.join(t['label'] for t in view.topics) or '-'}")
    print("coverage:")
    for c in view.coverage:
        mark = "*" if c.first_report else " "
        print(f"{mark} {c.published[:16].replace('T', ' ')}  {_clip(c.outlet, 24):<24} {c.language or '-':<3} "
              f"{_clip(c.title or '(no title)', TITLE_CHARS)}")
        if c.url:
            print(f"      {c.url}")
    print("(* first report)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("events", help="list the events found so far, or show one with all its coverage")
    actions = parser.add_subparsers(dest="events_action", required=True)
    listing = actions.add_parser("list", help="events by outlets (or stories, or newest first)")
    listing.add_argument("--since", type=_since, help="only events reported since: 7d, 12h or an ISO time")
    listing.add_argument("--limit", type=_limit, default=20, metavar="N",
                         help="at most N events (1-200, default 20)")
    listing.add_argument("--order", choices=("outlets", "stories", "recent"), default="outlets")
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="one event: its title, counts, entities, topics and every story")
    show.add_argument("event_id", help="the event id (64 hex characters, as `events list` prints it)")
    show.set_defaults(handler=_show)
