"""Match a batch of freshly indexed stories against every active subscription, with Elasticsearch as judge.

A story matches a subscription exactly when the subscription's query (``query.subscription_query``:
query string + filters) run against the stories alias returns it. Matching is done in two passes:

1. **Which pairs match.** Subscriptions are grouped ``COMBINE_CHUNK`` to a search. A search is
   restricted to the union of its subscriptions' candidate stories and holds a ``filters`` aggregation
   with one filter per subscription, the subscription's own ``subscription_query`` unchanged, keyed by
   its id, and a ``terms`` sub-aggregation on ``story_id`` (``bucket_body``): a story is in a bucket
   exactly when that subscription's query matches it, each filter being evaluated on its own, so
   combining changes nothing about who matches what. No hits, no scoring, no source. (The former form,
   one ``bool.should`` of named clauses read from each hit's ``matched_queries``, ``combined_body``,
   costs a fetch phase that builds every named query again: 3-5x the Elasticsearch time; it is kept as
   the baseline and as the fallback for a part whose buckets do not add up.) All searches go in one
   ``_msearch`` (``MSEARCH_CHUNK`` searches per request at most). A search Elasticsearch refuses with a
   4xx (or answers with shard failures) is split in halves and retried, recursively, down to one
   subscription per search: a broken subscription is thus isolated, and only a subscription that fails
   on its own is logged and skipped. Subscriptions that failed on their own are remembered and sent
   alone from then on, so a stored broken query costs one search per batch rather than a cascade of
   splits.
2. **Snippets**, made locally (``snippet``) from the matched story's stored text and the query's
   terms, in the shape of the highlight Elasticsearch gave: no search per match. The former pass 2,
   one highlighted search per matched subscription in one ``_msearch`` (``snippets``), is kept for
   comparison (``snippets_locally=False``).

Round trips per batch: one ``_msearch`` for pass 1 (``MSEARCH_CHUNK`` combined searches of
``COMBINE_CHUNK`` subscriptions each, i.e. up to 100,000 candidates, before it takes a second one) plus
a split's retry when a combined search is refused; none for snippets. The fetch of the batch's stories
is one more search.

**Isolation by construction.** Every step that works on one subscription (its pre-filter check, its
search body, its search, its snippets) runs under a guard: any exception there (not a list of known
ones) or a search Elasticsearch refuses or times out on for that subscription alone becomes a ``Fault``
of that subscription (``MatchStats.faults``: counted, logged, and flagged on the subscription by the
alert stage); the other subscriptions' matches are computed as if it were absent. Only failures that
are nobody's query (Elasticsearch busy or unreachable, a shard missing) raise, and the batch is retried.
A search that times out (``timeout`` in every body) is never read as "no match": a combined one is
split, a subscription alone is given one more try alone, then it is a fault; when most subscriptions
time out the node is slow rather than the queries, and the batch is retried instead.

Before that, ``candidates.CandidateIndex`` (built once per subscription list, not per batch) wakes the
subscriptions filed under one of the batch's tokens, and ``prefilter`` drops, among those, the
subscriptions (and the story ids within a subscription's clause) that provably cannot match; the
correctness arguments (no subscription that can match is ever dropped) are in those two modules.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts import prefilter
from govwatch.alerts.candidates import CandidateIndex
from govwatch.alerts.query import subscription_query
from govwatch.alerts.snippet import SNIPPET_CHARS, StoryText
from govwatch.alerts.snippet import snippet as local_snippet
from govwatch.alerts.subscriptions import Matchable
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
# Status given to a search that answered with ``timed_out``: a partial answer, never read as "no match".
TIMED_OUT = 408
# Client-side deadline of one _msearch request, over the per-search Elasticsearch ``timeout``: the searches of one
# request run a few at a time on the node, so several timeouts may pass before the answer; a grace covers the rest.
MSEARCH_TIMEOUT_FACTOR = 4
REQUEST_GRACE_S = 10.0
# When at least this many subscriptions, and more than half of those searched, time out (or fail with a 5xx) alone,
# twice, the node is slow or failing, not the queries: the batch is retried (TransientError), nobody is skipped.
OVERLOAD_MIN_TIMEOUTS = 3
_QUERY_ERROR_TYPES = {"query_shard_exception", "search_parse_exception", "parsing_exception",
                      "illegal_argument_exception", "number_format_exception", "too_many_clauses",
                      "too_many_nested_clauses", "query_validation_exception", "x_content_parse_exception"}


@dataclass(frozen=True)
class Match:
    """One (subscription, story) pair Elasticsearch returned, with the highlighted snippet."""

    subscription_id: str
    story_id: str
    snippet: str = ""


@dataclass(frozen=True)
class Fault:
    """A subscription the matcher had to skip (or snippet without) in this batch, and why."""

    subscription_id: str
    stage: str  # prefilter, body, search, timeout, snippet
    reason: str


@dataclass
class MatchStats:
    subscriptions: int = 0
    searches_sent: int = 0  # all searches, both passes
    round_trips: int = 0  # _msearch requests, both passes
    combined_searches: int = 0  # pass 1, including retries after splits
    snippet_searches: int = 0  # pass 2
    splits: int = 0  # combined searches refused and split in halves
    woken: int = 0  # subscriptions the candidate index woke (all of them without an index)
    planned: int = 0  # subscriptions left after the pre-filter
    fetch_s: float = 0.0  # wall time of the story fetch (only when match_batch fetches)
    prefilter_cpu_s: float = 0.0  # candidate index + pre-filter, this thread's CPU
    pass1_s: float = 0.0  # wall time of pass 1 (building bodies, Elasticsearch, reading answers)
    pass1_cpu_s: float = 0.0  # this thread's CPU in pass 1 (request bodies, JSON, answers)
    snippet_s: float = 0.0  # wall time of the snippets (local or searched)
    errors: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)  # one per subscription skipped (or snippet lost) this batch
    prefilter_fallbacks: int = 0  # pre-filter checks that failed: the subscription was sent to ES for every story


def describe(exc: BaseException) -> str:
    """The exception's type and first line: stable from batch to batch (the flag is re-written only when it changes)."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def record_fault(stats: MatchStats, sub_id: str, stage: str, reason: str) -> None:
    """Count, log and keep a subscription's fault (the alert stage flags it on the subscription)."""
    stats.faults.append(Fault(sub_id, stage, reason))
    stats.errors.append(f"{sub_id}: {reason}")
    log.warning("subscription_failed", subscription_id=sub_id, stage=stage, reason=reason)


def fetch_stories(es: Elasticsearch, alias: str, ids: Sequence[str], with_text: bool = True) -> dict[str, dict]:
    """The documents of ``ids`` (one search: mget cannot read an alias over several monthly indices)."""
    source: Any = True if with_text else ALERT_FIELDS
    try:
        resp = es.search(index=alias, query={"ids": {"values": list(ids)}}, size=len(ids), _source=source,
                         track_total_hits=False)
    except Exception as exc:  # noqa: BLE001 - translated at the edge
        raise es_io.translate(exc, "fetch batch stories") from exc
    return {hit["_id"]: hit["_source"] for hit in resp["hits"]["hits"]}


def plan(subs: Sequence[Matchable], docs: Mapping[str, Mapping[str, Any]], use_prefilter: bool = True,
         index: CandidateIndex | None = None, stats: MatchStats | None = None) -> list[tuple[Matchable, list[str]]]:
    """Which story ids to search for each active subscription (pairs with no candidates are left out).

    With ``index`` (built by ``candidate_index(subs)`` from this very list), only the subscriptions it
    wakes for the batch's tokens are checked; without, every subscription is (the former design).
    """
    ids = list(docs)
    if not use_prefilter:
        return [(sub, ids) for sub in subs if not sub.paused]
    batch = prefilter.BatchIndex.of([prefilter.StoryFacts.from_document(i, d) for i, d in docs.items()])
    if index is not None:
        if index.size != len(subs):
            raise ValueError(f"candidate index of {index.size} subscriptions used with {len(subs)}")
        woken: Sequence[Matchable] = [subs[pos] for pos in index.woken(batch.by_token)]
    else:
        woken = subs
    out: list[tuple[Matchable, list[str]]] = []
    checked = 0
    for sub in woken:
        if sub.paused:
            continue
        checked += 1
        try:
            cands = prefilter.candidates_indexed(requirement_of(sub), sub.filters, batch)
        except Exception as exc:  # noqa: BLE001 - "may match" is the safe answer: Elasticsearch judges every story
            log.warning("prefilter_failed", subscription_id=sub.id, reason=describe(exc))
            if stats is not None:
                stats.prefilter_fallbacks += 1
            cands = ids
        if cands:
            out.append((sub, cands))
    if stats is not None:
        stats.woken = checked
    return out


def candidate_index(subs: Sequence[Matchable]) -> CandidateIndex:
    """The candidate index of a subscription list (build it once per list, e.g. when subscriptions are re-read)."""
    return CandidateIndex.of([requirement_of(s) for s in subs])


_REQ_CACHE: dict[str, prefilter.Requirement] = {}
# Distinct query texts kept parsed; above that the cache starts over (10x the subscriptions aimed at).
_REQ_MAX = 1_000_000


def requirement_of(sub: Matchable) -> prefilter.Requirement:
    """The parsed requirement of a query, cached by query text (subscriptions are re-read every few s)."""
    req = _REQ_CACHE.get(sub.query, _REQ_CACHE)
    if req is _REQ_CACHE:
        if len(_REQ_CACHE) >= _REQ_MAX:
            _REQ_CACHE.clear()
        req = _REQ_CACHE[sub.query] = prefilter.requirement(sub.query)
    return req  # type: ignore[return-value]


def search_body(sub: Matchable, ids: Sequence[str]) -> dict[str, Any]:
    """The search of one subscription over some story ids: matching ids and a highlight, no source."""
    return {"query": subscription_query(sub.query, sub.filters, sub.allow_expensive, list(ids)),
            "size": len(ids), "_source": False, "track_total_hits": False, "highlight": HIGHLIGHT}


def named_clause(sub: Matchable, ids: Sequence[str] | None) -> dict[str, Any]:
    """The subscription's own query (restricted to ``ids`` unless None), named by its id."""
    query = subscription_query(sub.query, sub.filters, sub.allow_expensive, None if ids is None else list(ids))
    query["bool"]["_name"] = sub.id
    return query


def combined_body(part: Sequence[tuple[Matchable, list[str]]], batch_ids: Sequence[str]) -> dict[str, Any]:
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


def bucket_body(part: Sequence[tuple[Matchable, list[str]]], batch_ids: Sequence[str]) -> dict[str, Any]:
    """One search for several subscriptions, answered by a ``filters`` aggregation (no hits, no fetch phase).

    The search is restricted to the union of the candidates; each subscription's own query
    (``subscription_query``, unchanged) is one filter, keyed by its id, with a ``terms`` sub-aggregation on
    ``story_id`` listing the stories in that bucket. A story is in a bucket exactly when the filter, i.e.
    the subscription's query, matches it: the same answer as a named clause's ``matched_queries``, without
    the fetch phase that re-builds every named query for the hits (measured 3-5x the cost on 630 clauses).
    Each filter is rewritten on its own, so the clause limit applies per subscription, not per chunk.
    ``execution_hint: map`` reads the few matching stories' values directly: the default (global
    ordinals) would be rebuilt over every story id of the index after each refresh, i.e. every batch.
    """
    wanted = {i for _, ids in part for i in ids}
    union = [i for i in batch_ids if i in wanted] + sorted(wanted - set(batch_ids))
    filters = {sub.id: subscription_query(sub.query, sub.filters, sub.allow_expensive) for sub, _ in part}
    return {"query": {"ids": {"values": union}}, "size": 0, "track_total_hits": False,
            "aggs": {"m": {"filters": {"filters": filters},
                           "aggs": {"s": {"terms": {"field": "story_id", "size": max(1, len(union)),
                                                    "execution_hint": "map"}}}}}}


def _bucket_hits(result: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """subscription id -> matched story ids from a ``bucket_body`` answer; None if a bucket lost stories."""
    out: dict[str, list[str]] = {}
    for sid, bucket in result["aggregations"]["m"]["buckets"].items():
        if not bucket["doc_count"]:
            continue
        terms = bucket["s"]
        ids = [t["key"] for t in terms["buckets"]]
        if sum(t["doc_count"] for t in terms["buckets"]) != bucket["doc_count"] or terms.get("sum_other_doc_count"):
            return None  # a story without story_id (never written so): read this part by named clauses
        out[sid] = ids
    return out


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
    if result.get("timed_out"):  # partial: some shards or segments were not searched to the end
        return TIMED_OUT, "the search timed out (Elasticsearch `timeout`): its answer is incomplete"
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
             what: str, timeout_s: float | None = None) -> list[dict[str, Any]]:
    """Send searches with ``_msearch``, ``MSEARCH_CHUNK`` per request; the responses in order.

    With ``timeout_s`` (the per-search Elasticsearch ``timeout`` already in the bodies), the request itself gets a
    client deadline above it, so a stalled node costs a bounded wait and a retry, never a hang.
    """
    if timeout_s is not None:
        es = es.options(request_timeout=timeout_s * MSEARCH_TIMEOUT_FACTOR + REQUEST_GRACE_S)
    out: list[dict[str, Any]] = []
    for start in range(0, len(bodies), MSEARCH_CHUNK):
        searches: list[dict[str, Any]] = []
        for body in bodies[start:start + MSEARCH_CHUNK]:
            # Each batch is new: caching its answers would only evict entries worth keeping (dashboards).
            searches.append({"index": alias, "request_cache": False})
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


def _solo_key(sub: Matchable) -> tuple[str, str, str, bool]:
    return (sub.id, sub.query, sub.filters.model_dump_json(), sub.allow_expensive)


def _with_timeout(body: dict[str, Any], timeout_s: float | None) -> dict[str, Any]:
    if timeout_s is not None:
        body["timeout"] = f"{max(1, round(timeout_s * 1000))}ms"
    return body


def which_match(es: Elasticsearch, alias: str, planned: Sequence[tuple[Matchable, list[str]]],
                batch_ids: Sequence[str], stats: MatchStats | None = None,
                chunk: int = COMBINE_CHUNK, by_buckets: bool = True,
                timeout_s: float | None = None) -> dict[str, list[str]]:
    """Pass 1: subscription id -> ids of the stories it matches (only subscriptions with a match).

    Each part is one ``bucket_body`` search (``by_buckets``), or one ``combined_body`` search of named
    clauses (the former design, and the fallback for a part whose buckets did not add up).

    A 4xx for a combined search (or shard failures, a timeout, a 5xx other than 503) splits it in halves,
    recursively; a subscription refused on its own is a fault (``stats.faults``, logged) and skipped, so one broken
    subscription cannot block everybody's alerts; one timing out or failing with a 5xx alone gets one more try alone
    first (and when most do, the node is at fault: TransientError). A body that cannot even be built is split the
    same way. A 429 or 503 (busy, shards unavailable) raises: the consumer loop retries the whole batch.
    """
    stats = stats or MatchStats()
    solo = [p for p in planned if _solo_key(p[0]) in _SOLO]
    rest = [p for p in planned if _solo_key(p[0]) not in _SOLO]
    pending: list[list[tuple[Matchable, list[str]]]] = [[p] for p in solo]
    pending += [list(rest[i:i + chunk]) for i in range(0, len(rest), chunk)]
    found: dict[str, list[str]] = {}
    named: set[int] = set()  # ids of parts to read by named clauses
    second_try: set[str] = set()  # subscriptions already given their one more try after failing alone
    doubtful: list[tuple[Matchable, int, str]] = []  # timed out or 5xx alone, twice: the query, or the node?
    while pending:
        built: list[tuple[list[tuple[Matchable, list[str]]], dict[str, Any]]] = []
        retry: list[list[tuple[Matchable, list[str]]]] = []
        for part in pending:
            try:
                body = (combined_body(part, batch_ids) if (not by_buckets or id(part) in named)
                        else bucket_body(part, batch_ids))
            except Exception as exc:  # noqa: BLE001 - one subscription's body must not stop the others'
                if len(part) > 1:
                    half = len(part) // 2
                    retry += [part[:half], part[half:]]
                else:
                    record_fault(stats, part[0][0].id, "body", describe(exc))
                continue
            built.append((part, _with_timeout(body, timeout_s)))
        results = _msearch(es, alias, [b for _, b in built], stats, "alert matching msearch", timeout_s)
        stats.combined_searches += len(built)
        for (part, body), result in zip(built, results, strict=True):
            failed = _failure(result)
            if failed is not None:
                status, reason = failed
                names = part[0][0].id if len(part) == 1 else f"{len(part)} subscriptions from {part[0][0].id}"
                # A timeout or a 5xx on one search (others answered) may be that query's doing (a query that
                # crashes or stalls the search): split it like a 4xx. Busy (429) and unavailable (503) never are.
                suspect = status == TIMED_OUT or (status >= 500 and status != 503)
                if not suspect:
                    _raise_if_retryable(status, reason, f"matching {names}")
                if len(part) > 1:
                    half = len(part) // 2
                    retry += [part[:half], part[half:]]
                    stats.splits += 1
                    log.info("combined_search_split", subscriptions=len(part), first=part[0][0].id,
                             status=status, reason=reason)
                    continue
                sub = part[0][0]
                if suspect:
                    if sub.id not in second_try:
                        second_try.add(sub.id)
                        retry.append(part)
                        log.info("subscription_search_retried", subscription_id=sub.id, status=status, reason=reason)
                    else:
                        doubtful.append((sub, status, reason))
                    continue
                log.warning("subscription_search_failed", subscription_id=sub.id, status=status, reason=reason)
                record_fault(stats, sub.id, "search", reason)
                if len(_SOLO) >= _SOLO_MAX:
                    _SOLO.clear()
                _SOLO[_solo_key(sub)] = None
                continue
            try:
                _read_result(part, body, result, found, named, retry)
            except Exception as exc:  # noqa: BLE001 - an answer we cannot read is not a "no match"
                raise TransientError(f"unreadable matching answer for {part[0][0].id}: {describe(exc)}") from exc
        pending = retry
    if doubtful:
        if len(doubtful) >= OVERLOAD_MIN_TIMEOUTS and 2 * len(doubtful) > len(planned):
            raise TransientError(f"{len(doubtful)} of {len(planned)} subscriptions' searches timed out or failed: "
                                 f"Elasticsearch is overloaded or failing ({doubtful[0][2]}), the batch is retried")
        for sub, status, reason in doubtful:
            if status == TIMED_OUT:
                record_fault(stats, sub.id, "timeout", f"its search timed out twice (over {timeout_s} s each): "
                                                       "simplify the query (fewer wildcards/fuzzy terms)")
            else:
                record_fault(stats, sub.id, "search", f"its search failed twice with {status}: {reason}"[:300])
            if len(_SOLO) >= _SOLO_MAX:
                _SOLO.clear()
            _SOLO[_solo_key(sub)] = None
    return found


def _read_result(part: list[tuple[Matchable, list[str]]], body: Mapping[str, Any], result: Mapping[str, Any],
                 found: dict[str, list[str]], named: set[int], retry: list[list[tuple[Matchable, list[str]]]]) -> None:
    """Add a complete answer's matches to ``found`` (or queue the part again, read by named clauses)."""
    if "aggs" in body:
        buckets = _bucket_hits(result)
        if buckets is None:
            log.warning("bucket_counts_differ", subscriptions=len(part), first=part[0][0].id)
            named.add(id(part))
            retry.append(part)
            return
        for name, ids in buckets.items():
            found.setdefault(name, []).extend(ids)
        return
    for hit in result["hits"]["hits"]:
        for name in hit.get("matched_queries") or ():
            found.setdefault(name, []).append(hit["_id"])


def snippets(es: Elasticsearch, alias: str, found: Mapping[str, Sequence[str]], subs: Mapping[str, Matchable],
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


def run_searches(es: Elasticsearch, alias: str, planned: Sequence[tuple[Matchable, list[str]]],
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


def local_snippets(found: Mapping[str, Sequence[str]], subs: Mapping[str, Matchable],
                   docs: Mapping[str, Mapping[str, Any]], batch_ids: Sequence[str],
                   stats: MatchStats | None = None) -> list[Match]:
    """Pass 2 without Elasticsearch: each match with a snippet made from the story text (``snippet``).

    Elasticsearch already said the story matches; the snippet is cosmetic. So a snippet that cannot be made
    (any exception) leaves that match with an empty snippet, and the subscription gets a fault, once a batch.
    """
    order = {sid: n for n, sid in enumerate(batch_ids)}
    texts = {i: StoryText(d) for i, d in docs.items()}  # each story analysed once for all its matches
    matches: list[Match] = []
    for sid, ids in found.items():
        sub = subs[sid]
        failed = False
        for story_id in sorted(set(ids), key=lambda i: order.get(i, len(order))):
            try:
                text = local_snippet(texts.get(story_id) or StoryText({}), sub.query)
            except Exception as exc:  # noqa: BLE001 - the match stands; only its snippet is lost
                text = ""
                if not failed and stats is not None:
                    record_fault(stats, sid, "snippet", describe(exc))
                failed = True
            matches.append(Match(sid, story_id, text))
    return matches


def match_batch(es: Elasticsearch, alias: str, subs: Sequence[Matchable], docs: Mapping[str, Mapping[str, Any]],
                use_prefilter: bool = True, stats: MatchStats | None = None,
                chunk: int = COMBINE_CHUNK, index: CandidateIndex | None = None,
                snippets_locally: bool = True, by_buckets: bool = True,
                timeout_s: float | None = None) -> list[Match]:
    """All (subscription, story) matches for the stories in ``docs`` (id -> indexed document, with its text).

    ``index``: the ``candidate_index`` of ``subs`` (the alert stage builds it when it re-reads the
    subscriptions); without it every subscription goes through the pre-filter. In subscription order,
    then batch order of the stories.
    """
    stats = stats or MatchStats()
    if not subs or not docs:
        return []
    cpu = time.thread_time()
    planned = plan(subs, docs, use_prefilter, index, stats)
    stats.prefilter_cpu_s += time.thread_time() - cpu
    stats.subscriptions = sum(1 for s in subs if not s.paused)
    stats.planned = len(planned)
    batch_ids = list(docs)
    wall, cpu = time.perf_counter(), time.thread_time()
    found = which_match(es, alias, planned, batch_ids, stats, chunk, by_buckets, timeout_s)
    stats.pass1_s += time.perf_counter() - wall
    stats.pass1_cpu_s += time.thread_time() - cpu
    if not found:
        return []
    by_id = {s.id: s for s, _ in planned}
    rank = {s.id: n for n, (s, _) in enumerate(planned)}
    ordered = {sid: found[sid] for sid in sorted(found, key=lambda i: rank.get(i, len(rank)))}
    wall = time.perf_counter()
    if snippets_locally:
        out = local_snippets(ordered, by_id, docs, batch_ids, stats)
    else:
        out = snippets(es, alias, ordered, by_id, batch_ids, stats)
    stats.snippet_s += time.perf_counter() - wall
    return out
