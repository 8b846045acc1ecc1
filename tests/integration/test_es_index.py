"""The real Elasticsearch node: our template, idempotent bulk indexing, and what Kibana would show.

Month boundaries are in the data on purpose (stories first seen on both sides of midnight, 30 November to
1 December), so the monthly-index rules are exercised on every run, whatever today's date is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import BadRequestError

from govwatch.adapters.es_io import make_client
from govwatch.adapters.story_index import bulk_index
from govwatch.models import Trace
from tests.factories import enriched_story, raw_story

BEFORE = datetime(2026, 11, 30, 23, 58, tzinfo=UTC)  # first seen in November ...
AFTER = datetime(2026, 12, 1, 0, 2, tzinfo=UTC)  # ... and in December


def _story(n: int, first_seen: datetime, published: datetime | None, **over: object):  # noqa: ANN202
    raw = raw_story(n, published_at=published, trace=Trace(first_seen_at=first_seen))
    return enriched_story(n, raw=raw, text=f"The AI Act enforcement item {n} in Brussels.", **over)


def _docs_per_id(es, prefix: str) -> dict[str, list[str]]:  # noqa: ANN001
    es.indices.refresh(index=f"{prefix}-stories-*")
    hits = es.search(index=f"{prefix}-stories-*", size=100, source=False)["hits"]["hits"]
    out: dict[str, list[str]] = {}
    for hit in hits:
        out.setdefault(hit["_id"], []).append(hit["_index"])
    return out


def test_bulk_twice_does_not_double_and_aggregates(initialized) -> None:  # noqa: ANN001
    """Indexing the same stories twice keeps one document each, in the month of first sight; aggregations see them."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = [_story(i, BEFORE if i < 3 else AFTER, BEFORE - timedelta(hours=i)) for i in range(5)]
    assert bulk_index(es, settings.index_prefix, stories) == {}
    assert bulk_index(es, settings.index_prefix, stories) == {}
    alias = f"{settings.index_prefix}-stories"
    assert es.count(index=alias)["count"] == 5

    resp = es.search(index=alias, query={"query_string": {"query": '"AI Act" AND enforcement'}},
                     aggs={"by_country": {"terms": {"field": "countries"}},
                           "by_topic": {"terms": {"field": "topics"}},
                           "per_day": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day"}}},
                     size=10)
    assert resp["hits"]["total"]["value"] == 5
    assert {b["key"]: b["doc_count"] for b in resp["aggregations"]["by_country"]["buckets"]} == {"FR": 5}
    assert resp["aggregations"]["by_topic"]["buckets"][0] == {"key": "legislation_rulemaking", "doc_count": 5}
    # @timestamp is the publication date (all on 30 November, hours apart), not the index month.
    assert [b["doc_count"] for b in resp["aggregations"]["per_day"]["buckets"]] == [5]
    by_index = {i: sorted(ix) for i, ix in _docs_per_id(es, settings.index_prefix).items()}
    p = settings.index_prefix
    assert by_index == {s.story_id: [f"{p}-stories-2026.11" if n < 3 else f"{p}-stories-2026.12"]
                        for n, s in enumerate(stories)}


def test_replay_with_another_date_stays_in_one_index(initialized) -> None:  # noqa: ANN001
    """A replay that decides another publication date, or a story re-published with a later first-seen time in
    the next month, overwrites the one stored document instead of adding a copy in a second monthly index."""
    settings = initialized
    es = make_client(settings.es_url)
    first = _story(1, BEFORE, BEFORE - timedelta(minutes=5))
    # The same raw message replayed: this time the page fetch failed and the date came out otherwise.
    replay = first.model_copy(update={"published_at": AFTER + timedelta(hours=3), "extraction_status": "feed_summary"})
    # The poller re-published it (crash between the Kafka ack and its once-only record): first seen again in December.
    republished = _story(1, AFTER + timedelta(minutes=30), AFTER + timedelta(hours=3))
    for version in (first, replay, republished):
        assert bulk_index(es, settings.index_prefix, [version]) == {}
    docs = _docs_per_id(es, settings.index_prefix)
    assert docs == {first.story_id: [f"{settings.index_prefix}-stories-2026.11"]}
    assert es.count(index=f"{settings.index_prefix}-stories")["count"] == 1


def test_mapping_is_strict(initialized) -> None:  # noqa: ANN001
    """A document with a field the template does not know is refused (no silent mapping explosion)."""
    settings = initialized
    es = make_client(settings.es_url)
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping"):
        es.index(index=f"{settings.index_prefix}-stories-{AFTER:%Y.%m}", id="x", document={"surprise": 1})
