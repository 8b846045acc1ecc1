"""Which stories to search for each subscription: the candidate index wakes the subscriptions filed under one of
the batch's tokens, and the pre-filter drops those (and the story ids within one) that provably cannot match.

The correctness arguments (no subscription that can match is ever dropped) are in ``candidates`` and ``prefilter``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from govwatch.alerts import prefilter
from govwatch.alerts.candidates import CandidateIndex
from govwatch.alerts.match_result import MatchStats, describe
from govwatch.alerts.subscriptions import Matchable
from govwatch.log import get_logger

log = get_logger("govwatch.alerts.matcher")  # every step of matching logs under the one name


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
