"""What fired and why: alerts read back from the ledger, one story explained, and the retry of a failed alert.

Read-only views over the alert ledger and the stories alias for the web app (and anything else that wants them).
Stories are read with an ``ids`` search over the alias, never a GET on one index: a story lives in the monthly
index of the month it was first seen. "Why did I get this?" is answered by Elasticsearch itself: the
subscription's own query is run as a highlight query on that one story.

A retry never sends anything itself: a dead-lettered alert is re-opened in the ledger (``AlertLedger.reopen``, the
path ``govwatch dlq replay`` takes) and the stored alert is produced again to the alerts topic with its usual key,
so the notifier delivers it under all its once-only rules; a delivered alert is never retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.adapters.kafka_io import ACK_TIMEOUT_S
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.query import query_string_clause
from govwatch.alerts.subscriptions import Subscription
from govwatch.models import Alert

RETRYABLE = ("failed", "dead_lettered")
MAX_COPIES = 50  # cluster copies shown on a story page
EXPLAIN_HIGHLIGHT: dict[str, Any] = {
    "pre_tags": ["<em>"], "post_tags": ["</em>"], "require_field_match": False, "fragment_size": 200,
    "number_of_fragments": 3, "fields": {"title": {"number_of_fragments": 0}, "summary": {}, "text": {}},
}


@dataclass(frozen=True)
class AlertRow:
    """One ledger entry as the alerts page shows it."""

    alert_id: str
    subscription_id: str
    subscription_name: str
    story_id: str
    title: str
    url: str
    source: str
    matched_at: str
    status: str
    last_error: str | None
    attempts: int
    also_in_count: int
    possible_duplicate: bool
    event_id: str | None = None  # the story's event (ledger entries from before events have none)
    kind: str = "match"  # "spike" and "health" alerts name a surge or a feed's incident, not one matched story

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE

    @classmethod
    def of(cls, entry: dict[str, Any]) -> AlertRow:
        alert = entry.get("alert") or {}
        return cls(alert_id=entry["alert_id"], subscription_id=entry["subscription_id"],
                   subscription_name=alert.get("subscription_name", ""), story_id=entry["story_id"],
                   title=alert.get("title", ""), url=alert.get("url", ""), source=alert.get("source", ""),
                   matched_at=entry.get("matched_at") or "", status=entry.get("status", ""),
                   last_error=entry.get("last_error"), attempts=int(entry.get("attempts") or 0),
                   also_in_count=int(entry.get("also_in_count") or 0),
                   possible_duplicate=bool(entry.get("possible_duplicate")), event_id=entry.get("event_id"),
                   kind=str(alert.get("kind") or "match"))


def list_alerts(es: Elasticsearch, ledger_index: str, subscription_ids: Sequence[str] | None, *,
                status: str | None = None, limit: int = 100) -> list[AlertRow]:
    """Newest match first; ``subscription_ids`` None = every subscription, [] = none."""
    if subscription_ids is not None and not subscription_ids:
        return []
    flt: list[dict[str, Any]] = []
    if subscription_ids is not None:
        flt.append({"terms": {"subscription_id": list(subscription_ids)}})
    if status:
        flt.append({"term": {"status": status}})
    try:
        resp = es.search(index=ledger_index, query={"bool": {"filter": flt}}, size=limit,
                         sort=[{"matched_at": "desc"}, {"alert_id": "asc"}], track_total_hits=False)
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "alert ledger list") from exc
    return [AlertRow.of(h["_source"]) for h in resp["hits"]["hits"]]


def get_story(es: Elasticsearch, alias: str, story_id: str) -> dict[str, Any] | None:
    """The indexed document of one story (an ids search over the alias), or None."""
    try:
        resp = es.search(index=alias, query={"ids": {"values": [story_id]}}, size=1, track_total_hits=False,
                         source_excludes=["neardup_keys", "neardup_signature"])
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "story read") from exc
    hits = resp["hits"]["hits"]
    return hits[0]["_source"] if hits else None


def cluster_copies(es: Elasticsearch, alias: str, story: dict[str, Any]) -> list[dict[str, Any]]:
    """The other stories of the same near-duplicate cluster (title, source, url, id), oldest first."""
    try:
        resp = es.search(index=alias, size=MAX_COPIES, track_total_hits=False,
                         query={"bool": {"filter": [{"term": {"cluster_id": story["cluster_id"]}}],
                                         "must_not": [{"ids": {"values": [story["story_id"]]}}]}},
                         sort=[{"@timestamp": "asc"}],
                         source={"includes": ["story_id", "title", "source", "url", "@timestamp"]})
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "cluster copies") from exc
    return [h["_source"] for h in resp["hits"]["hits"]]


def entries_for_story(es: Elasticsearch, ledger_index: str, story: dict[str, Any],
                      subscription_ids: Sequence[str] | None) -> list[AlertRow]:
    """Ledger entries this story raised or joined (its cluster's entry names it in ``also_in``)."""
    if subscription_ids is not None and not subscription_ids:
        return []
    flt: list[dict[str, Any]] = [{"bool": {"should": [{"term": {"story_id": story["story_id"]}},
                                                      {"term": {"also_in": story["story_id"]}}],
                                           "minimum_should_match": 1}}]
    if subscription_ids is not None:
        flt.append({"terms": {"subscription_id": list(subscription_ids)}})
    try:
        resp = es.search(index=ledger_index, query={"bool": {"filter": flt}}, size=100, track_total_hits=False,
                         sort=[{"matched_at": "desc"}])
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "story alerts") from exc
    return [AlertRow.of(h["_source"]) for h in resp["hits"]["hits"]]


@dataclass
class Explanation:
    """Why a subscription matched a story: Elasticsearch's highlight of its query on that story."""

    subscription: Subscription
    fragments: dict[str, list[str]] = field(default_factory=dict)  # field -> fragments with <em> marks


def explain(es: Elasticsearch, alias: str, story_id: str, subs: Sequence[Subscription]) -> list[Explanation]:
    """One highlight search per subscription (one ``_msearch``); the query is the highlight query, so the terms
    are marked even when a filter or a later edit means the subscription would not match the story today."""
    if not subs:
        return []
    searches: list[dict[str, Any]] = []
    for sub in subs:
        searches.append({"index": alias})
        searches.append({"query": {"ids": {"values": [story_id]}}, "size": 1, "_source": False,
                         "highlight": {**EXPLAIN_HIGHLIGHT,
                                       "highlight_query": query_string_clause(sub.query, sub.allow_expensive)}})
    try:
        resp = es.msearch(searches=searches)
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "explain highlight") from exc
    out: list[Explanation] = []
    for sub, result in zip(subs, resp["responses"], strict=True):
        hits = result.get("hits", {}).get("hits", []) if "error" not in result else []
        out.append(Explanation(sub, dict(hits[0].get("highlight", {})) if hits else {}))
    return out


def retry(es: Elasticsearch, ledger_index: str, producer: Any, alerts_topic: str, alert_id: str,  # noqa: ANN401
          now: datetime) -> str:
    """Send a failed or dead-lettered alert through the notifier again; returns what was done, in words.

    Raises KeyError for an unknown id and ValueError when the alert is not in a retryable state."""
    ledger = AlertLedger(es, ledger_index)
    entry = ledger.get(alert_id)
    if entry is None:
        raise KeyError(alert_id)
    if entry.get("status") not in RETRYABLE:
        raise ValueError(f"the alert is {entry.get('status')}: only failed or dead-lettered alerts are retried")
    reopened = ledger.reopen(alert_id, now)  # dead_lettered -> failed, attempts start over (as a DLQ replay)
    alert = Alert.model_validate(entry["alert"])
    producer.send(alerts_topic, key=alert.subscription_id.encode(), value=alert.to_bytes()).get(timeout=ACK_TIMEOUT_S)
    return "re-opened and queued for delivery" if reopened else "queued for delivery again"
