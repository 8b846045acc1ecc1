"""The counts behind a spike rule: ONE search per rule with core aggregations (no scripts, no percolator).

The series is the relevant stories (``is_relevant: true``, what Kibana's "stories over time" shows) matching the
subscription's query and filters, or a term on ``entity_ids`` for an entity rule. The live evaluation asks a
``range`` aggregation for the last window and each baseline window (exact edges, any window length, across
monthly indices through the stories alias), with the window's top stories and events in the same request. The
backtest asks a ``date_histogram`` of equal buckets over the whole history and replays the same decision on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.query import subscription_query
from govwatch.alerts.spike import Series, SpikeRule, windows
from govwatch.alerts.subscriptions import Subscription
from govwatch.errors import InvalidQuery

REQUEST_GRACE_S = 10.0  # client deadline over the Elasticsearch `timeout`: the node answers after it
MAX_BACKTEST_BUCKETS = 20_000  # under search.max_buckets (65,536) with room to spare
STORY_FIELDS = ["title", "url", "source", "@timestamp", "event_id"]


@dataclass(frozen=True)
class TopStory:
    story_id: str
    title: str
    url: str
    source: str


@dataclass(frozen=True)
class Measured:
    """One rule's series now, with the last window's top stories and (event id, stories) pairs."""

    series: Series
    top_stories: tuple[TopStory, ...]
    top_events: tuple[tuple[str, int], ...]


def series_query(sub: Subscription, rule: SpikeRule) -> dict[str, Any]:
    """The stories a rule counts (no time range)."""
    if rule.entity_id is not None:
        return {"bool": {"filter": [{"term": {"entity_ids": rule.entity_id}}, {"term": {"is_relevant": True}}]}}
    body = subscription_query(sub.query, sub.filters, sub.allow_expensive)
    body["bool"]["filter"].append({"term": {"is_relevant": True}})
    return body


def _search(es: Elasticsearch, alias: str, timeout_s: float, what: str, **kwargs: Any) -> Any:  # noqa: ANN401
    try:
        resp = es.options(request_timeout=timeout_s + REQUEST_GRACE_S).search(
            index=alias, timeout=f"{max(1, round(timeout_s * 1000))}ms", **kwargs)
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, what) from exc
    if resp.get("timed_out") or (resp.get("_shards") or {}).get("failed"):
        raise InvalidQuery(f"{what} did not finish within {timeout_s} s (or some shards failed): its counts would "
                           "be incomplete, so they are not judged")
    return resp


def measure(es: Elasticsearch, alias: str, sub: Subscription, rule: SpikeRule, end: datetime, top: int,
            timeout_s: float) -> Measured:
    """The rule's counts for the windows ending at ``end`` (the caller's clock), in one search."""
    spans = windows(rule, end)
    ranges = [{"key": str(i), "from": start.isoformat(), "to": stop.isoformat()} for i, (start, stop) in
              enumerate(spans)]
    current_start, current_end = spans[0]
    in_window = {"range": {"@timestamp": {"gte": current_start.isoformat(), "lt": current_end.isoformat()}}}
    aggs = {
        "windows": {"range": {"field": "@timestamp", "keyed": True, "ranges": ranges}},
        "last": {"filter": in_window, "aggs": {
            "top": {"top_hits": {"size": top, "_source": {"includes": STORY_FIELDS},
                                 "sort": [{"relevance": "desc"}, {"@timestamp": "desc"}, {"story_id": "asc"}]}},
            "events": {"terms": {"field": "event_id", "size": top}},
        }},
    }
    query = series_query(sub, rule)
    query["bool"]["filter"].append({"range": {"@timestamp": {"gte": spans[-1][0].isoformat(),
                                                              "lt": current_end.isoformat()}}})
    resp = _search(es, alias, timeout_s, "spike search", query=query, aggs=aggs, size=0)
    buckets = resp["aggregations"]["windows"]["buckets"]
    counts = [int(buckets[str(i)]["doc_count"]) for i in range(len(spans))]
    last = resp["aggregations"]["last"]
    stories = tuple(TopStory(h["_id"], h["_source"].get("title", ""), h["_source"].get("url", ""),
                             h["_source"].get("source", "")) for h in last["top"]["hits"]["hits"])
    events = tuple((str(b["key"]), int(b["doc_count"])) for b in last["events"]["buckets"])
    return Measured(Series(counts[0], tuple(counts[1:])), stories, events)


def history(es: Elasticsearch, alias: str, sub: Subscription, rule: SpikeRule, start: datetime, end: datetime,
            bucket: timedelta, timeout_s: float) -> tuple[list[int], list[datetime]]:
    """Counts per ``bucket`` (epoch-aligned, empty ones included) from ``start`` to ``end``, oldest first, with
    each bucket's end."""
    if (end - start) / bucket > MAX_BACKTEST_BUCKETS:
        raise InvalidQuery(f"the backtest would need more than {MAX_BACKTEST_BUCKETS} buckets; ask for fewer days")
    seconds = int(bucket.total_seconds())
    query = series_query(sub, rule)
    query["bool"]["filter"].append({"range": {"@timestamp": {"gte": start.isoformat(), "lt": end.isoformat()}}})
    aggs = {"series": {"date_histogram": {
        "field": "@timestamp", "fixed_interval": f"{seconds}s", "min_doc_count": 0,
        "extended_bounds": {"min": int(start.timestamp() * 1000), "max": int(end.timestamp() * 1000) - 1}}}}
    resp = _search(es, alias, timeout_s, "spike backtest search", query=query, aggs=aggs, size=0)
    raw = resp["aggregations"]["series"]["buckets"]
    counts = [int(b["doc_count"]) for b in raw]
    ends = [datetime.fromtimestamp(b["key"] / 1000, tz=start.tzinfo) + bucket for b in raw]
    return counts, ends


def event_titles(es: Elasticsearch, events_index: str, event_ids: list[str]) -> dict[str, str]:
    """Titles of these events (absent ones are left out; no events index yet means none)."""
    if not event_ids:
        return {}
    try:
        resp = es.options(ignore_status=404).mget(index=events_index, ids=event_ids, source_includes=["title"])
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "spike event titles") from exc
    return {d["_id"]: str(d["_source"].get("title", "")) for d in resp.get("docs", []) if d.get("found")}
