"""Event assignment against the real Elasticsearch node: order, replays, counts and concurrent writers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from govwatch.adapters import event_index
from govwatch.adapters.es_io import make_client
from govwatch.adapters.event_index import EventConflict
from govwatch.enrich.event_assign import EventAssigner, member_of
from govwatch.enrich.events import Member
from govwatch.models import EntityRef, TopicRef
from tests.factories import enriched_story, raw_story

T0 = datetime(2025, 2, 10, 9, tzinfo=UTC)
# (n, outlet, hours after T0, title, lead, entity ids, cluster of story n)
STORIES = [
    (1, "lemonde.fr", 0, "Paris AI Action Summit opens with Macron pledging 109 billion euros",
     "Emmanuel Macron opened the summit in Paris.", ("Q3052772", "event.ai_action_summit"), None),
    (2, "bbc.co.uk", 3, "Macron announces 109 billion euros for AI at the Paris summit",
     "The French president spoke at the Grand Palais.", ("Q3052772", "event.ai_action_summit"), None),
    (3, "reuters.com", 30, "At the Paris AI Action Summit, US and UK refuse to sign the declaration",
     "Washington and London stayed away from the final text.", ("event.ai_action_summit",), None),
    (4, "apnews.com", 31, "US and UK refuse to sign Paris AI summit declaration",
     "Washington and London stayed away from the final text.", ("event.ai_action_summit",), 3),
    (5, "ansa.it", 5, "Italy's privacy watchdog fines OpenAI 15 million euros over ChatGPT",
     "The Garante said OpenAI processed personal data without a legal basis.", ("Q21708200", "prod.chatgpt"), None),
    (6, "politico.eu", 7, "Garante fines OpenAI 15 million euros for ChatGPT data processing",
     "Italy's data protection authority ordered a six-month information campaign.", ("Q21708200", "prod.chatgpt"),
     None),
]


def _members() -> list[Member]:
    out = []
    for n, outlet, hours, title, lead, entities, cluster in STORIES:
        raw = raw_story(n, source=outlet, title=title, summary=lead, published_at=T0 + timedelta(hours=hours))
        story = enriched_story(n, raw=raw, title=title, published_at=raw.published_at,
                               entities=[EntityRef(id=e, name=e, type="org") for e in entities],
                               topics=[TopicRef(id="legislation_rulemaking", label="x", score=0.5)])
        if cluster is not None:
            story = story.model_copy(update={"cluster_id": raw_story(cluster).story_id})
        out.append(member_of(story))
    return out


@pytest.fixture
def es_prefix(settings) -> Iterator[tuple[Elasticsearch, str]]:  # noqa: ANN001
    """The real node with this test's events template; index and template removed after."""
    es = make_client(settings.es_url)
    prefix = settings.index_prefix
    event_index.ensure_template(es, prefix)
    yield es, prefix
    es.options(ignore_status=404).indices.delete(index=event_index.index_name(prefix))
    es.options(ignore_status=404).indices.delete_index_template(name=event_index.index_name(prefix))


def _stored(es: Elasticsearch, prefix: str) -> dict[str, dict]:
    index = event_index.index_name(prefix)
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=100, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def _groups(docs: dict[str, dict]) -> set[frozenset[str]]:
    return {frozenset(doc["member_ids"]) for doc in docs.values()}


def _assign_cold(es: Elasticsearch, prefix: str, order: list[Member], batch: int) -> None:
    """A new assigner per batch, after a refresh: every candidate comes from Elasticsearch itself."""
    for start in range(0, len(order), batch):
        es.indices.refresh(index=event_index.index_name(prefix), ignore_unavailable=True)
        EventAssigner(es, prefix).assign(order[start:start + batch])


def test_two_orders_give_the_same_events_with_right_counts(es_prefix) -> None:  # noqa: ANN001
    """Published order in one batch and reversed order through ES alone give the same events and counts."""
    es, prefix = es_prefix
    members = _members()
    EventAssigner(es, prefix).assign(members)
    first = _stored(es, prefix)
    ids = {m.story_id: n for m, (n, *_) in zip(members, STORIES, strict=True)}
    assert {frozenset(ids[s] for s in g) for g in _groups(first)} == {frozenset({1, 2, 3, 4}), frozenset({5, 6})}
    summit = next(doc for doc in first.values() if len(doc["member_ids"]) == 4)
    assert summit["event_id"] == members[0].story_id
    assert summit["story_count"] == 4 and summit["outlet_count"] == 4
    assert summit["first_seen"] == T0.isoformat()
    assert summit["last_seen"] == (T0 + timedelta(hours=31)).isoformat()
    assert "event.ai_action_summit" in summit["main_entities"]

    es.indices.delete(index=event_index.index_name(prefix))
    _assign_cold(es, prefix, list(reversed(members)), batch=1)
    second = _stored(es, prefix)
    assert _groups(second) == _groups(first)
    # Founded by the story processed first (story 6, then story 4): ids are given once and kept.
    assert {doc["event_id"] for doc in second.values()} == {members[5].story_id, members[3].story_id}
    assert sorted(doc["story_count"] for doc in second.values()) == [2, 4]


def test_a_replay_lands_in_the_same_event_and_does_not_double_counts(es_prefix) -> None:  # noqa: ANN001
    """Re-processing every story (new process, from ES) decides 'replay' each time and writes nothing."""
    es, prefix = es_prefix
    members = _members()
    _assign_cold(es, prefix, members, batch=2)
    before = _stored(es, prefix)
    assigner = EventAssigner(es, prefix)  # its first lookup refreshes the index: it sees what was written
    decisions = assigner.assign(members)
    assert [d.reason for d in decisions] == ["replay"] * len(members)
    assert assigner.requests == 2  # the refresh and the lookup; nothing changed, so no write
    after = _stored(es, prefix)
    assert after == before
    assert sum(doc["story_count"] for doc in after.values()) == len(members)


def test_a_concurrent_change_is_a_conflict_not_a_lost_update(es_prefix) -> None:  # noqa: ANN001
    """A writer holding an old version gets EventConflict; its retry keeps both writers' members."""
    es, prefix = es_prefix
    m = _members()
    one, two = EventAssigner(es, prefix), EventAssigner(es, prefix)
    one.assign([m[0]])
    # No scheduled refresh: what a search sees changes only at the explicit refreshes below (no timing luck).
    es.indices.put_settings(index=event_index.index_name(prefix), settings={"refresh_interval": "-1"})
    es.indices.refresh(index=event_index.index_name(prefix))
    two.assign([m[1]])  # reads the event as one wrote it, adds story 2
    with pytest.raises(EventConflict):
        one.assign([m[2]])  # one's remembered version is stale now
    es.indices.refresh(index=event_index.index_name(prefix))
    one.assign([m[2]])  # the loop's retry, after the other write became searchable
    (doc,) = _stored(es, prefix).values()
    assert set(doc["member_ids"]) == {m[0].story_id, m[1].story_id, m[2].story_id}
    assert doc["story_count"] == 3
