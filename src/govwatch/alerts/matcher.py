"""Match a batch of freshly indexed stories against every active subscription, with Elasticsearch as judge.

A story matches a subscription exactly when the subscription's query (``query.subscription_query``:
query string + filters) run against the stories alias returns it. Matching is done in two passes:

1. **Which pairs match** (``match_search.which_match``). Subscriptions are grouped ``COMBINE_CHUNK`` to a
   search. A search is restricted to the union of its subscriptions' candidate stories and holds a
   ``filters`` aggregation with one filter per subscription, the subscription's own ``subscription_query``
   unchanged, keyed by its id, and a ``terms`` sub-aggregation on ``story_id`` (``match_bodies.bucket_body``):
   a story is in a bucket exactly when that subscription's query matches it, each filter being evaluated on
   its own, so combining changes nothing about who matches what. No hits, no scoring, no source. (The former
   form, one ``bool.should`` of named clauses read from each hit's ``matched_queries``,
   ``match_bodies.combined_body``, costs a fetch phase that builds every named query again: 3-5x the
   Elasticsearch time; it is kept as the baseline and as the fallback for a part whose buckets do not add
   up.) All searches go in one ``_msearch`` (``MSEARCH_CHUNK`` searches per request at most). A search
   Elasticsearch refuses with a 4xx (or answers with shard failures) is split in halves and retried,
   recursively, down to one subscription per search: a broken subscription is thus isolated, and only a
   subscription that fails on its own is logged and skipped. Subscriptions that failed on their own are
   remembered and sent alone from then on, so a stored broken query costs one search per batch rather than
   a cascade of splits.
2. **Snippets**, made locally (``snippet``) from the matched story's stored text and the query's
   terms, in the shape of the highlight Elasticsearch gave: no search per match. The former pass 2,
   one highlighted search per matched subscription in one ``_msearch`` (``match_compare.snippets``), is
   kept for comparison (``snippets_locally=False``).

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
subscriptions (and the story ids within a subscription's clause) that provably cannot match
(``match_plan.plan``); the correctness arguments (no subscription that can match is ever dropped) are in
those two modules.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.candidates import CandidateIndex
from govwatch.alerts.match_compare import snippets
from govwatch.alerts.match_plan import plan
from govwatch.alerts.match_result import Match, MatchStats, describe, record_fault
from govwatch.alerts.match_search import COMBINE_CHUNK, which_match
from govwatch.alerts.snippet import StoryText
from govwatch.alerts.snippet import snippet as local_snippet
from govwatch.alerts.subscriptions import Matchable

# Fields a matched story needs for its alert; the full text is only read when pre-filtering.
ALERT_FIELDS = ["story_id", "cluster_id", "event_id", "title", "url", "source", "published_at", "entity_names",
                "topic_labels", "@timestamp"]


def fetch_stories(es: Elasticsearch, alias: str, ids: Sequence[str],
                  with_text: bool = True) -> dict[str, dict[str, Any]]:
    """The documents of ``ids`` (one search: mget cannot read an alias over several monthly indices)."""
    source: Any = True if with_text else ALERT_FIELDS
    try:
        resp = es.search(index=alias, query={"ids": {"values": list(ids)}}, size=len(ids), source=source,
                         track_total_hits=False)
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "fetch batch stories") from exc
    return {hit["_id"]: hit["_source"] for hit in resp["hits"]["hits"]}


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
