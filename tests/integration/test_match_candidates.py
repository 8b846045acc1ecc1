"""The candidate index and the subscription cache on real Elasticsearch: same matches as the exact check, fresh on
change."""

from __future__ import annotations

import random

from govwatch.adapters.es_io import make_client
from govwatch.adapters.story_index import bulk_index
from govwatch.alerts.match_plan import candidate_index
from govwatch.alerts.match_result import MatchStats
from govwatch.alerts.matcher import fetch_stories, match_batch
from govwatch.alerts.query import subscription_query
from govwatch.alerts.store import SubscriptionStore
from govwatch.stages.alerter import SubscriptionCache
from tests.integration._alert_helpers import corpus, sub

WORDS = ["AI", "Act", "fine", "enforcement", "Ofcom", "NIST", "summit", "guidance", "Seoul", "risk", "probe",
         "delayed", "Commission", "deepfakes", "framework"]
SHAPES = ['"{0} {1}"', "{0} AND {1}", "{0} OR {1}", '"{0} {1}" AND ({2} OR {3})', "{0} AND {1} -{2}",
          "({0} OR {1}) AND {2}", "{0}*", "{0} NOT {1}", "title:{0} OR {1}", '"{0} {1}"~2']


def _exact(es, alias: str, subs, ids: list[str]) -> set[tuple[str, str]]:  # noqa: ANN001
    out = set()
    for s in subs:
        resp = es.search(index=alias, query=subscription_query(s.query, s.filters, ids=ids), size=len(ids),
                         _source=False)
        out.update((s.id, h["_id"]) for h in resp["hits"]["hits"])
    return out


def test_current_design_equals_exact_per_subscription_check(initialized) -> None:  # noqa: ANN001
    """Random word/phrase/AND/OR/NOT/wildcard/fielded/slop queries: candidate index + pre-filter + filter buckets give
    exactly the (subscription, story) pairs of every subscription's own search, in one pass-1 round trip."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = corpus()
    assert bulk_index(es, settings.index_prefix, stories) == {}
    alias = settings.index("stories")
    ids = [s.story_id for s in stories]
    rng = random.Random(11)
    subs = [sub(f"r{i}", rng.choice(SHAPES).format(*rng.sample(WORDS, 4))) for i in range(150)]
    docs = fetch_stories(es, alias, ids)
    truth = _exact(es, alias, subs, ids)
    assert 10 < len(truth) < len(subs) * len(ids) / 4  # some match, most do not
    stats = MatchStats()
    got = match_batch(es, alias, subs, docs, stats=stats, index=candidate_index(subs))
    assert {(m.subscription_id, m.story_id) for m in got} == truth
    assert stats.round_trips == 1 and stats.snippet_searches == 0 and stats.woken < len(subs)
    assert all(m.snippet for m in got)


def test_cache_rereads_only_on_change(initialized) -> None:  # noqa: ANN001
    """The cache re-reads (and re-indexes) after an add, an edit, a pause and a delete, and not when nothing changed."""
    settings = initialized
    es = make_client(settings.es_url)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    cache = SubscriptionCache(store, ttl_s=0.0)
    assert cache.get() == [] and cache.reads == 1
    a = store.add(sub("a", "Ofcom"))
    subs, index = cache.current()
    assert [s.id for s in subs] == [a.id] and index.size == 1 and cache.reads == 2
    cache.current()
    assert cache.reads == 2  # unchanged: one fingerprint search, no re-read
    store.save(a.model_copy(update={"query": "NIST"}))
    assert [s.query for s in cache.get()] == ["NIST"] and cache.reads == 3
    b = store.add(sub("b", "summit"))
    store.set_paused(a.id, True)
    assert [s.id for s in cache.get()] == [b.id]
    store.delete(b.id)
    subs, index = cache.current()
    assert subs == [] and index.size == 0
