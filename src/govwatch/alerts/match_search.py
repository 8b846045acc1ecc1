"""Pass 1 of matching against Elasticsearch: which (subscription, story) pairs match, with every subscription isolated.

Subscriptions are grouped ``COMBINE_CHUNK`` to a search (``match_bodies.bucket_body``), all searches in one
``_msearch`` (``MSEARCH_CHUNK`` per request at most). A search Elasticsearch refuses with a 4xx (or answers with
shard failures) is split in halves and retried, recursively, down to one subscription per search: a broken
subscription is thus isolated, and only a subscription that fails on its own is a fault and skipped. Subscriptions
that failed on their own are remembered and sent alone from then on, so a stored broken query costs one search per
batch rather than a cascade of splits. A search that times out (``timeout`` in every body) is never read as "no
match": a combined one is split, a subscription alone is given one more try alone, then it is a fault; when most
subscriptions time out the node is slow rather than the queries, and the batch is retried instead. Failures that are
nobody's query (Elasticsearch busy or unreachable, a shard missing) raise, and the batch is retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.match_bodies import bucket_body, bucket_hits, combined_body
from govwatch.alerts.match_result import MatchStats, describe, record_fault
from govwatch.alerts.subscriptions import Matchable
from govwatch.errors import RateLimited, TransientError
from govwatch.log import get_logger

log = get_logger("govwatch.alerts.matcher")  # every step of matching logs under the one name

# Subscriptions per combined search (pass 1). Measured with benchmarks/matching.py (10,000 subscriptions,
# ~630 left after the pre-filter, 2-core shared box): p95 per batch 1121 ms at 50, 907 at 100, 714 at 200,
# 642 at 400. 200 keeps most of the gain with room under the clause limit (a combined search of about
# 1000 three-word subscriptions is refused with "too many clauses"; a refused chunk is split, which
# costs extra round trips).
COMBINE_CHUNK = 200
# Searches per _msearch request: big enough to amortise the round trip, small enough that one
# request body (a few MB at most) and its response stay far below http.max_content_length.
MSEARCH_CHUNK = 500
# Shard-failure types that mean "busy, retry later" rather than "this query is wrong".
_BUSY_TYPES = {"es_rejected_execution_exception", "circuit_breaking_exception", "task_cancelled_exception"}
# Status given to a search that answered with ``timed_out``: a partial answer, never read as "no match".
TIMED_OUT = 408
# Client-side deadline of one _msearch request, over the per-search Elasticsearch ``timeout``: the searches of one
# request run a few at a time on the node, so several timeouts may pass before the answer; a grace covers the rest.
MSEARCH_TIMEOUT_FACTOR = 4
REQUEST_GRACE_S = 10.0
# When at least this many subscriptions, and more than half of those searched, time out (or fail with a 5xx) alone,
# twice, the node is slow or failing, not the queries: the batch is retried (TransientError), nobody is skipped.
OVERLOAD_MIN_TIMEOUTS = 3
# Shard failures that say the *query* is wrong for this data (it would fail again): the subscription is skipped.
# Every other shard failure (no_shard_available_action_exception with no status, node_disconnected, a shard
# being relocated or recovered) says the data is not reachable right now: retried, never a silent miss.
_QUERY_ERROR_TYPES = {"query_shard_exception", "search_parse_exception", "parsing_exception",
                      "illegal_argument_exception", "number_format_exception", "too_many_clauses",
                      "too_many_nested_clauses", "query_validation_exception", "x_content_parse_exception"}


def search_failure(result: Mapping[str, Any]) -> tuple[int, str] | None:
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


def raise_if_retryable(status: int, reason: str, what: str) -> None:
    """Raise what the consumer loop retries for a busy (429) or failing (5xx) Elasticsearch; return otherwise."""
    if status == 429:
        raise RateLimited(f"Elasticsearch busy (429) {what}")
    if status >= 500:
        raise TransientError(f"Elasticsearch {status} {what}: {reason}")


def msearch(es: Elasticsearch, alias: str, bodies: Sequence[dict[str, Any]], stats: MatchStats,
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
        except Exception as exc:  # translated at the edge
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
        results = msearch(es, alias, [b for _, b in built], stats, "alert matching msearch", timeout_s)
        stats.combined_searches += len(built)
        for (part, body), result in zip(built, results, strict=True):
            failed = search_failure(result)
            if failed is not None:
                status, reason = failed
                names = part[0][0].id if len(part) == 1 else f"{len(part)} subscriptions from {part[0][0].id}"
                # A timeout or a 5xx on one search (others answered) may be that query's doing (a query that
                # crashes or stalls the search): split it like a 4xx. Busy (429) and unavailable (503) never are.
                suspect = status == TIMED_OUT or (status >= 500 and status != 503)
                if not suspect:
                    raise_if_retryable(status, reason, f"matching {names}")
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
            except Exception as exc:  # an answer we cannot read is not a "no match"
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
        buckets = bucket_hits(result)
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
