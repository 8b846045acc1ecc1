"""``govwatch dlq list | replay``: what the stages dead-lettered, and sending it through again."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from govwatch.settings import Settings

if TYPE_CHECKING:
    from govwatch.models import DeadLetter

REASON_CHARS = 140


def _since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--since takes an ISO date or time such as 2026-12-01T08:00Z, not {value!r}") from exc
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--since needs a time zone (add Z for UTC): {value!r}")
    return parsed


def _selected(args: argparse.Namespace, settings: Settings, unreadable: list[str]) -> list[DeadLetter]:
    from govwatch.adapters.dead_letters import LetterFilter, dlq_topics, read_letters

    wanted = LetterFilter(error_type=args.error_type, reason_contains=args.reason, key=args.key, since=args.since)
    topics = dlq_topics(settings.topic_prefix, args.topic)
    return [dl for dl in read_letters(settings, topics, unreadable.append) if wanted.accepts(dl)]


def _list(args: argparse.Namespace, settings: Settings) -> int:
    unreadable: list[str] = []
    letters = _selected(args, settings, unreadable)
    by_type = Counter((dl.topic, dl.error_type) for dl in letters)
    print(f"{len(letters)} dead letters" + (f" ({len(unreadable)} unreadable records)" if unreadable else ""))
    for (topic, error_type), n in sorted(by_type.items()):
        print(f"  {n:>5}  {topic}  {error_type}")
    shown = letters[-args.limit:] if args.limit else letters
    for dl in shown:
        reason = " ".join(dl.reason.split())[:REASON_CHARS]
        print(f"{dl.failed_at:%Y-%m-%d %H:%M:%S}Z  {dl.stage:<7} {dl.error_type:<18} key={(dl.key or '-')[:16]}  "
              f"from {dl.topic}[{dl.partition}]@{dl.offset}  {reason}")
    if len(shown) < len(letters):
        print(f"(the newest {len(shown)} shown; --limit 0 shows all)")
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.wiring.dlq import replay_letters

    unreadable: list[str] = []
    letters = _selected(args, settings, unreadable)
    if args.dry_run:
        print(f"would replay {len(letters)} dead letters (dry run; nothing sent)")
        return 0
    summary = replay_letters(settings, letters)
    summary.unreadable = len(unreadable)
    print(summary.render())
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from govwatch.adapters.dead_letters import STAGE_TOPICS

    parser = sub.add_parser("dlq", help="list or replay dead-lettered messages")
    actions = parser.add_subparsers(dest="dlq_action", required=True)
    for name, handler, help_text in (("list", _list, "show dead letters with their reasons"),
                                     ("replay", _replay, "produce dead letters again to their original topics")):
        p = actions.add_parser(name, help=help_text)
        p.add_argument("--topic", choices=STAGE_TOPICS, help="only the dead letters of this topic (default: all)")
        p.add_argument("--error-type", help="only this error type (e.g. RetriesExhausted, DeliveryRejected)")
        p.add_argument("--reason", help="only dead letters whose reason contains this text")
        p.add_argument("--key", help="only this story id (or message key)")
        p.add_argument("--since", type=_since, help="only dead letters from this time on (ISO, with a zone)")
        if name == "list":
            p.add_argument("--limit", type=int, default=50, help="rows to show, newest last (0: all)")
        else:
            p.add_argument("--dry-run", action="store_true", help="count what would be replayed, send nothing")
        p.set_defaults(handler=handler)



