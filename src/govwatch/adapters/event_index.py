"""The events index in Elasticsearch: candidate lookup (one ``_msearch`` per batch) and whole-document writes.

Core Elasticsearch only: no scripts. The caller computes each event document whole and writes it with
optimistic concurrency: a new event with ``create`` (a second process founding the same id gets a 409), a
changed one with ``if_seq_no``/``if_primary_term`` of the version it read. A 409 means another process changed
the event meanwhile: :class:`EventConflict` (``Contended``: retried, never counted, never dead-lettered) makes the
loop retry the batch, which re-reads it; the decision is idempotent (members are a set), so a retry never counts
a story twice.

Writes do not force a refresh: the process that wrote an event remembers it until it is surely searchable
(govwatch.enrich.event_assign), so the stage does not wait a refresh interval per batch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.errors import Contended, PermanentError, TransientError

MAX_CANDIDATES = 20  # events one story is compared with: the best-scoring by shared terms and entities
MAX_QUERY_TERMS = 64  # bounds the query of a very long lead (clauses, not documents, cost the search)
TEMPLATE = "events.template.json"


class EventConflict(Contended):
    """Another process changed (or founded) an event between our read and our write: retry the batch.

    ``written`` holds the versions of the batch's other events, which did land.
    """

    def __init__(self, message: str, written: dict[str, Version], conflicts: list[str]) -> None:
        super().__init__(message)
        self.written = written
        self.conflicts = conflicts


@dataclass(frozen=True)
class Version:
    """The version of an event document we read or wrote (for ``if_seq_no``/``if_primary_term``)."""

    seq_no: int
    primary_term: int


@dataclass(frozen=True)
class Found:
    """One candidate event document as stored, with its version."""

    source: dict[str, Any]
    version: Version


@dataclass(frozen=True)
class Probe:
    """What a story's candidate query looks for (pure values, built by the caller)."""

    story_id: str
    cluster_id: str
    published: datetime
    terms: Sequence[str]
    entity_ids: Sequence[str]


def index_name(prefix: str) -> str:
    return f"{prefix}-events"


def ensure_template(es: Elasticsearch, prefix: str, replicas: int = 0) -> str:
    """Put the events index template (the index itself is created by its first write)."""
    return es_io.ensure_template(es, index_name(prefix), es_io.load_schema(TEMPLATE, prefix), replicas=replicas)


def refresh(es: Elasticsearch, prefix: str) -> None:
    """Make every event written so far searchable (a missing index is fine: no events yet)."""
    try:
        es.indices.refresh(index=index_name(prefix), ignore_unavailable=True, allow_no_indices=True)
    except Exception as exc:
        raise es_io.translate(exc, "events refresh") from exc


def candidate_query(probe: Probe, window: timedelta) -> dict[str, Any]:
    """The search body for one story: its own event (replay), its cluster's, and events of its window that share
    terms or entities, best first. The time window bounds only the similarity clauses: a replay or a cluster mate
    finds its event however far apart the stories were published."""
    similar: list[dict[str, Any]] = [{"term": {"terms": t}} for t in sorted(probe.terms)[:MAX_QUERY_TERMS]]
    similar += [{"term": {"entity_ids": e}} for e in sorted(probe.entity_ids)[:MAX_QUERY_TERMS]]
    should: list[dict[str, Any]] = [
        {"term": {"member_ids": {"value": probe.story_id, "boost": 1000}}},
        {"term": {"cluster_ids": {"value": probe.cluster_id, "boost": 1000}}},
    ]
    if similar:
        should.append({"bool": {
            "filter": [{"range": {"last_seen": {"gte": (probe.published - window).isoformat()}}},
                       {"range": {"first_seen": {"lte": (probe.published + window).isoformat()}}}],
            "should": similar, "minimum_should_match": 1}})
    return {"size": MAX_CANDIDATES, "seq_no_primary_term": True, "track_total_hits": False,
            "query": {"bool": {"should": should, "minimum_should_match": 1}},
            "sort": ["_score", {"event_id": "asc"}]}


def find_candidates(es: Elasticsearch, prefix: str, probes: Sequence[Probe],
                    window: timedelta) -> list[list[Found]]:
    """Candidate events of each probe, in one ``_msearch``; a missing index means no events yet."""
    if not probes:
        return []
    searches: list[dict[str, Any]] = []
    for probe in probes:
        searches.append({"index": index_name(prefix), "ignore_unavailable": True, "allow_no_indices": True})
        searches.append(candidate_query(probe, window))
    try:
        resp = es.msearch(searches=searches)
    except Exception as exc:
        raise es_io.translate(exc, "event candidate lookup") from exc
    out: list[list[Found]] = []
    for result in resp["responses"]:
        if "error" in result:
            status = int(result.get("status", 500))
            if status == 429 or status >= 500:
                raise TransientError(f"Elasticsearch {status} during event candidate lookup")
            raise PermanentError(f"event candidate lookup refused ({status}): {str(result['error'])[:300]}")
        out.append([Found(hit["_source"], Version(hit["_seq_no"], hit["_primary_term"]))
                    for hit in result["hits"]["hits"]])
    return out


def write_events(es: Elasticsearch, prefix: str,
                 docs: Sequence[tuple[dict[str, Any], Version | None]]) -> dict[str, Version]:
    """Write whole event documents (``None`` version: a new event) in one bulk; returns their new versions."""
    if not docs:
        return {}
    ops: list[dict[str, Any]] = []
    for doc, version in docs:
        meta: dict[str, Any] = {"_index": index_name(prefix), "_id": doc["event_id"]}
        if version is None:
            ops.append({"create": meta})
        else:
            ops.append({"index": {**meta, "if_seq_no": version.seq_no, "if_primary_term": version.primary_term}})
        ops.append(doc)
    try:
        resp = es.bulk(operations=ops)
    except Exception as exc:
        raise es_io.translate(exc, "event write") from exc
    written: dict[str, Version] = {}
    conflicts: list[str] = []
    for item in resp["items"]:
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if status < 300:
            written[result["_id"]] = Version(result["_seq_no"], result["_primary_term"])
        elif status == 409:
            conflicts.append(result["_id"])
        elif status == 429 or status >= 500:
            raise TransientError(f"Elasticsearch {status} writing event {result['_id']}")
        else:
            reason = result.get("error", {})
            raise PermanentError(f"Elasticsearch refused event {result['_id']} ({status}): "
                                 f"{reason.get('type', 'error')}: {str(reason.get('reason', ''))[:300]}")
    if conflicts:
        raise EventConflict(f"{len(conflicts)} event(s) changed by another writer meanwhile: {conflicts[:3]}",
                            written, conflicts)
    return written


def get_event(es: Elasticsearch, prefix: str, event_id: str) -> dict[str, Any] | None:
    """One event document by id (``None`` when absent): for the CLI, the web app and tests."""
    resp = es.options(ignore_status=404).get(index=index_name(prefix), id=event_id)
    return dict(resp["_source"]) if resp.get("found") else None


# Reading events for people (the CLI and the web app): summaries without the decision's stored members.
EVENT_ID_PATTERN = re.compile(r"[0-9a-f]{64}")  # an event id is its founding story's id (matched in full)
MAX_LISTED = 200
MAX_COVERAGE = 500  # stories shown for one event (the largest labelled event has far fewer)
SUMMARY_FIELDS = ["event_id", "title", "first_seen", "last_seen", "story_count", "outlet_count", "outlets",
                  "main_entities", "main_topics", "member_ids"]
ORDERS: dict[str, list[Any]] = {
    "outlets": [{"outlet_count": "desc"}, {"story_count": "desc"}, {"first_seen": "desc"}, {"event_id": "asc"}],
    "stories": [{"story_count": "desc"}, {"outlet_count": "desc"}, {"first_seen": "desc"}, {"event_id": "asc"}],
    "recent": [{"first_seen": "desc"}, {"event_id": "asc"}],
}
STORY_FIELDS = ["story_id", "title", "source", "language", "published_at", "url", "entities_detail", "topics",
                "topic_labels", "event_id"]


def is_event_id(text: str) -> bool:
    """Whether ``text`` has the shape of an event id (checked before any lookup: ids come from URLs and argv)."""
    return EVENT_ID_PATTERN.fullmatch(text) is not None  # not match/$: "$" also matches before a final newline


def list_events(es: Elasticsearch, prefix: str, *, since: datetime | None = None, limit: int = 50,
                order: str = "outlets") -> list[dict[str, Any]]:
    """Event summaries seen since ``since`` (by ``last_seen``), ordered by outlets, stories or recency;
    no events index yet means no events."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {sorted(ORDERS)}, not {order!r}")
    flt = [{"range": {"last_seen": {"gte": since.isoformat()}}}] if since else []
    try:
        resp = es.search(index=index_name(prefix), ignore_unavailable=True, allow_no_indices=True,
                         query={"bool": {"filter": flt}}, size=max(1, min(limit, MAX_LISTED)),
                         sort=ORDERS[order], source_includes=SUMMARY_FIELDS, track_total_hits=False)
    except Exception as exc:
        raise es_io.translate(exc, "event list") from exc
    return [dict(hit["_source"]) for hit in resp["hits"]["hits"]]


def read_event(es: Elasticsearch, prefix: str, event_id: str) -> dict[str, Any] | None:
    """:func:`get_event` with the client's errors translated (for readers that report them to a person)."""
    try:
        return get_event(es, prefix, event_id)
    except Exception as exc:
        raise es_io.translate(exc, "event read") from exc


def stories_of(es: Elasticsearch, stories_alias: str, story_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The indexed documents (display fields only) of some stories, by id; ids not indexed are absent."""
    ids = list(dict.fromkeys(story_ids))[:MAX_COVERAGE * 4]
    if not ids:
        return {}
    try:
        resp = es.search(index=stories_alias, ignore_unavailable=True, allow_no_indices=True,
                         query={"ids": {"values": ids}}, size=len(ids), source_includes=STORY_FIELDS,
                         track_total_hits=False)
    except Exception as exc:
        raise es_io.translate(exc, "event stories read") from exc
    return {hit["_id"]: dict(hit["_source"]) for hit in resp["hits"]["hits"]}
