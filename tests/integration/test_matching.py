"""Matching semantics are Elasticsearch semantics: the matcher returns what each subscription's own search returns."""

from __future__ import annotations

from govwatch.alerts.matcher import fetch_stories, match_batch
from govwatch.alerts.query import subscription_query
from govwatch.alerts.subscriptions import Filters
from govwatch.es_io import make_client
from govwatch.indexing import bulk_index
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
]


def _expected(es, alias: str, query: str, filters: Filters, ids: list[str]) -> set[str]:  # noqa: ANN001
    resp = es.search(index=alias, query=subscription_query(query, filters, ids=ids), size=100, _source=False)
    return {h["_id"] for h in resp["hits"]["hits"]}


def test_matcher_equals_plain_search_per_subscription(initialized) -> None:  # noqa: ANN001
    """For each query (with filters), the matcher's matches equal a plain _search of that query over the same ids, with and without pre-filter."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = corpus()
    assert bulk_index(es, settings.index_prefix, stories) == {}
    alias = settings.index("stories")
    ids = [s.story_id for s in stories]
    subs = [sub(f"s{i}", q, f) for i, (q, f) in enumerate(QUERIES)]
    docs = fetch_stories(es, alias, ids)
    for use_prefilter in (True, False):
        got = match_batch(es, alias, subs, docs, use_prefilter=use_prefilter)
        for s in subs:
            mine = {m.story_id for m in got if m.subscription_id == s.id}
            assert mine == _expected(es, alias, s.query, s.filters, ids), (s.query, use_prefilter)
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
