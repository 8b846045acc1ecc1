"""``govwatch spikes add | list | rm | run | test``: spike rules on subscriptions (see README "Spike alerts").

A spike rule lives on a subscription (``Subscription.spike``): it counts the subscription's query and filters, or
with ``--entity`` the relevant stories about one entity, and alerts the subscription's destination.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from govwatch.errors import InvalidQuery
from govwatch.settings import Settings

MAX_TEST_DAYS = 365


def _rule_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", type=float, help="fire at k x the baseline mean or more (default 3)")
    p.add_argument("--window-minutes", type=int, help="window counted, minutes (default 360)")
    p.add_argument("--baseline-windows", type=int, help="windows before it averaged as the baseline (default 28)")
    p.add_argument("--min-count", type=int, help="fire only with at least this many stories (default 5)")
    p.add_argument("--entity", dest="entity_id", help="count stories about this entity id instead of the query")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("spikes", help="spike rules: alert once when coverage of a subscription or entity surges")
    p.set_defaults(handler=_run)
    acts = p.add_subparsers(dest="action", required=True)
    add = acts.add_parser("add", help="set (or replace) the spike rule of a subscription")
    add.add_argument("key", help="subscription id or name")
    _rule_args(add)
    acts.add_parser("list", help="subscriptions with a spike rule, and each rule's state")
    acts.add_parser("rm", help="remove a subscription's spike rule").add_argument("key")
    run = acts.add_parser("run", help="evaluate every rule now (what the scheduled flow does)")
    run.add_argument("--now", help="evaluate as of this ISO 8601 time (UTC); default: the clock")
    test = acts.add_parser("test", help="backtest: when the rule would have fired over the last N days")
    test.add_argument("key", help="subscription id or name")
    test.add_argument("--days", type=int, default=7)
    test.add_argument("--step-minutes", type=int, help="evaluation step replayed (default: GOVWATCH_SPIKE_INTERVAL_S)")
    test.add_argument("--now", help="the history ends at this ISO 8601 time (UTC); default: the clock")
    _rule_args(test)


def _rule(args: argparse.Namespace, base: Any) -> Any:  # noqa: ANN401 - SpikeRule
    from govwatch.alerts.spike import SpikeRule

    given = {name: getattr(args, name) for name in ("k", "window_minutes", "baseline_windows", "min_count",
                                                    "entity_id") if getattr(args, name) is not None}
    start = base.model_dump() if base is not None else {}
    return SpikeRule.model_validate({**start, **given})


def _describe(rule: Any) -> str:  # noqa: ANN401 - SpikeRule
    what = f"entity {rule.entity_id}" if rule.entity_id else "query"
    return (f"{what}: >= {rule.k:g} x mean of {rule.baseline_windows} windows and >= {rule.min_count}, "
            f"window {rule.window_minutes} min")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.alerts.spike_state import SpikeStates
    from govwatch.alerts.store import SubscriptionStore
    from govwatch.wiring.clients import elasticsearch

    es = elasticsearch(settings)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    if args.action == "run":
        from govwatch.wiring.spikes import run_spikes

        print(run_spikes(settings, _when(args.now)))
        return 0
    if args.action == "list":
        states = SpikeStates(es, settings.index("spike-state")).all()
        for sub in store.with_spike():
            state = states.get(sub.id, {})
            status = "armed" if state.get("armed", True) else f"in a spike since {state.get('spike_started_at')}"
            print(f"{sub.id}  {sub.name}  [{_describe(sub.spike)}]  {status}  fired {state.get('fired_count', 0)}x")
        return 0
    sub = store.get(args.key)
    if args.action == "rm":
        store.save(sub.model_copy(update={"spike": None}))
        print(f"removed the spike rule of {sub.id} {sub.name}")
        return 0
    try:
        rule = _rule(args, sub.spike)
    except ValidationError as exc:
        raise InvalidQuery(f"invalid spike rule: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    if args.action == "add":
        store.save(sub.model_copy(update={"spike": rule}))
        print(f"spike rule of {sub.id} {sub.name}: {_describe(rule)}")
        return 0
    return _test(args, settings, es, sub, rule)


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _test(args: argparse.Namespace, settings: Settings, es: Any, sub: Any, rule: Any) -> int:  # noqa: ANN401
    from govwatch.alerts.spike_run import backtest

    if not 1 <= args.days <= MAX_TEST_DAYS:
        raise InvalidQuery(f"--days must be between 1 and {MAX_TEST_DAYS}")
    step = args.step_minutes or max(1, settings.spike_interval_s // 60)
    fired = backtest(es, settings.index("stories"), sub, rule, args.days, step, _when(args.now) or datetime.now(UTC),
                     settings.alert_preview_timeout_s)
    print(f"{sub.name} [{_describe(rule)}]: {len(fired)} spike(s) in the last {args.days} days")
    for firing in fired:
        series = firing.series
        print(f"  {firing.at:%Y-%m-%d %H:%M} UTC  {series.current} stories (baseline mean {series.mean:.1f})")
    return 0
