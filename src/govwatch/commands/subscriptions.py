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
                   help="allow leading wildcards and regular expressions (slow for every batch; operators only: "
                        "the web app and API let only admins set it)")


def _dest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--webhook-url", help="Slack incoming-webhook URL ('-' reads it from stdin)")
    p.add_argument("--bot-token", help="Slack bot token ('-' reads it from stdin)")
    p.add_argument("--channel", help="Slack channel for the bot token")
    p.add_argument("--teams-url", help="Microsoft Teams Workflows/incoming-webhook URL ('-' reads it from stdin)")
    p.add_argument("--json-url", help="generic JSON webhook URL ('-' reads it from stdin)")
    p.add_argument("--signing-secret", help="HMAC-SHA256 key for the JSON webhook's signature ('-': stdin)")
    p.add_argument("--email", help="e-mail recipients, comma-separated (sent through the operator's SMTP server)")
    p.add_argument("--mode", choices=["immediate", "hourly", "daily"])
    p.add_argument("--granularity", choices=["event", "cluster", "story"],
                   help="announce each event once (default for add; later stories in its thread / roll-up), each "
                        "wire-copy cluster, or each story")
    p.add_argument("--owner")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    acts.add_parser("send-test", help="send a test message to the subscription's destination (any channel)"
                    ).add_argument("key", help="subscription id or name")
    test = acts.add_parser("test", help="backtest: matches per day and top matches over the last N days")
    test.add_argument("key", nargs="?", help="subscription id or name (or use --query)")
    test.add_argument("--query")
    test.add_argument("--days", type=int, default=7)
    test.add_argument("--top", type=int, default=5)
    _filter_args(test)


def _filters(args: argparse.Namespace, base: Any = None) -> Any:  # noqa: ANN401 - Filters
    from govwatch.alerts.subscription_service import FILTER_LISTS, merge_filters

    return merge_filters(base, {name: getattr(args, name, None) for name in (*FILTER_LISTS, "min_relevance")})


def _destination(args: argparse.Namespace, base: Any = None) -> Any:  # noqa: ANN401 - Destination
    from govwatch.alerts.channel_destination import other_destination
    from govwatch.alerts.subscription_service import merge_destination

    other = other_destination(_secret(args.teams_url), _secret(args.json_url), _secret(args.signing_secret),
                              args.email)
    return other or merge_destination(base, _secret(args.webhook_url), _secret(args.bot_token), args.channel)


# A listed query is cut to this many characters (a hostile one may be thousands long); `show` prints it whole.
LIST_QUERY_CHARS = 200


def _shown(query: str) -> str:
    return query if len(query) <= LIST_QUERY_CHARS else f"{query[:LIST_QUERY_CHARS]}... ({len(query)} chars)"


def _print_view(sub: Any) -> None:  # noqa: ANN401
    print(json.dumps(sub.public_view(), indent=2, ensure_ascii=False))


def _resume(service: Any, key: str) -> int:  # noqa: ANN401 - SubscriptionService
    """Unpause, then release the alerts held while paused as one catch-up digest (again on a re-run)."""
    from govwatch.alerts.subscription_service import CLI

    done = service.resume(CLI, key)
    sub = done.subscription
    print(f"{sub.id} active")
    if done.error is not None:
        print(f"govwatch: error: the alerts held while {sub.id} was paused could not be sent ({done.error}); they "
              f"stay held: fix the destination or wait, then run `govwatch subscriptions resume {sub.id}` again",
              file=sys.stderr)
        return 1
    if done.released:
        print(f"{done.released} alert(s) held while paused sent as one catch-up message")
    return 0


def _send_test(service: Any, key: str) -> int:  # noqa: ANN401 - SubscriptionService
    """Send the test message; a refusal or an outage is reported with the sender's (secret-free) reason."""
    from govwatch.alerts.subscription_service import CLI
    from govwatch.errors import DeliveryRejected, TransientError

    try:
        where = service.send_test(CLI, key)
    except (DeliveryRejected, TransientError) as exc:
        print(f"govwatch: error: the test message was not delivered: {exc}", file=sys.stderr)
        return 1
    print(f"test message sent -> {where}")
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Every action is one call of the service layer the web app uses too (govwatch.alerts.subscription_service)."""
    from govwatch.alerts.subscription_service import CLI
    from govwatch.alerts.subscriptions import DEFAULT_GRANULARITY, Subscription
    from govwatch.wiring.web import subscription_service

    service = subscription_service(settings)
    try:
        if args.action == "add":
            sub = Subscription(name=args.name, query=args.query, filters=_filters(args),
                               destination=_destination(args), mode=args.mode or "immediate",
                               granularity=args.granularity or DEFAULT_GRANULARITY,
                               owner=args.owner or "", allow_expensive=bool(args.allow_expensive))
            if args.dry_run:
                print(service.preview(sub.query, sub.filters, sub.allow_expensive, args.days, actor=CLI).render())
                print("dry run: not saved")
                return 0
            sub = service.create(CLI, sub)
            print(f"added {sub.id} ({sub.name}) -> {sub.destination.masked()}")
        elif args.action == "list":
            subs = service.list(CLI)
            if args.json:
                print(json.dumps([s.public_view() for s in subs], indent=2, ensure_ascii=False))
            for s in [] if args.json else subs:
                state = "paused" if s.paused else "active"
                print(f"{s.id}  {state:6}  {s.mode:9}  {s.name}  [{_shown(s.query)}]  -> {s.destination.masked()}")
                if s.problem is not None:  # the alert stage skips it: say so where the operator looks
                    print(f"    PROBLEM {s.problem.line()}")
        elif args.action == "show":
            _print_view(service.get(CLI, args.key))
        elif args.action == "pause":
            sub = service.pause(CLI, args.key)
            print(f"{sub.id} paused")  # its new alerts are held in the ledger; `resume` sends them as one message
        elif args.action == "resume":
            return _resume(service, args.key)
        elif args.action == "rm":
            sub = service.delete(CLI, args.key)
            print(f"removed {sub.id} ({sub.name})")
        elif args.action == "edit":
            old = service.get(CLI, args.key)
            changes: dict[str, Any] = {field: getattr(args, field, None) or None
                                       for field in ("name", "query", "mode", "granularity", "owner")}
            changes["filters"] = _filters(args, old.filters)
            changes["allow_expensive"] = args.allow_expensive
            _print_view(service.update(CLI, old.id, changes, _destination(args, old.destination)))
        elif args.action == "send-test":
            return _send_test(service, args.key)
        elif args.action == "test":
            if args.key:
                sub = service.get(CLI, args.key)
                query, filters, expensive = sub.query, _filters(args, sub.filters), sub.allow_expensive
            elif args.query:
                query, filters, expensive = args.query, _filters(args), bool(args.allow_expensive)
            else:
                raise InvalidQuery("give a subscription id/name or --query")
            print(service.preview(query, filters, expensive, args.days, args.top, actor=CLI).render())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "subscription"
        print(f"govwatch: error: invalid {where}: {first.get('msg')}", file=sys.stderr)
        return 2
    return 0
