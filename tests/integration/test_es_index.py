"""The real Elasticsearch node: our template, idempotent bulk indexing, and what Kibana would show."""

from __future__ import annotations

from govwatch.es_io import make_client
from govwatch.indexing import bulk_index
from tests.factories import enriched_story


def test_bulk_twice_does_not_double_and_aggregates(initialized) -> None:  # noqa: ANN001
    """Indexing the same stories twice (same _id) keeps the count; a query + terms agg sees template fields."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = [enriched_story(i, text=f"The AI Act enforcement item {i} in Brussels.") for i in range(5)]
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
    assert [b["doc_count"] for b in resp["aggregations"]["per_day"]["buckets"]] == [5]
    index_names = set(es.indices.get_alias(name=alias))
    assert index_names == {f"{settings.index_prefix}-stories-2026.11"}


def test_mapping_is_strict(initialized) -> None:  # noqa: ANN001
    """A document with a field the template does not know is refused (no silent mapping explosion)."""
    settings = initialized
    es = make_client(settings.es_url)
    from elasticsearch import BadRequestError
    import pytest

    with pytest.raises(BadRequestError, match="strict_dynamic_mapping"):
        es.index(index=f"{settings.index_prefix}-stories-2026.11", id="x", document={"surprise": 1})
