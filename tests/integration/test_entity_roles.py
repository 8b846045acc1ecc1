"""Entity roles on the real Elasticsearch node: subjects in the entity fields, cited outlets apart.

A story about Meta that cites TechCrunch (the issue's example) goes through the real indexing path into the
test's private prefix; the organisation aggregations count Meta only, ``source_names`` holds TechCrunch, and
the alert matcher's entity filter follows the subject. A monthly index made under the template before roles
gets the new fields from ``govwatch init`` (bootstrap) and then accepts the new documents.
"""

from __future__ import annotations

from datetime import UTC, datetime

from govwatch.adapters import es_io, story_index
from govwatch.adapters.bootstrap import bootstrap
from govwatch.alerts.matcher import fetch_stories, match_batch
from govwatch.alerts.subscriptions import Filters
from govwatch.models import EnrichedStory, EntityRef, Trace
from govwatch.settings import Settings
from tests.factories import enriched_story, raw_story
from tests.integration._alert_helpers import sub

META = EntityRef(id="Q380", name="Meta Platforms", type="org", qid="Q380", mentions=3)
TECHCRUNCH = EntityRef(id="org.techcrunch", name="TechCrunch", type="org", role="source")
FIRST_SEEN = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _meta_story(n: str = "meta-photos", first_seen: datetime = FIRST_SEEN) -> EnrichedStory:
    raw = raw_story(n, title="Meta asks for camera-roll access", source="Example News", published_at=first_seen,
                    trace=Trace(first_seen_at=first_seen))
    return enriched_story(n, raw=raw, entities=[META, TECHCRUNCH],
                          text="Meta now asks users for access to their camera roll, TechCrunch reported.")


def _terms(es, index: str, field: str) -> dict[str, int]:  # noqa: ANN001
    resp = es.search(index=index, size=0, aggs={"top": {"terms": {"field": field, "size": 10}}})
    return {b["key"]: b["doc_count"] for b in resp["aggregations"]["top"]["buckets"]}


def test_organisation_aggregations_count_the_subject_and_the_source_field_holds_the_outlet(
        initialized: Settings) -> None:
    """Terms on entities.org.name / entity_names.keyword return Meta only; source_names/source_ids hold TechCrunch,
    and entities_detail keeps both with their role."""
    es = es_io.make_client(initialized)
    alias = initialized.index("stories")
    assert story_index.bulk_index(es, initialized.index_prefix, [_meta_story()]) == {}
    assert _terms(es, alias, "entities.org.name") == {"Meta Platforms": 1}
    assert _terms(es, alias, "entity_names.keyword") == {"Meta Platforms": 1}
    assert _terms(es, alias, "entity_ids") == {"Q380": 1}
    assert _terms(es, alias, "source_names") == {"TechCrunch": 1}
    assert _terms(es, alias, "source_ids") == {"org.techcrunch": 1}
    doc = es.search(index=alias, query={"match_all": {}})["hits"]["hits"][0]["_source"]
    assert [(e["name"], e["role"]) for e in doc["entities_detail"]] == [("Meta Platforms", "subject"),
                                                                       ("TechCrunch", "source")]


def test_entity_filters_match_subjects_and_a_query_on_source_ids_matches_the_cited_outlet(
        initialized: Settings) -> None:
    """A subscription filtering on TechCrunch's entity id does not fire for a story that only cites it; one on
    Meta's does; a subscription that asks for cited sources says so in its query (source_ids:...) and fires."""
    es = es_io.make_client(initialized)
    alias = initialized.index("stories")
    story = _meta_story()
    assert story_index.bulk_index(es, initialized.index_prefix, [story]) == {}
    subs = [sub("subject meta", "camera", Filters(entity_ids=["Q380"])),
            sub("subject techcrunch", "camera", Filters(entity_ids=["org.techcrunch"])),
            sub("cites techcrunch", 'source_ids:"org.techcrunch"')]
    docs = fetch_stories(es, alias, [story.story_id])
    for use_prefilter in (True, False):
        fired = {m.subscription_id for m in match_batch(es, alias, subs, docs, use_prefilter=use_prefilter)}
        assert fired == {subs[0].id, subs[2].id}, use_prefilter


def test_init_adds_the_source_fields_to_a_monthly_index_made_before_roles(initialized: Settings) -> None:
    """A monthly index with the pre-roles mapping (strict) refuses a document with source fields; after
    bootstrap (govwatch init) it has them, and the same story indexes into it."""
    es = es_io.make_client(initialized)
    prefix = initialized.index_prefix
    old_month = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
    old_index = es_io.stories_index_for(prefix, old_month)
    template = es_io.load_schema("stories.template.json", prefix)["template"]
    old_properties = {k: v for k, v in template["mappings"]["properties"].items()
                      if k not in ("source_ids", "source_names")}
    # As an older govwatch left it: no template knows the new fields when the month's index is created.
    es.indices.delete_index_template(name=f"{prefix}-stories")
    es.indices.create(index=old_index, settings=template["settings"], aliases=template["aliases"],
                      mappings={**template["mappings"], "properties": old_properties})
    story = _meta_story("meta-september", old_month)
    refused = story_index.bulk_index(es, prefix, [story])
    assert list(refused) == [0] and "strict_dynamic_mapping" in str(refused[0])

    lines = bootstrap(initialized, es)
    assert f"es index {old_index}: exists, added fields source_ids, source_names" in lines
    assert story_index.bulk_index(es, prefix, [story]) == {}
    mapping = es.indices.get_mapping(index=old_index)[old_index]["mappings"]["properties"]
    assert mapping["source_ids"] == {"type": "keyword"}
    assert _terms(es, old_index, "source_names") == {"TechCrunch": 1}

