"""Backtest a subscription: what it would have matched over the last N days (volume per day, top hits).

Runs the exact query the matcher uses (``query.subscription_query``) over the stories alias, so the
user sees the alert volume before saving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.match_bodies import HIGHLIGHT, snippet_of
from govwatch.alerts.query import subscription_query
from govwatch.alerts.subscriptions import Filters
from govwatch.errors import InvalidQuery

FULL_CALENDAR_DAYS = 31
# Client deadline over the Elasticsearch ``timeout``: the node stops collecting at the timeout, then answers.
REQUEST_GRACE_S = 10.0


@dataclass(frozen=True)
class TopMatch:
    story_id: str
    title: str
    source: str
    date: str
    snippet: str


@dataclass
class BacktestResult:
    days: int
    total: int
    per_day: list[tuple[str, int]] = field(default_factory=list)
    top: list[TopMatch] = field(default_factory=list)

    def render(self) -> str:
        """Plain text for the terminal: a bar per day, then the top matches."""
        lines = [f"{self.total} matching stories in the last {self.days} days"]
        peak = max((c for _, c in self.per_day), default=0) or 1
        # A month fits on a screen day by day; over longer windows only the days with matches are shown.
        quiet = [(d, c) for d, c in self.per_day if c] if self.days > FULL_CALENDAR_DAYS else self.per_day
        if len(quiet) < len(self.per_day):
            lines.append(f"  (days without matches omitted; {len(quiet)} of {len(self.per_day)} days had matches)")
        for day, count in quiet:
            lines.append(f"  {day}  {count:5d}  {'#' * max(0, round(40 * count / peak))}")
        if self.top:
            lines.append("top matches:")
        for m in self.top:
            lines.append(f"  {m.date[:10]}  {m.source}  {m.title}")
            if m.snippet:
                plain = " ".join(m.snippet.split()).replace("<em>", "*").replace("</em>", "*")
                lines.append(f"      {plain}")
        return "\n".join(lines)


def backtest(es: Elasticsearch, alias: str, query: str, filters: Filters, days: int = 7, top: int = 5,
             allow_expensive: bool = False, now: datetime | None = None,
             timeout_s: float | None = None) -> BacktestResult:
    """Matches per UTC day (empty days included) and the ``top`` best-scoring matches of the last ``days`` days.

    The window is computed from ``now`` (default: the clock) here, never from Elasticsearch's own ``now``: the
    caller's clock decides, and a test can put the window across a month boundary on purpose.

    With ``timeout_s`` the search carries an Elasticsearch ``timeout`` (and the request a client deadline a little
    above it); an answer that timed out is partial, so it raises ``InvalidQuery`` (too costly for this window)
    instead of showing low counts.
    """
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    # Whole UTC days, today included, so the histogram has exactly `days` buckets.
    start = (today - timedelta(days=days - 1)).isoformat()
    end = today.isoformat()
    body = subscription_query(query, filters, allow_expensive)
    body["bool"]["filter"].append({"range": {"@timestamp": {"gte": f"{start}||/d", "lte": f"{end}||/d",
                                                                   "format": "yyyy-MM-dd"}}})
    aggs: dict[str, Any] = {"per_day": {"date_histogram": {
        "field": "@timestamp", "calendar_interval": "day", "format": "yyyy-MM-dd", "min_doc_count": 0,
        "extended_bounds": {"min": start, "max": end}}}}
    extra: dict[str, Any] = {}
    client = es
    if timeout_s is not None:
        extra["timeout"] = f"{max(1, round(timeout_s * 1000))}ms"
        client = es.options(request_timeout=timeout_s + REQUEST_GRACE_S)
    try:
        resp = client.search(index=alias, query=body, aggs=aggs, size=top, highlight=HIGHLIGHT,
                             source={"includes": ["title", "source", "@timestamp"]}, track_total_hits=True, **extra)
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "backtest search") from exc
    if resp.get("timed_out") or (resp.get("_shards") or {}).get("failed"):
        raise InvalidQuery(f"the preview search did not finish within {timeout_s} s (or some shards failed), so "
                             "its counts would be incomplete; try fewer days or a simpler query")
    per_day = [(b["key_as_string"], b["doc_count"]) for b in resp["aggregations"]["per_day"]["buckets"]]
    hits = [TopMatch(h["_id"], h["_source"].get("title", ""), h["_source"].get("source", ""),
                     h["_source"].get("@timestamp", ""), snippet_of(h)) for h in resp["hits"]["hits"]]
    return BacktestResult(days=days, total=resp["hits"]["total"]["value"], per_day=per_day, top=hits)
