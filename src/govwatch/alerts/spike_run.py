"""One evaluation of the spike rules: measure, decide, record the spike, hand its alert to the notifier's path.

Order per rule, so that a spike is announced once and never lost:

1. A stored spike whose alert is not yet confirmed produced (a crash after step 3) is announced first.
2. One search measures the series (``spike_search.measure``); ``spike.decide`` says fire / hold / rearm / quiet.
3. fire: the state is written compare-and-set as disarmed WITH the spike's id and alert (losing the race to another
   evaluation means that one owns the rule this round); then the alert is recorded in the alert ledger create-only
   under the spike id and produced to the ``alerts`` topic (the same ledger + notifier path as keyword alerts);
   then the state says announced. A crash between any two steps is finished by the next evaluation (step 1), and
   the ledger's create-only key means it is never posted twice.
4. hold (the spike goes on, or has not stayed under the threshold for a whole window yet) posts nothing; rearm
   (under the threshold for a whole window since the last evaluation over it) arms the rule again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import gcd
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.spike import (
    Action,
    Firing,
    SpikeRule,
    decide,
    is_calm,
    is_over,
    replay,
    spike_id,
    threshold,
)
from govwatch.alerts.spike_search import Measured, event_titles, history, measure
from govwatch.alerts.spike_state import SpikeStates, State
from govwatch.alerts.subscriptions import Subscription
from govwatch.errors import GovwatchError
from govwatch.log import get_logger
from govwatch.models import Alert, AlertLink, Trace

log = get_logger("govwatch.spikes")

Publish = Callable[[Sequence[Alert]], None]  # produce to the alerts topic and wait for the acks


@dataclass
class SpikeContext:
    """What an evaluation needs, built by ``govwatch.wiring.spikes``."""

    es: Elasticsearch
    stories_alias: str
    events_index: str
    states: SpikeStates
    ledger: AlertLedger
    publish: Publish
    top: int = 5
    timeout_s: float = 10.0


@dataclass
class Summary:
    """One run over every rule: the action per rule name, and the rules that could not be evaluated."""

    actions: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        fired = sorted(name for name, action in self.actions.items() if action == "fire")
        parts = [f"spikes: {len(self.actions)} rules evaluated, {len(fired)} fired"]
        parts += [f"fired: {name}" for name in fired]
        parts += [f"failed: {name}: {reason}" for name, reason in sorted(self.failed.items())]
        return "; ".join(parts)


def _window_label(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def spike_alert(sub: Subscription, rule: SpikeRule, measured: Measured, titles: dict[str, str],
                start: datetime, now: datetime) -> Alert:
    """The channel-neutral alert of a spike: a title, plain lines (counts, top events) and links (top stories)."""
    sid = spike_id(sub.id, start)
    series = measured.series
    what = f"entity {rule.entity_id}" if rule.entity_id else sub.name
    title = (f"Spike: {what}: {series.current} stories in the last {_window_label(rule.window_minutes)} "
             f"({series.mean:.1f} usual)")
    lines = [f"{series.current} relevant stories since {start:%Y-%m-%d %H:%M} UTC; the {rule.baseline_windows} "
             f"windows before averaged {series.mean:.1f} (threshold {threshold(rule, series):.1f}: "
             f"{rule.k:g}x, at least {rule.min_count})"]
    for event_id, count in measured.top_events:
        lines.append(f"Event: {titles.get(event_id) or event_id[:12]} ({count} stories)")
    links = [AlertLink(title=f"{s.title} ({s.source})" if s.source else s.title, url=s.url)
             for s in measured.top_stories]
    top = measured.top_stories[0] if measured.top_stories else None
    return Alert(alert_id=sid, subscription_id=sub.id, subscription_name=sub.name, mode="immediate",
                 granularity="story", event_id=measured.top_events[0][0] if measured.top_events else None,
                 story_id=top.story_id if top else sid, cluster_id=sid, title=title, url=top.url if top else "",
                 source="govwatch spikes", kind="spike", lines=lines, links=links, trace=Trace(first_seen_at=now))


def announce(ctx: SpikeContext, alert: Alert, now: datetime) -> bool:
    """Record the spike's alert create-only in the ledger and produce it unless it already was; whether it was
    produced now."""
    recorded = ctx.ledger.record([alert], now)
    to_send = [r.produce for r in recorded if r.produce is not None]
    if to_send:
        ctx.publish(to_send)
        ctx.ledger.mark_produced([a.alert_id for a in to_send], now)
    return bool(to_send)


def _finish_pending(ctx: SpikeContext, state: State, now: datetime) -> State | None:
    """Step 1: a spike stored but not confirmed announced is announced now."""
    if not state.doc.get("spike_id") or state.doc.get("announced", True):
        return state
    announce(ctx, Alert.model_validate(state.doc["alert"]), now)
    return ctx.states.put(state, {**state.doc, "announced": True})


def evaluate(ctx: SpikeContext, sub: Subscription, now: datetime) -> Action | None:
    """Evaluate one subscription's spike rule at ``now``; its action, or None when another evaluation owned it."""
    rule = sub.spike
    if rule is None:
        raise ValueError(f"subscription {sub.id} has no spike rule")
    state = _finish_pending(ctx, ctx.states.get(sub.id), now)
    if state is None:
        return None
    measured = measure(ctx.es, ctx.stories_alias, sub, rule, now, ctx.top, ctx.timeout_s)
    over = is_over(rule, measured.series)
    last_over = state.doc.get("last_over_at")
    action = decide(state.armed, over, is_calm(rule, datetime.fromisoformat(last_over) if last_over else None, now))
    doc: dict[str, Any] = {**state.doc, "rule_id": sub.id, "last_action": action, "evaluated_at": now.isoformat(),
                           "last_count": measured.series.current,
                           "last_threshold": threshold(rule, measured.series)}
    if over:
        doc["last_over_at"] = now.isoformat()
    if action == "fire":
        start = now - rule.window
        titles = event_titles(ctx.es, ctx.events_index, [e for e, _ in measured.top_events])
        alert = spike_alert(sub, rule, measured, titles, start, now)
        doc.update(armed=False, spike_id=alert.alert_id, spike_started_at=start.isoformat(), announced=False,
                   alert=alert.model_dump(mode="json"), fired_count=int(state.doc.get("fired_count", 0)) + 1)
        written = ctx.states.put(state, doc)
        if written is None:
            return None
        announce(ctx, alert, now)
        ctx.states.put(written, {**doc, "announced": True})
    else:
        if action == "rearm":
            doc.update(armed=True, rearmed_at=now.isoformat())
        if ctx.states.put(state, doc) is None:
            return None
    log.info("spike_evaluated", subscription=sub.id, action=action, count=measured.series.current,
             baseline_mean=round(measured.series.mean, 2))
    return action


def evaluate_all(ctx: SpikeContext, subs: Sequence[Subscription], now: datetime) -> Summary:
    """Every active subscription with a spike rule; one rule's failure never stops the others."""
    summary = Summary()
    for sub in subs:
        if sub.spike is None or sub.paused:
            continue
        try:
            action = evaluate(ctx, sub, now)
        except GovwatchError as exc:
            summary.failed[sub.name] = str(exc)[:300]
            log.warning("spike_failed", subscription=sub.id, reason=str(exc)[:300])
            continue
        summary.actions[sub.name] = action or "skipped (another evaluation)"
    return summary


def backtest(es: Elasticsearch, alias: str, sub: Subscription, rule: SpikeRule, days: int, step_minutes: int,
             now: datetime, timeout_s: float) -> list[Firing]:
    """When the rule would have fired over the last ``days`` days, evaluated every ``step_minutes`` (shrunk to a
    divisor of the window, so every window is whole buckets); the same decision as the live evaluation."""
    bucket_minutes = gcd(rule.window_minutes, max(1, step_minutes))
    bucket = timedelta(minutes=bucket_minutes)
    span = timedelta(days=days) + rule.window * (rule.baseline_windows + 1)
    seconds = bucket.total_seconds()
    end = datetime.fromtimestamp((now.timestamp() // seconds) * seconds, tz=now.tzinfo)  # the last whole bucket
    counts, ends = history(es, alias, sub, rule, end - span, end, bucket, timeout_s)
    return replay(rule, counts, ends, rule.window_minutes // bucket_minutes)
