"""One source health evaluation (``govwatch sources run`` and the scheduled ``source-health`` flow): every enabled
feed measured (its poll state from ``feeds.state``, its stories from the stories alias), each (feed, kind) decided
by ``source_health``, incidents opened and recovered once, their messages sent to the operations destination.

Order per (feed, kind), as for spikes, so a message is announced once and never lost:

1. A message stored as pending (a crash after step 2) is announced first.
2. open / recover: the state is written compare-and-set WITH the message as pending (losing the race means another
   evaluation owns the feed this round); then the message is recorded create-only in the alert ledger under
   ``message_id(incident, open|recovered)`` and produced to the ``alerts`` topic (the notifier posts it to the
   operations subscription's destination, any channel kind); then the state drops the pending message.
Without an operations subscription (setting unset) incidents are recorded and shown, and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.source_health import (
    KINDS,
    PAGE_STATUSES,
    Extraction,
    HealthPolicy,
    Kind,
    Verdict,
    decide,
    extraction_drift,
    failing,
    incident_id,
    message_id,
    periods,
    silent,
    typical_gap_s,
)
from govwatch.alerts.source_health_state import HealthStates
from govwatch.alerts.spike_run import Publish
from govwatch.alerts.spike_state import State
from govwatch.alerts.subscriptions import Subscription
from govwatch.errors import GovwatchError, TransientError
from govwatch.feeds.state import FeedState
from govwatch.log import get_logger
from govwatch.models import Alert, AlertLink, Trace

log = get_logger("govwatch.source_health")
TITLES = {"failing": "is failing", "silent": "has gone silent", "extraction": "extraction dropped"}


@dataclass
class HealthContext:
    """What an evaluation needs, built by ``govwatch.wiring.source_health``."""

    es: Elasticsearch
    stories_alias: str
    states: HealthStates
    ledger: AlertLedger
    publish: Publish
    ops: Subscription | None
    web_base: str
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    timeout_s: float = 10.0


@dataclass(frozen=True)
class FeedFacts:
    """What is known of one feed at ``now``: its stories' first-seen times (newest first) and extraction counts."""

    feed_id: str
    name: str
    poll: FeedState
    seen: list[datetime]
    before: Extraction
    today: Extraction

    @property
    def last_new(self) -> datetime | None:
        return self.seen[0] if self.seen else None


def _extraction(agg: dict[str, Any]) -> Extraction:
    buckets = agg.get("status", {}).get("buckets", [])
    page = sum(int(b["doc_count"]) for b in buckets if b["key"] in PAGE_STATUSES)
    return Extraction(page=page, total=int(agg.get("doc_count", 0)))


MEASURE_BATCH = 100  # feeds per multi-search request


def _measure_body(ctx: HealthContext, feed_id: str, now: datetime) -> dict[str, Any]:
    """The feed's newest stories (for its typical gap) and its extraction counts per period, in one search body."""
    start, today, _ = periods(now, ctx.policy)
    seen_field = "trace.first_seen_at"

    def period(gte: datetime, lt: datetime) -> dict[str, Any]:
        return {"filter": {"range": {seen_field: {"gte": gte.isoformat(), "lt": lt.isoformat()}}},
                "aggs": {"status": {"terms": {"field": "extraction_status", "size": 10}}}}

    return {"query": {"bool": {"filter": [{"term": {"feed_id": feed_id}},
                                          {"range": {seen_field: {"lte": now.isoformat()}}}]}},
            "sort": [{seen_field: "desc"}], "size": ctx.policy.gap_window, "_source": [seen_field],
            "track_total_hits": False, "timeout": f"{int(ctx.timeout_s * 1000)}ms",
            "aggs": {"before": period(start, today), "today": period(today, now)}}


def _facts(feed_id: str, name: str, poll: FeedState, resp: dict[str, Any], timeout_s: float) -> FeedFacts:
    if resp.get("error"):
        reason = resp["error"].get("reason") if isinstance(resp["error"], dict) else resp["error"]
        raise TransientError(f"the source health search for {feed_id} failed: {str(reason)[:200]}")
    if resp.get("timed_out"):  # partial counts are never judged
        raise TransientError(f"the source health search for {feed_id} timed out after {timeout_s:g} s")
    seen = [datetime.fromisoformat(h["_source"]["trace"]["first_seen_at"]) for h in resp["hits"]["hits"]]
    aggs = resp.get("aggregations", {})
    return FeedFacts(feed_id, name, poll, seen, _extraction(aggs.get("before", {})), _extraction(aggs.get("today", {})))


def measure_many(ctx: HealthContext, feeds: Sequence[tuple[str, str]], polls: dict[str, FeedState],
                 now: datetime) -> dict[str, FeedFacts | GovwatchError]:
    """Every (feed id, name)'s facts, one multi-search per MEASURE_BATCH feeds; a feed whose search failed or timed
    out gets its error (that feed is skipped this round), never partial counts."""
    out: dict[str, FeedFacts | GovwatchError] = {}
    for at in range(0, len(feeds), MEASURE_BATCH):
        chunk = feeds[at:at + MEASURE_BATCH]
        searches: list[dict[str, Any]] = []
        for feed_id, _ in chunk:
            searches += [{"index": ctx.stories_alias, "ignore_unavailable": True}, _measure_body(ctx, feed_id, now)]
        try:
            resp = ctx.es.options(request_timeout=ctx.timeout_s + 5).msearch(searches=searches)
        except Exception as exc:  # translated at the edge; every feed of the chunk is skipped this round
            error = es_io.translate(exc, "source health search")
            if not isinstance(error, GovwatchError):
                raise error from exc  # not an Elasticsearch answer: a bug, not this round's weather
            out.update({feed_id: error for feed_id, _ in chunk})
            continue
        for (feed_id, name), item in zip(chunk, resp["responses"], strict=True):
            try:
                out[feed_id] = _facts(feed_id, name, polls.get(feed_id) or FeedState(feed_id), item, ctx.timeout_s)
            except GovwatchError as exc:
                out[feed_id] = exc
    return out


def measure(ctx: HealthContext, feed_id: str, name: str, poll: FeedState, now: datetime) -> FeedFacts:
    """One feed's facts (raises the search's error)."""
    found = measure_many(ctx, [(feed_id, name)], {feed_id: poll}, now)[feed_id]
    if isinstance(found, GovwatchError):
        raise found
    return found


def verdict(kind: Kind, facts: FeedFacts, state: State, now: datetime, policy: HealthPolicy) -> Verdict:
    """The condition of one kind for this feed."""
    poll = facts.poll
    if kind == "failing":
        seen_failing = state.doc.get("failing_seen_at")
        since = poll.last_success_at or (datetime.fromisoformat(seen_failing) if seen_failing else now)
        return failing(poll.consecutive_failures, since, poll.last_error, now, policy)
    if kind == "silent":
        return silent(facts.seen, poll.consecutive_failures > 0, now, policy)
    return extraction_drift(facts.before, facts.today, bool(state.doc.get("open")), policy)


def health_alert(ctx: HealthContext, ops: Subscription, facts: FeedFacts, kind: Kind, incident: str, reason: str,
                 which: str, opened_at: datetime, now: datetime) -> Alert:
    """The channel-neutral message of an incident's opening or recovery, linking to the feed's source page."""
    page = f"{ctx.web_base.rstrip('/')}/sources/{facts.feed_id}"
    if which == "open":
        title = f"Source health: {facts.name} {TITLES[kind]}"
        lines = [reason, f"Incident {incident[:12]} opened {opened_at:%Y-%m-%d %H:%M} UTC"]
    else:
        title = f"Recovered: {facts.name} ({kind})"
        lines = [f"Healed after {(now - opened_at).total_seconds() / 3600:.1f} h: {reason}",
                 f"Incident {incident[:12]} opened {opened_at:%Y-%m-%d %H:%M} UTC"]
    mid = message_id(incident, "open" if which == "open" else "recovered")
    return Alert(alert_id=mid, subscription_id=ops.id, subscription_name=ops.name, mode="immediate",
                 granularity="story", story_id=incident, cluster_id=incident, title=title, url=page,
                 source="govwatch source health", kind="health", lines=lines,
                 links=[AlertLink(title=f"Recent stories of {facts.name}", url=page)], trace=Trace(first_seen_at=now))


def _announce(ctx: HealthContext, alert: Alert, now: datetime) -> None:
    """Record the message create-only in the alert ledger and produce it unless it already was."""
    to_send = [r.produce for r in ctx.ledger.record([alert], now) if r.produce is not None]
    if to_send:
        ctx.publish(to_send)
        ctx.ledger.mark_produced([a.alert_id for a in to_send], now)


def _announce_pending(ctx: HealthContext, state: State, now: datetime) -> State | None:
    pending = state.doc.get("pending")
    if not pending:
        return state
    if ctx.ops is not None:
        _announce(ctx, Alert.model_validate(pending), now)
    return ctx.states.put(state, {**state.doc, "pending": None})


# Written every round only when something else changed: a round that decides nothing new writes nothing.
_BOOKKEEPING = ("last_action", "evaluated_at")


def _unchanged(before: dict[str, Any], after: dict[str, Any]) -> bool:
    def strip(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k not in _BOOKKEEPING and v is not None}

    return strip(before) == strip(after)


def evaluate_kind(ctx: HealthContext, facts: FeedFacts, kind: Kind, now: datetime,
                  read: State | None = None) -> str | None:
    """Decide one (feed, kind) and act; the action, or None when another evaluation owned it. ``read``: the state
    as read by a batch read of this round (default: read it now)."""
    state = _announce_pending(ctx, read if read is not None else ctx.states.get(facts.feed_id, kind), now)
    if state is None:
        return None
    found = verdict(kind, facts, state, now, ctx.policy)
    is_open = bool(state.doc.get("open"))
    action = decide(is_open, found.condition)
    doc: dict[str, Any] = {**state.doc, "last_action": action, "evaluated_at": now.isoformat(), "pending": None}
    if kind == "failing":
        failing_now = facts.poll.consecutive_failures > 0
        doc["failing_seen_at"] = (state.doc.get("failing_seen_at") or now.isoformat()) if failing_now else None
    if action in ("open", "recover"):
        opened_at = now if action == "open" else datetime.fromisoformat(state.doc["opened_at"])
        incident = incident_id(facts.feed_id, kind, now) if action == "open" else state.doc["incident_id"]
        doc.update(open=action == "open", reason=found.reason)
        if action == "open":
            doc.update(incident_id=incident, opened_at=now.isoformat(), recovered_at=None,
                       incidents=int(state.doc.get("incidents") or 0) + 1)
        else:
            doc["recovered_at"] = now.isoformat()
        alert = None
        if ctx.ops is not None:
            alert = health_alert(ctx, ctx.ops, facts, kind, incident, found.reason, action, opened_at, now)
            doc["pending"] = alert.model_dump(mode="json")
        written = ctx.states.put(state, doc)
        if written is None:
            return None
        if alert is not None:
            _announce(ctx, alert, now)
            ctx.states.put(written, {**doc, "pending": None})
    else:
        if is_open:
            doc["reason"] = found.reason
        # hold / quiet with nothing new (not even the reason) writes nothing: no decision is made by skipping it
        if not _unchanged(state.doc, doc) and ctx.states.put(state, doc) is None:
            return None
    log.info("source_health_evaluated", feed=facts.feed_id, kind=kind, action=action)
    return action


@dataclass
class HealthSummary:
    """One run: the action per (feed, kind) that changed something, open incidents, feeds that failed."""

    feeds: int = 0
    changed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        parts = [f"source health: {self.feeds} feeds evaluated, {len(self.changed)} incidents opened or recovered"]
        parts += self.changed
        parts += [f"failed: {feed}: {reason}" for feed, reason in sorted(self.failed.items())]
        return "; ".join(parts)


def evaluate_all(ctx: HealthContext, feeds: Sequence[tuple[str, str]], polls: dict[str, FeedState],
                 now: datetime) -> HealthSummary:
    """Every (feed id, name); one feed's failure never stops the others."""
    summary = HealthSummary()
    for at in range(0, len(feeds), MEASURE_BATCH):
        chunk = feeds[at:at + MEASURE_BATCH]
        measured = measure_many(ctx, chunk, polls, now)
        try:
            states = ctx.states.get_many([f for f, _ in chunk])
        except GovwatchError:
            states = {}  # each (feed, kind) is read on its own below
        for feed_id, _ in chunk:
            summary.feeds += 1
            try:
                facts = measured[feed_id]
                if isinstance(facts, GovwatchError):
                    raise facts
                for kind in KINDS:
                    action = evaluate_kind(ctx, facts, kind, now, states.get((feed_id, kind)))
                    if action in ("open", "recover"):
                        summary.changed.append(f"{action}: {feed_id} {kind}")
            except GovwatchError as exc:
                summary.failed[feed_id] = str(exc)[:300]
                log.warning("source_health_failed", feed=feed_id, reason=str(exc)[:300])
    return summary


def overview(facts: FeedFacts, states: dict[str, dict[str, Any]], policy: HealthPolicy) -> dict[str, Any]:
    """A feed's state for the source page and ``govwatch sources``: last success, last new story, typical gap,
    extraction share last 24 h vs the days before, open incidents."""
    gap = typical_gap_s(facts.seen, policy.gap_window)

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {"feed_id": facts.feed_id, "name": facts.name,
            "last_success_at": iso(facts.poll.last_success_at), "last_attempt_at": iso(facts.poll.last_attempt_at),
            "consecutive_failures": facts.poll.consecutive_failures, "last_error": facts.poll.last_error,
            "last_new_at": iso(facts.last_new), "typical_gap_h": None if gap is None else round(gap / 3600, 2),
            "extraction_today": facts.today.share, "extraction_before": facts.before.share,
            "stories_today": facts.today.total, "stories_before": facts.before.total,
            "incidents": [{"kind": k, "opened_at": s.get("opened_at"), "reason": s.get("reason")}
                          for k, s in sorted(states.items()) if s.get("open")]}


def recent_stories(es: Elasticsearch, alias: str, feed_id: str, limit: int, timeout_s: float) -> list[dict[str, Any]]:
    """The feed's newest stories (by first seen): id, title, url, first seen, where their text came from."""
    fields = ["story_id", "title", "url", "extraction_status", "trace.first_seen_at"]
    try:
        resp = es.options(request_timeout=timeout_s + 5).search(
            index=alias, query={"term": {"feed_id": feed_id}}, sort=[{"trace.first_seen_at": "desc"}], size=limit,
            source_includes=fields, track_total_hits=False, timeout=f"{int(timeout_s * 1000)}ms",
            ignore_unavailable=True)
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, f"recent stories of {feed_id}") from exc
    out = []
    for hit in resp["hits"]["hits"]:
        doc = hit["_source"]
        seen = doc.get("trace", {}).get("first_seen_at")
        out.append({"story_id": doc.get("story_id") or hit["_id"], "title": doc.get("title") or "", "url":
                    doc.get("url") or "", "status": doc.get("extraction_status") or "",
                    "first_seen_at": seen,
                    "fell_back": doc.get("extraction_status") not in PAGE_STATUSES})
    return out
