"""``govwatch subscriptions add | list | show | edit | pause | resume | rm | test``.

Secrets (webhook URL, bot token) are read from the command line or, with ``-``, from stdin (so they
stay out of shell history and ``ps``); they are never printed: ``list`` and ``show`` mask them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import ValidationError

from govwatch.cli import register_command
from govwatch.errors import InvalidQuery
from govwatch.settings import Settings


def _secret(value: str | None) -> str | None:
    if value == "-":
        return sys.stdin.readline().strip()
    return value


def _filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topic", action="append", dest="topics", help="taxonomy topic id (repeatable: any of)")
    p.add_argument("--entity", action="append", dest="entity_ids", help="entity id, e.g. Q458 (repeatable)")
    p.add_argument("--country", action="append", dest="countries", help="ISO alpha-2 country mentioned (repeatable)")
    p.add_argument("--source", action="append", dest="sources", help="outlet name (repeatable)")
    p.add_argument("--language", action="append", dest="languages", help="ISO 639-1 code (repeatable)")
    p.add_argument("--min-relevance", type=float, help="minimum relevance 0..1")
    p.add_argument("--allow-expensive", action="store_true", default=None,
                   help="allow leading wildcards and regular expressions (slow for every batch)")


def _dest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--webhook-url", help="Slack incoming-webhook URL ('-' reads it from stdin)")
    p.add_argument("--bot-token", help="Slack bot token ('-' reads it from stdin)")
    p.add_argument("--channel", help="Slack channel for the bot token")
    p.add_argument("--mode", choices=["immediate", "hourly", "daily"])
    p.add_argument("--owner")


@register_command
def register(sub: Any) -> None:
    p = sub.add_parser("subscriptions", help="keyword alert subscriptions (Lucene query syntax, as in Kibana)")
    p.set_defaults(handler=_run)
    acts = p.add_subparsers(dest="action", required=True)
    add = acts.add_parser("add", help="validate and save a subscription")
    add.add_argument("--name", required=True)
    add.add_argument("--query", required=True, help='Lucene query, e.g. \'"AI Act" AND (fine OR enforcement)\'')
    _filter_args(add)
    _dest_args(add)
    add.add_argument("--dry-run", action="store_true", help="validate and backtest, do not save")
    add.add_argument("--days", type=int, default=7, help="backtest window for --dry-run")
    acts.add_parser("list", help="all subscriptions (secrets masked)").add_argument("--json", action="store_true")
    for name in ("show", "pause", "resume", "rm"):
        acts.add_parser(name).add_argument("key", help="subscription id or name")
    edit = acts.add_parser("edit", help="change fields; the query is validated again")
    edit.add_argument("key")
    edit.add_argument("--name")
    edit.add_argument("--query")
    _filter_args(edit)
    _dest_args(edit)
    test = acts.add_parser("test", help="backtest: matches per day and top matches over the last N days")
    test.add_argument("key", nargs="?", help="subscription id or name (or use --query)")
    test.add_argument("--query")
    test.add_argument("--days", type=int, default=7)
    test.add_argument("--top", type=int, default=5)
    _filter_args(test)


def _filters(args: argparse.Namespace, base: Any = None) -> Any:
    from govwatch.alerts.subscriptions import Filters

    current = base.model_dump() if base is not None else {}
    for field in ("topics", "entity_ids", "countries", "sources", "languages"):
        if getattr(args, field, None):
            current[field] = getattr(args, field)
    if getattr(args, "min_relevance", None) is not None:
        current["min_relevance"] = args.min_relevance
    return Filters(**current)


def _destination(args: argparse.Namespace, base: Any = None) -> Any:
    from govwatch.alerts.subscriptions import Destination

    webhook, token = _secret(args.webhook_url), _secret(args.bot_token)
    if webhook:
        return Destination(kind="webhook", webhook_url=webhook)
    if token or args.channel:
        old = base.bot_token if base is not None and base.kind == "bot" else None
        return Destination(kind="bot", bot_token=token or old, channel=args.channel or (base.channel if base else None))
    if base is not None:
        return base
    raise InvalidQuery("a destination is required: --webhook-url URL, or --bot-token TOKEN --channel C")


def _print_view(sub: Any) -> None:
    print(json.dumps(sub.public_view(), indent=2, ensure_ascii=False))


def _resume(settings: Settings, es: Any, store: Any, key: str) -> int:  # noqa: ANN401
    """Unpause, then release the alerts held while paused as one catch-up digest (again on a re-run)."""
    from govwatch.alerts.ledger import Ledger
    from govwatch.alerts.slack_send import make_sender
    from govwatch.errors import DeliveryRejected, TransientError
    from govwatch.models import utcnow
    from govwatch.stages.notifier import release_held

    sub = store.set_paused(key, False)
    print(f"{sub.id} active")
    sender, client = make_sender(settings)
    try:
        released = release_held(sub, Ledger(es, settings.index("alert-ledger")), sender, settings.slack_api_base,
                                utcnow())
    except (DeliveryRejected, TransientError) as exc:
        print(f"govwatch: error: the alerts held while {sub.id} was paused could not be sent ({exc}); they stay "
              f"held: fix the destination or wait, then run `govwatch subscriptions resume {sub.id}` again",
              file=sys.stderr)
        return 1
    finally:
        client.close()
    if released:
        print(f"{released} alert(s) held while paused sent as one catch-up message")
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch import es_io
    from govwatch.alerts.backtest import backtest
    from govwatch.alerts.query import validate
    from govwatch.alerts.store import SubscriptionStore
    from govwatch.alerts.subscriptions import Subscription

    es = es_io.make_client(settings)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    alias = settings.index("stories")
    try:
        if args.action == "add":
            sub = Subscription(name=args.name, query=args.query, filters=_filters(args),
                               destination=_destination(args), mode=args.mode or "immediate",
                               owner=args.owner or "", allow_expensive=bool(args.allow_expensive))
            validate(es, alias, sub.query, sub.filters, sub.allow_expensive)
            if args.dry_run:
                print(backtest(es, alias, sub.query, sub.filters, args.days, allow_expensive=sub.allow_expensive).render())
                print("dry run: not saved")
                return 0
            store.add(sub)
            print(f"added {sub.id} ({sub.name}) -> {sub.destination.masked()}")
        elif args.action == "list":
            subs = store.list()
            if args.json:
                print(json.dumps([s.public_view() for s in subs], indent=2, ensure_ascii=False))
            for s in [] if args.json else subs:
                state = "paused" if s.paused else "active"
                print(f"{s.id}  {state:6}  {s.mode:9}  {s.name}  [{s.query}]  -> {s.destination.masked()}")
        elif args.action == "show":
            _print_view(store.get(args.key))
        elif args.action == "pause":
            sub = store.set_paused(args.key, True)
            print(f"{sub.id} paused")  # its new alerts are held in the ledger; `resume` sends them as one message
        elif args.action == "resume":
            return _resume(settings, es, store, args.key)
        elif args.action == "rm":
            sub = store.delete(args.key)
            print(f"removed {sub.id} ({sub.name})")
        elif args.action == "edit":
            old = store.get(args.key)
            changes: dict[str, Any] = {"filters": _filters(args, old.filters), "destination": _destination(args, old.destination)}
            for field in ("name", "query", "mode", "owner"):
                if getattr(args, field, None):
                    changes[field] = getattr(args, field)
            if args.allow_expensive is not None:
                changes["allow_expensive"] = args.allow_expensive
            new = Subscription.model_validate({**old.model_dump(), **{k: v.model_dump() if hasattr(v, "model_dump")
                                                                       else v for k, v in changes.items()}})
            new = new.model_copy(update={"destination": changes["destination"]})
            validate(es, alias, new.query, new.filters, new.allow_expensive)
            _print_view(store.save(new))
        elif args.action == "test":
            if args.key:
                sub = store.get(args.key)
                query, filters, expensive = sub.query, _filters(args, sub.filters), sub.allow_expensive
            elif args.query:
                query, filters, expensive = args.query, _filters(args), bool(args.allow_expensive)
            else:
                raise InvalidQuery("give a subscription id/name or --query")
            validate(es, alias, query, filters, expensive)
            print(backtest(es, alias, query, filters, args.days, args.top, expensive).render())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "subscription"
        print(f"govwatch: error: invalid {where}: {first.get('msg')}", file=sys.stderr)
        return 2
    return 0
