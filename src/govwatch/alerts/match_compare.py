"""Comparison-only matching paths, kept as baselines for ``benchmarks/matching.py``: snippets by one highlighted
search per matched subscription (``snippets``, the former pass 2) and the former single-pass matcher, one highlighted
search per planned subscription (``run_searches``). Production matching is ``matcher.match_batch``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from elasticsearch import Elasticsearch

from govwatch.alerts.match_bodies import search_body, snippet_of
from govwatch.alerts.match_result import Match, MatchStats
from govwatch.alerts.match_search import MSEARCH_CHUNK, msearch, raise_if_retryable, search_failure
from govwatch.alerts.subscriptions import Matchable
from govwatch.log import get_logger

log = get_logger("govwatch.alerts.matcher")  # every step of matching logs under the one name


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
    results = msearch(es, alias, [search_body(sub, ids) for sub, ids in pairs], stats, "alert snippets msearch")
    stats.snippet_searches += len(pairs)
    matches: list[Match] = []
    for (sub, ids), result in zip(pairs, results, strict=True):
        failed = search_failure(result)
        if failed is not None:
            status, reason = failed
            raise_if_retryable(status, reason, f"highlighting matches of {sub.id}")
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
        for (sub, _), result in zip(part, msearch(es, alias, [search_body(s, ids) for s, ids in part], stats,
                                                      "alert matching msearch"), strict=True):
            if "error" in result:
                status = int(result.get("status", 500))
                reason = str(result["error"].get("reason", result["error"]))[:300]
                raise_if_retryable(status, reason, f"matching subscription {sub.id}")
                stats.errors.append(f"{sub.id}: {reason}")
                log.warning("subscription_search_failed", subscription_id=sub.id, status=status, reason=reason)
                continue
            for hit in result["hits"]["hits"]:
                matches.append(Match(sub.id, hit["_id"], snippet_of(hit)))
    return matches
