"""Match a batch of freshly indexed stories against every active subscription, with Elasticsearch as judge.

A story matches a subscription exactly when the subscription's query (``query.subscription_query``:
query string + filters) run against the stories alias returns it. One ``_msearch`` carries one search
per subscription, each restricted to the batch's ids (chunks of ``MSEARCH_CHUNK`` searches), and each
hit comes back with a highlighted snippet. Before that, ``prefilter`` drops the subscriptions (and the
story ids within a subscription's search) that provably cannot match, so a batch costs far fewer
searches than there are subscriptions; its correctness argument is in that module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from govwatch import es_io
from govwatch.alerts import prefilter
from govwatch.alerts.query import subscription_query
from govwatch.alerts.subscriptions import Subscription
from govwatch.errors import RateLimited, TransientError
from govwatch.log import get_logger

log = get_logger("govwatch.alerts.matcher")

# Searches per _msearch request: big enough to amortise the round trip, small enough that one
# request body (a few hundred KB) and its response stay far below http.max_content_length.
MSEARCH_CHUNK = 500
SNIPPET_CHARS = 160
HIGHLIGHT: dict[str, Any] = {
    "pre_tags": ["<em>"], "post_tags": ["</em>"], "require_field_match": False,
    "fragment_size": SNIPPET_CHARS, "number_of_fragments": 1, "no_match_size": SNIPPET_CHARS,
    "fields": {"text": {}, "summary": {}, "title": {"no_match_size": 0}},
}
SNIPPET_ORDER = ("text", "summary", "title")
# Fields a matched story needs for its alert; the full text is only read when pre-filtering.
ALERT_FIELDS = ["story_id", "cluster_id", "title", "url", "source", "published_at", "entity_names",
                "topic_labels", "@timestamp"]


@dataclass(frozen=True)
class Match:
    """One (subscription, story) pair Elasticsearch returned, with the highlighted snippet."""

    subscription_id: str
    story_id: str
    snippet: str = ""


@dataclass
class MatchStats:
    subscriptions: int = 0
    searches_sent: int = 0
    round_trips: int = 0
    errors: list[str] = field(default_factory=list)


def fetch_stories(es: Elasticsearch, alias: str, ids: Sequence[str], with_text: bool = True) -> dict[str, dict]:
    """The documents of ``ids`` (one search: mget cannot read an alias over several monthly indices)."""
    source: Any = True if with_text else ALERT_FIELDS
    try:
        resp = es.search(index=alias, query={"ids": {"values": list(ids)}}, size=len(ids), _source=source,
                         track_total_hits=False)
    except Exception as exc:  # noqa: BLE001 - translated at the edge
        raise es_io.translate(exc, "fetch batch stories") from exc
    return {hit["_id"]: hit["_source"] for hit in resp["hits"]["hits"]}


def plan(subs: Sequence[Subscription], docs: Mapping[str, Mapping[str, Any]],
         use_prefilter: bool = True) -> list[tuple[Subscription, list[str]]]:
    """Which story ids to search for each subscription (pairs with no candidates are left out)."""
    ids = list(docs)
    if not use_prefilter:
        return [(sub, ids) for sub in subs]
    facts = [prefilter.StoryFacts.from_document(i, d) for i, d in docs.items()]
    batch_tokens = frozenset().union(*(f.tokens for f in facts)) if facts else frozenset()
    out: list[tuple[Subscription, list[str]]] = []
    for sub in subs:
        cands = prefilter.candidates(requirement_of(sub), sub.filters, facts, batch_tokens)
        if cands:
            out.append((sub, cands))
    return out


_REQ_CACHE: dict[str, prefilter.Requirement] = {}


def requirement_of(sub: Subscription) -> prefilter.Requirement:
    """The parsed requirement of a query, cached by query text (subscriptions are re-read every few s)."""
    if sub.query not in _REQ_CACHE:
        if len(_REQ_CACHE) > 100_000:
            _REQ_CACHE.clear()
        _REQ_CACHE[sub.query] = prefilter.requirement(sub.query)
    return _REQ_CACHE[sub.query]


def search_body(sub: Subscription, ids: Sequence[str]) -> dict[str, Any]:
    """The search of one subscription over some story ids: matching ids and a highlight, no source."""
    return {"query": subscription_query(sub.query, sub.filters, sub.allow_expensive, list(ids)),
            "size": len(ids), "_source": False, "track_total_hits": False, "highlight": HIGHLIGHT}


def snippet_of(hit: Mapping[str, Any]) -> str:
    """The first highlighted fragment, preferring the body over the summary and the title."""
    hl = hit.get("highlight") or {}
    for name in SNIPPET_ORDER:
        if hl.get(name):
            return hl[name][0]
    return ""


def run_searches(es: Elasticsearch, alias: str, planned: Sequence[tuple[Subscription, list[str]]],
                 stats: MatchStats | None = None, chunk: int = MSEARCH_CHUNK) -> list[Match]:
    """Send the planned searches with ``_msearch`` and collect the matches, in plan order.

    A search Elasticsearch refuses with a 4xx (a stored query that no longer parses against the
    mapping) is logged and skipped so one broken subscription cannot block everybody's alerts; a 429
    or 5xx raises, and the whole batch is retried by the consumer loop.
    """
    stats = stats or MatchStats()
    matches: list[Match] = []
    for start in range(0, len(planned), chunk):
        part = planned[start:start + chunk]
        searches: list[dict[str, Any]] = []
        for sub, ids in part:
            searches.append({"index": alias})
            searches.append(search_body(sub, ids))
        try:
            resp = es.msearch(searches=searches)
        except Exception as exc:  # noqa: BLE001 - translated at the edge
            raise es_io.translate(exc, "alert matching msearch") from exc
        stats.round_trips += 1
        stats.searches_sent += len(part)
        for (sub, _), result in zip(part, resp["responses"], strict=True):
            if "error" in result:
                status = int(result.get("status", 500))
                reason = str(result["error"].get("reason", result["error"]))[:300]
                if status == 429:
                    raise RateLimited(f"Elasticsearch busy (429) matching subscription {sub.id}")
                if status >= 500:
                    raise TransientError(f"Elasticsearch {status} matching subscription {sub.id}: {reason}")
                stats.errors.append(f"{sub.id}: {reason}")
                log.warning("subscription_search_failed", subscription_id=sub.id, status=status, reason=reason)
                continue
            for hit in result["hits"]["hits"]:
                matches.append(Match(sub.id, hit["_id"], snippet_of(hit)))
    return matches


def match_batch(es: Elasticsearch, alias: str, subs: Sequence[Subscription], docs: Mapping[str, Mapping[str, Any]],
                use_prefilter: bool = True, stats: MatchStats | None = None) -> list[Match]:
    """All (subscription, story) matches for the stories in ``docs`` (id -> indexed document)."""
    stats = stats or MatchStats()
    active = [s for s in subs if not s.paused]
    stats.subscriptions = len(active)
    if not active or not docs:
        return []
    return run_searches(es, alias, plan(active, docs, use_prefilter), stats)
