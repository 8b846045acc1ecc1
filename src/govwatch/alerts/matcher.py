"""Match a batch of freshly indexed stories against every active subscription, with Elasticsearch as judge.

A story matches a subscription exactly when the subscription's query (``query.subscription_query``:
query string + filters) run against the stories alias returns it. Matching is done in two passes:

1. **Which pairs match.** Subscriptions are grouped ``COMBINE_CHUNK`` to a search. A combined search is
   restricted to the batch ids and holds, in a ``bool.should`` with ``minimum_should_match: 1``, one
   clause per subscription: the subscription's own ``subscription_query`` (restricted to its candidate
   ids when the pre-filter narrowed them) with ``_name`` = subscription id. Each hit's
   ``matched_queries`` names exactly the clauses, hence the subscriptions, that match that story: a
   named clause is evaluated on its own, so combining changes nothing about who matches what. No
   scoring, no source, no highlight. All combined searches go in one ``_msearch`` (``MSEARCH_CHUNK``
   searches per request at most). A combined search Elasticsearch refuses with a 4xx (or answers with
   shard failures) is split in halves and retried, recursively, down to one subscription per search:
   a broken subscription (or a chunk whose clauses together exceed the clause limit) is thus isolated,
   and only a subscription that fails on its own is logged and skipped. Subscriptions that failed on
   their own are remembered and sent alone from then on, so a stored broken query costs one search
   per batch rather than a cascade of splits.
2. **Snippets.** For the matched pairs only, one search per matched subscription with its query, the
   ids of the stories it matched and ``HIGHLIGHT``, in one ``_msearch`` (the former single-pass search,
   now sent for the few subscriptions that matched). The result of this pass is the answer; if its
   search fails (a highlighter error, say) the pass-1 matches are kept with an empty snippet.

Before that, ``prefilter`` drops the subscriptions (and the story ids within a subscription's clause)
that provably cannot match; its correctness argument is in that module.
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

# Subscriptions per combined search (pass 1). Measured with benchmarks/matching.py (10,000 subscriptions,
# ~630 left after the pre-filter, 2-core shared box): p95 per batch 1121 ms at 50, 907 at 100, 714 at 200,
# 642 at 400. 200 keeps most of the gain with room under the clause limit (a combined search of about
# 1000 three-word subscriptions is refused with "too many clauses"; a refused chunk is split, which
# costs extra round trips).
COMBINE_CHUNK = 200
# Searches per _msearch request: big enough to amortise the round trip, small enough that one
# request body (a few MB at most) and its response stay far below http.max_content_length.
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
# Shard-failure types that mean "busy, retry later" rather than "this query is wrong".
_BUSY_TYPES = {"es_rejected_execution_exception", "circuit_breaking_exception", "task_cancelled_exception"}
# Shard failures that say the *query* is wrong for this data (it would fail again): the subscription is skipped.
# Every other shard failure (no_shard_available_action_exception with no status, node_disconnected, a shard
# being relocated or recovered) says the data is not reachable right now: retried, never a silent miss.
_QUERY_ERROR_TYPES = {"query_shard_exception", "search_parse_exception", "parsing_exception",
                      "illegal_argument_exception", "number_format_exception", "too_many_clauses",
                      "too_many_nested_clauses", "query_validation_exception", "x_content_parse_exception"}


@dataclass(frozen=True)
class Match:
    """One (subscription, story) pair Elasticsearch returned, with the highlighted snippet."""

    subscription_id: str
    story_id: str
    snippet: str = ""


@dataclass
class MatchStats:
    subscriptions: int = 0
    searches_sent: int = 0  # all searches, both passes
    round_trips: int = 0  # _msearch requests, both passes
    combined_searches: int = 0  # pass 1, including retries after splits
    snippet_searches: int = 0  # pass 2
    splits: int = 0  # combined searches refused and split in halves
    planned: int = 0  # subscriptions left after the pre-filter
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
    index = prefilter.BatchIndex.of([prefilter.StoryFacts.from_document(i, d) for i, d in docs.items()])
    out: list[tuple[Subscription, list[str]]] = []
    for sub in subs:
        cands = prefilter.candidates_indexed(requirement_of(sub), sub.filters, index)
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


def named_clause(sub: Subscription, ids: Sequence[str] | None) -> dict[str, Any]:
    """The subscription's own query (restricted to ``ids`` unless None), named by its id."""
    query = subscription_query(sub.query, sub.filters, sub.allow_expensive, None if ids is None else list(ids))
    query["bool"]["_name"] = sub.id
    return query


def combined_body(part: Sequence[tuple[Subscription, list[str]]], batch_ids: Sequence[str]) -> dict[str, Any]:
    """One search for several subscriptions: which of their candidate stories each one matches.

    The search is restricted to the union of the candidates; a clause carries its own ``ids`` only
    when its candidates are fewer than the whole batch. Non-scoring (filter context): only
    ``matched_queries`` is read.
    """
    everything = set(batch_ids)
    wanted = {i for _, ids in part for i in ids}
    union = [i for i in batch_ids if i in wanted] + sorted(wanted - everything)
    clauses = [named_clause(sub, None if set(ids) >= everything else ids) for sub, ids in part]
    return {"query": {"bool": {"filter": [{"ids": {"values": union}},
                                          {"bool": {"should": clauses, "minimum_should_match": 1}}]}},
            "size": len(union), "_source": False, "track_total_hits": False}


def snippet_of(hit: Mapping[str, Any]) -> str:
    """The first highlighted fragment, preferring the body over the summary and the title."""
    hl = hit.get("highlight") or {}
    for name in SNIPPET_ORDER:
        if hl.get(name):
            return hl[name][0]
    return ""


def _failure(result: Mapping[str, Any]) -> tuple[int, str] | None:
    """(status, reason) when an _msearch item failed, fully or on some shards; None when it is complete.

    A shard failure counts: over an alias of several monthly indices a query can fail on some of them
    and still return the others' hits, and in a combined search that would silently drop the matches
    of the good subscriptions on the failed shards.
    """
    if "error" in result:
        err = result["error"]
        reason = str(err.get("reason", err)) if isinstance(err, Mapping) else str(err)
        causes = err.get("root_cause") if isinstance(err, Mapping) else None
        if causes and isinstance(causes, list) and isinstance(causes[0], Mapping):
            reason = f"{reason}: {causes[0].get('reason', '')}"
        return int(result.get("status", 500)), reason[:300]
    shards = result.get("_shards") or {}
    if not shards.get("failed"):
        return None
    judged = [_shard_failure(f) for f in (shards.get("failures") or [{}])]
    # The most retryable failure decides: one unreachable shard is enough to make the result incomplete.
    status, kind, reason = max(judged, key=lambda j: (j[0] >= 500, j[0] == 429, j[0]))
    return status, f"{shards['failed']} shard(s) failed: {kind} {reason}"[:300]


def _shard_failure(failure: Mapping[str, Any]) -> tuple[int, str, str]:
    """(status, type, reason) of one shard failure; a missing status is judged by the failure's type."""
    cause = failure.get("reason") or {}
    kind = str(cause.get("type", "")) if isinstance(cause, Mapping) else ""
    status = failure.get("status")
    if not status:
        status = 429 if kind in _BUSY_TYPES else 400 if kind in _QUERY_ERROR_TYPES else 503
    reason = cause.get("reason", cause) if isinstance(cause, Mapping) else cause
    return int(status), kind, str(reason)


def _raise_if_retryable(status: int, reason: str, what: str) -> None:
    if status == 429:
        raise RateLimited(f"Elasticsearch busy (429) {what}")
    if status >= 500:
        raise TransientError(f"Elasticsearch {status} {what}: {reason}")


def _msearch(es: Elasticsearch, alias: str, bodies: Sequence[dict[str, Any]], stats: MatchStats,
             what: str) -> list[dict[str, Any]]:
    """Send searches with ``_msearch``, ``MSEARCH_CHUNK`` per request; the responses in order."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(bodies), MSEARCH_CHUNK):
        searches: list[dict[str, Any]] = []
        for body in bodies[start:start + MSEARCH_CHUNK]:
            searches.append({"index": alias})
            searches.append(body)
        try:
            resp = es.msearch(searches=searches)
        except Exception as exc:  # noqa: BLE001 - translated at the edge
            raise es_io.translate(exc, what) from exc
        stats.round_trips += 1
        stats.searches_sent += len(searches) // 2
        out.extend(resp["responses"])
    return out


# Subscriptions whose query failed on its own in a batch, keyed by what the search is made of: they are
# sent alone from then on, so that they do not make a combined search fail (and split) every batch.
_SOLO: dict[tuple[str, str, str, bool], None] = {}
_SOLO_MAX = 10_000


def _solo_key(sub: Subscription) -> tuple[str, str, str, bool]:
    return (sub.id, sub.query, sub.filters.model_dump_json(), sub.allow_expensive)


def which_match(es: Elasticsearch, alias: str, planned: Sequence[tuple[Subscription, list[str]]],
                batch_ids: Sequence[str], stats: MatchStats | None = None,
                chunk: int = COMBINE_CHUNK) -> dict[str, list[str]]:
    """Pass 1: subscription id -> ids of the stories it matches (only subscriptions with a match).

    A 4xx for a combined search (or shard failures) splits it in halves, recursively; a subscription
    refused on its own is logged, counted in ``stats.errors`` and skipped so one broken subscription
    cannot block everybody's alerts. A 429 or 5xx raises: the consumer loop retries the whole batch.
    """
    stats = stats or MatchStats()
    solo = [p for p in planned if _solo_key(p[0]) in _SOLO]
    rest = [p for p in planned if _solo_key(p[0]) not in _SOLO]
    pending: list[list[tuple[Subscription, list[str]]]] = [[p] for p in solo]
    pending += [list(rest[i:i + chunk]) for i in range(0, len(rest), chunk)]
    found: dict[str, list[str]] = {}
    while pending:
        bodies = [combined_body(part, batch_ids) for part in pending]
        results = _msearch(es, alias, bodies, stats, "alert matching msearch")
        stats.combined_searches += len(bodies)
        retry: list[list[tuple[Subscription, list[str]]]] = []
        for part, result in zip(pending, results, strict=True):
            failed = _failure(result)
            if failed is not None:
                status, reason = failed
                names = part[0][0].id if len(part) == 1 else f"{len(part)} subscriptions from {part[0][0].id}"
                _raise_if_retryable(status, reason, f"matching {names}")
                if len(part) > 1:
                    half = len(part) // 2
                    retry += [part[:half], part[half:]]
                    stats.splits += 1
                    log.info("combined_search_split", subscriptions=len(part), first=part[0][0].id,
                             status=status, reason=reason)
                    continue
                sub = part[0][0]
                stats.errors.append(f"{sub.id}: {reason}")
                log.warning("subscription_search_failed", subscription_id=sub.id, status=status, reason=reason)
                if len(_SOLO) >= _SOLO_MAX:
                    _SOLO.clear()
                _SOLO[_solo_key(sub)] = None
                continue
            for hit in result["hits"]["hits"]:
                for name in hit.get("matched_queries") or ():
                    found.setdefault(name, []).append(hit["_id"])
        pending = retry
    return found


def snippets(es: Elasticsearch, alias: str, found: Mapping[str, Sequence[str]], subs: Mapping[str, Subscription],
             batch_ids: Sequence[str], stats: MatchStats | None = None) -> list[Match]:
    """Pass 2: the matches with their snippets, one highlighted search per matched subscription.

    The subscription's own search over the stories it matched, so the hits are the matches and each
    comes with the same highlight as before. If Elasticsearch refuses such a search (a highlighter
    limit, say), the pass-1 matches are kept with an empty snippet and the failure is logged.
    """
    stats = stats or MatchStats()
    order = {sid: n for n, sid in enumerate(batch_ids)}
    pairs = [(subs[sid], sorted(set(ids), key=lambda i: order.get(i, len(order)))) for sid, ids in found.items()]
    results = _msearch(es, alias, [search_body(sub, ids) for sub, ids in pairs], stats, "alert snippets msearch")
    stats.snippet_searches += len(pairs)
    matches: list[Match] = []
    for (sub, ids), result in zip(pairs, results, strict=True):
        failed = _failure(result)
        if failed is not None:
            status, reason = failed
            _raise_if_retryable(status, reason, f"highlighting matches of {sub.id}")
            log.warning("subscription_snippet_failed", subscription_id=sub.id, status=status, reason=reason)
            matches.extend(Match(sub.id, i) for i in ids)
            continue
        snippet = {hit["_id"]: snippet_of(hit) for hit in result["hits"]["hits"]}
        matches.extend(Match(sub.id, i, snippet[i]) for i in ids if i in snippet)
    return matches


def run_searches(es: Elasticsearch, alias: str, planned: Sequence[tuple[Subscription, list[str]]],
                 stats: MatchStats | None = None, chunk: int = MSEARCH_CHUNK) -> list[Match]:
    """The former single-pass matcher, one highlighted search per planned subscription (for comparison).

    A search Elasticsearch refuses with a 4xx is logged and skipped; a 429 or 5xx raises.
    """
    stats = stats or MatchStats()
    matches: list[Match] = []
    for start in range(0, len(planned), chunk):
        part = planned[start:start + chunk]
        for (sub, _), result in zip(part, _msearch(es, alias, [search_body(s, ids) for s, ids in part], stats,
                                                       "alert matching msearch"), strict=True):
            if "error" in result:
                status = int(result.get("status", 500))
                reason = str(result["error"].get("reason", result["error"]))[:300]
                _raise_if_retryable(status, reason, f"matching subscription {sub.id}")
                stats.errors.append(f"{sub.id}: {reason}")
                log.warning("subscription_search_failed", subscription_id=sub.id, status=status, reason=reason)
                continue
            for hit in result["hits"]["hits"]:
                matches.append(Match(sub.id, hit["_id"], snippet_of(hit)))
    return matches


def match_batch(es: Elasticsearch, alias: str, subs: Sequence[Subscription], docs: Mapping[str, Mapping[str, Any]],
                use_prefilter: bool = True, stats: MatchStats | None = None,
                chunk: int = COMBINE_CHUNK) -> list[Match]:
    """All (subscription, story) matches for the stories in ``docs`` (id -> indexed document).

    In subscription order, then batch order of the stories.
    """
    stats = stats or MatchStats()
    active = [s for s in subs if not s.paused]
    stats.subscriptions = len(active)
    if not active or not docs:
        return []
    planned = plan(active, docs, use_prefilter)
    stats.planned = len(planned)
    batch_ids = list(docs)
    found = which_match(es, alias, planned, batch_ids, stats, chunk)
    if not found:
        return []
    by_id = {s.id: s for s in active}
    rank = {s.id: n for n, s in enumerate(active)}
    ordered = {sid: found[sid] for sid in sorted(found, key=lambda i: rank.get(i, len(rank)))}
    return snippets(es, alias, ordered, by_id, batch_ids, stats)
