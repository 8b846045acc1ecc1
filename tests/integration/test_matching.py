"""Matching semantics are Elasticsearch semantics: the matcher returns what each subscription's own search returns."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from govwatch.adapters.es_io import make_client
from govwatch.adapters.story_index import bulk_index
from govwatch.alerts import match_bodies, match_plan, match_search
from govwatch.alerts.match_result import MatchStats
from govwatch.alerts.matcher import fetch_stories, match_batch
from govwatch.alerts.query import subscription_query
from govwatch.alerts.subscriptions import Filters
from tests.integration._alert_helpers import corpus, sub

QUERIES = [
    ('"AI Act" AND (fine OR enforcement)', Filters()),
    ("Ofcom OR NIST", Filters()),
    ("enforcement", Filters(countries=["FR"])),
    ("AI", Filters(min_relevance=0.6)),
    ("regulat* OR summit", Filters()),
    ('"act on ai"', Filters()),
    ("AI -Act", Filters(topics=["legislation_rulemaking"])),
    ("title:guidance", Filters()),
    ("Seoul", Filters(sources=["Other Outlet"])),
    ("*", Filters(countries=["GB", "US"])),
    ("AI AND NOT (Ofcom OR NIST)", Filters(min_relevance=0.5)),
]


def _expected(es, alias: str, query: str, filters: Filters, ids: list[str]) -> set[str]:  # noqa: ANN001
    resp = es.search(index=alias, query=subscription_query(query, filters, ids=ids), size=100, _source=False)
    return {h["_id"] for h in resp["hits"]["hits"]}


def test_matcher_equals_plain_search_per_subscription(initialized) -> None:  # noqa: ANN001
    """For each query (with filters), the matcher's matches equal a plain _search of that query over the same ids,
    with and without pre-filter and candidate index, by filter buckets and by named clauses, snippets made locally
    (no snippet search) or searched (one per matched subscription)."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = corpus()
    assert bulk_index(es, settings.index_prefix, stories) == {}
    alias = settings.index("stories")
    ids = [s.story_id for s in stories]
    subs = [sub(f"s{i}", q, f) for i, (q, f) in enumerate(QUERIES)]
    docs = fetch_stories(es, alias, ids)
    expected = {s.id: _expected(es, alias, s.query, s.filters, ids) for s in subs}
    assert any(expected.values()) and not all(expected.values())  # the batch tells matches from misses
    index = match_plan.candidate_index(subs)
    for use_prefilter, idx, buckets, local in [(True, index, True, True), (True, None, True, False),
                                               (False, None, True, True), (True, index, False, True),
                                               (False, None, False, False)]:
        for chunk in (1, 3, 200):  # one subscription per search, several combined searches, one for all
            stats = MatchStats()
            got = match_batch(es, alias, subs, docs, use_prefilter=use_prefilter, stats=stats, chunk=chunk, index=idx,
                              by_buckets=buckets, snippets_locally=local)
            for s in subs:
                mine = {m.story_id for m in got if m.subscription_id == s.id}
                assert mine == expected[s.id], (s.query, use_prefilter, idx is not None, buckets, chunk)
            assert len(got) == len({(m.subscription_id, m.story_id) for m in got})
            assert stats.errors == [] and stats.splits == 0
            assert stats.snippet_searches == (0 if local else sum(1 for v in expected.values() if v))
            assert stats.round_trips == (1 if local else 2)
    ai_act = {m.story_id for m in got if m.subscription_id == subs[0].id}
    assert ai_act == {stories[0].story_id}  # story 4 has "act on AI" + enforcement: not the phrase
    assert {m.story_id for m in got if m.subscription_id == subs[1].id} == {stories[2].story_id, stories[3].story_id}


def test_snippet_is_highlighted(initialized) -> None:  # noqa: ANN001
    """Each match carries a highlighted fragment with <em> around the matching terms."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = corpus()
    bulk_index(es, settings.index_prefix, stories)
    alias = settings.index("stories")
    docs = fetch_stories(es, alias, [s.story_id for s in stories])
    got = match_batch(es, alias, [sub("ofcom", "Ofcom")], docs)
    assert len(got) == 1 and "<em>Ofcom</em>" in got[0].snippet


def test_paused_subscription_is_ignored(initialized) -> None:  # noqa: ANN001
    """A paused subscription produces no matches even when its query matches the batch."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = corpus()
    bulk_index(es, settings.index_prefix, stories)
    alias = settings.index("stories")
    docs = fetch_stories(es, alias, [s.story_id for s in stories])
    active, paused = sub("a", "NIST"), sub("p", "NIST", paused=True)
    got = match_batch(es, alias, [active, paused], docs)
    assert [(m.subscription_id, m.story_id) for m in got] == [(active.id, stories[3].story_id)]


def test_broken_subscription_is_isolated_inside_a_chunk(initialized) -> None:  # noqa: ANN001
    """A stored query that fails at search time (relevance is a float: 'relevance:abc' parses but cannot be built)
    sits in one combined search with good ones: the search is split until it is alone, the good subscriptions
    still get exactly their plain-search matches, the bad one is skipped and logged, and next batch it is sent alone."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = corpus()
    assert bulk_index(es, settings.index_prefix, stories) == {}
    alias = settings.index("stories")
    ids = [s.story_id for s in stories]
    docs = fetch_stories(es, alias, ids)
    # the Lucene syntax is fine: ES accepts the text, building the numeric query fails
    bad_resp = es.options(ignore_status=400).search(index=alias, query={"query_string": {"query": "relevance:abc"}})
    assert bad_resp.meta.status == 400 and "For input string" in str(bad_resp.body)
    good = [sub(f"g{i}", q, f) for i, (q, f) in enumerate(QUERIES)]
    bad = sub("bad", "relevance:abc OR AI")
    subs = [*good[:4], bad, *good[4:]]
    match_search._SOLO.clear()
    for attempt in ("first", "again"):
        stats = MatchStats()
        with capture_logs() as logs:
            got = match_batch(es, alias, subs, docs, stats=stats, chunk=200)
        for s in good:
            assert ({m.story_id for m in got if m.subscription_id == s.id}
                    == _expected(es, alias, s.query, s.filters, ids))
        assert not [m for m in got if m.subscription_id == bad.id]
        assert len(stats.errors) == 1 and stats.errors[0].startswith(bad.id)
        failed = [e for e in logs if e["event"] == "subscription_search_failed"]
        assert [e["subscription_id"] for e in failed] == [bad.id] and failed[0]["status"] == 400
        if attempt == "first":
            assert stats.splits >= 1 and any(e["event"] == "combined_search_split" for e in logs)
        else:  # remembered: sent alone from the start, no split of the good ones' search
            assert stats.splits == 0
    match_search._SOLO.clear()


def test_chunk_over_the_clause_limit_is_split(initialized) -> None:  # noqa: ANN001
    """Subscriptions fine on their own but together over indices.query.bool.max_clause_count: as filter buckets each
    is rewritten alone (one search, no split); as named clauses the search is split, and none is lost either way."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = corpus()
    assert bulk_index(es, settings.index_prefix, stories) == {}
    alias = settings.index("stories")
    ids = [s.story_id for s in stories]
    docs = fetch_stories(es, alias, ids)
    # 60 distinct words x 6 default fields = 360 clauses each: one is fine, 60 together exceed the limit
    # (distinct per subscription: Lucene folds identical clauses into one)
    subs = [sub(f"big{i}", " OR ".join(f"w{n}x{i}" for n in range(59)) + f" OR {['Ofcom', 'NIST', 'summit'][i % 3]}")
            for i in range(60)]
    with pytest.raises(Exception):  # noqa: B017,PT011 - the premise: all of them in one search is refused
        es.search(index=alias, query=match_bodies.combined_body([(s, ids) for s in subs], ids)["query"], size=0)
    for buckets in (True, False):
        stats = MatchStats()
        got = match_batch(es, alias, subs, docs, stats=stats, chunk=60, by_buckets=buckets)
        assert (stats.splits == 0 and stats.round_trips == 1) if buckets else stats.splits >= 1
        assert stats.errors == []
        for s in subs:
            assert ({m.story_id for m in got if m.subscription_id == s.id}
                    == _expected(es, alias, s.query, s.filters, ids))


def test_unavailable_shard_is_retried_not_skipped(initialized) -> None:  # noqa: ANN001
    """A monthly index whose shard is unassigned (shard failure without a status) makes the batch retry
    (TransientError) instead of silently skipping the subscriptions' matches; once it is back, they match."""
    from govwatch.errors import TransientError

    settings = initialized
    es = make_client(settings.es_url)
    stories = corpus()
    bulk_index(es, settings.index_prefix, stories)
    alias = settings.index("stories")
    docs = fetch_stories(es, alias, [s.story_id for s in stories])
    stuck = f"{settings.index_prefix}-stories-2026.10"  # matches the template: joins the alias
    es.indices.create(index=stuck, settings={"index.routing.allocation.require._name": "no-such-node"},
                      wait_for_active_shards="0")
    subs = [sub("ofcom", "Ofcom"), sub("nist", "NIST")]
    with pytest.raises(TransientError, match="no_shard_available"):
        match_batch(es, alias, subs, docs, stats=MatchStats())
    es.indices.put_settings(index=stuck, settings={"index.routing.allocation.require._name": None})
    es.cluster.health(index=stuck, wait_for_status="yellow", timeout="60s")
    got = match_batch(es, alias, subs, docs)
    assert {m.subscription_id for m in got} == {subs[0].id, subs[1].id}
