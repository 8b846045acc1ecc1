"""Events in the running index stage (real Kafka, real Elasticsearch): event ids in the story documents and the
"indexed" message, counts per event, replays that change nothing, and a crash between the events write and the
stories bulk."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import event_index
from govwatch.adapters.bootstrap import bootstrap, teardown
from govwatch.adapters.es_io import load_schema, make_client
from govwatch.adapters.event_index import EventConflict
from govwatch.adapters.kafka_io import make_consumer, make_producer
from govwatch.adapters.kafka_topics import ENRICHED, INDEXED, dlq
from govwatch.enrich.event_assign import EventAssigner, member_of
from govwatch.loop.batch import LoopStats
from govwatch.loop.batch_loop import run_loop
from govwatch.loop.policy import MAX_BATCH_ATTEMPTS
from govwatch.loop.stop import StopFlag
from govwatch.models import EnrichedStory, EntityRef, IndexedBatch, TopicRef
from govwatch.settings import Settings
from govwatch.stages.contract import Rejections
from tests.factories import enriched_story, raw_story
from tests.support.kafka_util import produce, read_all
from tests.support.stages import index_handler, run_stage_until

T0 = datetime(2025, 2, 10, 9, tzinfo=UTC)
# (n, outlet, hours after T0, title, lead, subject entity ids): two events, each covered by two outlets.
STORIES = [
    (1, "lemonde.fr", 0, "Paris AI Action Summit opens with Macron pledging 109 billion euros",
     "Emmanuel Macron opened the summit in Paris.", ("Q3052772", "event.ai_action_summit")),
    (2, "bbc.co.uk", 3, "Macron announces 109 billion euros for AI at the Paris summit",
     "The French president spoke at the Grand Palais.", ("Q3052772", "event.ai_action_summit")),
    (5, "ansa.it", 5, "Italy's privacy watchdog fines OpenAI 15 million euros over ChatGPT",
     "The Garante said OpenAI processed personal data without a legal basis.", ("Q21708200", "prod.chatgpt")),
    (6, "politico.eu", 7, "Garante fines OpenAI 15 million euros for ChatGPT data processing",
     "Italy's data protection authority ordered a six-month information campaign.", ("Q21708200", "prod.chatgpt")),
]


def _stories() -> list[EnrichedStory]:
    out = []
    for n, outlet, hours, title, lead, entities in STORIES:
        raw = raw_story(f"ev{n}", source=outlet, title=title, summary=lead, published_at=T0 + timedelta(hours=hours))
        out.append(enriched_story(f"ev{n}", raw=raw, title=title, text=f"{lead} {title}.",
                                  entities=[EntityRef(id=e, name=e, type="org") for e in entities],
                                  topics=[TopicRef(id="legislation_rulemaking", label="x", score=0.5)]))
    return out


def _publish(settings: Settings, stories: list[EnrichedStory]) -> None:
    produce(settings.kafka_bootstrap, settings.topic(ENRICHED), [(s.story_id.encode(), s.to_bytes()) for s in stories])


def _index_until_indexed(settings: Settings, expect: int) -> list[IndexedBatch]:
    """Run the real index stage (loop + handler) until ``expect`` story entries are in the indexed topic."""
    def indexed() -> list[IndexedBatch]:
        records = read_all(settings.kafka_bootstrap, settings.topic(INDEXED), settle_s=0.2, timeout_s=2)
        return [IndexedBatch.from_bytes(r.value) for r in records]

    run_stage_until(settings, "index", lambda: sum(len(b.stories) for b in indexed()) >= expect)
    return indexed()


def _story_docs(es: Elasticsearch, settings: Settings) -> dict[str, dict]:
    alias = f"{settings.index_prefix}-stories"
    es.indices.refresh(index=alias)
    return {h["_id"]: h["_source"] for h in es.search(index=alias, size=100)["hits"]["hits"]}


def _events(es: Elasticsearch, settings: Settings) -> dict[str, tuple[dict, int]]:
    """Event id -> (document, _seq_no): an unchanged _seq_no means the event was not written again."""
    index = event_index.index_name(settings.index_prefix)
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=100, seq_no_primary_term=True)["hits"]["hits"]
    return {h["_id"]: (h["_source"], h["_seq_no"]) for h in hits}


def _assert_two_events_of_two_outlets(stories: list[EnrichedStory], docs: dict[str, dict],
                                      events: dict[str, tuple[dict, int]]) -> None:
    ids = [docs[s.story_id]["event_id"] for s in stories]
    assert ids[0] == ids[1] != ids[2] == ids[3]
    # An event's id is its founding story's: whichever of the two the stage met first (partitions interleave).
    assert ids[0] in {stories[0].story_id, stories[1].story_id} and ids[2] in {stories[2].story_id,
                                                                                stories[3].story_id}
    assert set(events) == {ids[0], ids[2]}
    for event_id, (doc, _) in events.items():
        assert doc["story_count"] == 2 and doc["outlet_count"] == 2, (event_id, doc["outlets"])
        assert set(doc["member_ids"]) == {s.story_id for s in stories if docs[s.story_id]["event_id"] == event_id}


def test_indexed_stories_carry_their_event_and_a_replay_changes_nothing(initialized) -> None:  # noqa: ANN001
    """Through the index stage, every story document and its entry in stories.indexed get the event id; two
    outlets' stories of one event share it and the event counts 2 stories from 2 outlets; the same enriched
    messages again (a replay, read by a new stage process) leave every event untouched."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = _stories()
    _publish(settings, stories)
    batches = _index_until_indexed(settings, len(stories))
    docs, events = _story_docs(es, settings), _events(es, settings)
    _assert_two_events_of_two_outlets(stories, docs, events)
    in_message = {entry.story_id: entry.event_id for batch in batches for entry in batch.stories}
    assert in_message == {s.story_id: docs[s.story_id]["event_id"] for s in stories}
    mapping = es.indices.get_mapping(index=f"{settings.index_prefix}-stories")
    assert all(m["mappings"]["properties"]["event_id"] == {"type": "keyword"} for m in mapping.values())

    _publish(settings, stories)
    replayed = _index_until_indexed(settings, 2 * len(stories))
    assert _events(es, settings) == events  # same documents, same _seq_no: nothing was written
    # The stories are indexed again in place (same _id, a new trace.indexed_at), with the same event ids.
    assert {k: v["event_id"] for k, v in _story_docs(es, settings).items()} == {
        k: v["event_id"] for k, v in docs.items()}
    assert {e.story_id: e.event_id for b in replayed for e in b.stories} == in_message
    assert read_all(settings.kafka_bootstrap, settings.topic(dlq(ENRICHED)), settle_s=0.5, timeout_s=2) == []


def test_a_crash_after_the_events_write_replays_into_the_same_events(initialized) -> None:  # noqa: ANN001
    """A process that wrote a batch's events and died before the stories bulk (so before its commit): the next
    process reads the same enriched messages, finds each story in the event it joined ('replay'), indexes the
    stories with those ids, and no event is written again."""
    settings = initialized
    es = make_client(settings.es_url)
    stories = _stories()
    _publish(settings, stories)
    # The crashed process's part of the batch: the events write, the first step of IndexStage; then it died.
    crashed = EventAssigner(es, settings.index_prefix).assign([member_of(s) for s in stories])
    decided = {s.story_id: d.event.event_id for s, d in zip(stories, crashed, strict=True)}
    events = _events(es, settings)
    assert _story_docs(es, settings) == {}  # no story indexed yet
    assert sum(doc["story_count"] for doc, _ in events.values()) == len(stories)

    batches = _index_until_indexed(settings, len(stories))  # a new process: a fresh assigner, memory empty
    docs = _story_docs(es, settings)
    assert {s.story_id: docs[s.story_id]["event_id"] for s in stories} == decided
    assert {e.story_id: e.event_id for b in batches for e in b.stories} == decided
    assert _events(es, settings) == events
    _assert_two_events_of_two_outlets(stories, docs, events)


def test_event_conflicts_are_retried_past_the_dead_letter_bound(initialized) -> None:  # noqa: ANN001
    """A batch whose event write conflicts MAX_BATCH_ATTEMPTS times in a row (other index processes kept changing
    its events) is retried until it goes through: conflicts are not counted, so nothing is dead-lettered."""
    settings = initialized
    es = make_client(settings.es_url)
    story = _stories()[0]
    _publish(settings, [story])
    stage = index_handler(settings, make_producer(settings.kafka_bootstrap))
    calls: list[int] = []

    def contended(records: Sequence[Any]) -> Rejections:
        calls.append(len(records))
        if len(calls) <= MAX_BATCH_ATTEMPTS:  # one record alone is dead-lettered after this many counted failures
            raise EventConflict("event changed by another writer meanwhile", {}, [story.story_id])
        return stage(records)

    consumer = make_consumer(settings.kafka_bootstrap, f"{settings.topic_prefix}.index",
                             [settings.topic(ENRICHED)])
    stop, stats = StopFlag(), LoopStats()
    thread = threading.Thread(target=run_loop, args=(consumer, contended, stage.producer, "index", stop, stats))
    thread.start()
    try:
        deadline = time.monotonic() + 90
        while story.story_id not in _story_docs(es, settings):
            assert time.monotonic() < deadline and thread.is_alive(), f"not indexed: {stats}"
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
        consumer.close(autocommit=False)
        stage.producer.close()
    assert calls == [1] * (MAX_BATCH_ATTEMPTS + 1)
    assert _story_docs(es, settings)[story.story_id]["event_id"] == story.story_id
    assert read_all(settings.kafka_bootstrap, settings.topic(dlq(ENRICHED)), settle_s=0.5, timeout_s=2) == []


def test_init_makes_the_events_index_and_gives_older_monthly_indices_event_id(initialized) -> None:  # noqa: ANN001
    """`govwatch init` puts the events template and creates the index; a monthly stories index made before events
    (strict mapping without event_id) gains the field, and teardown removes the events index and template."""
    settings = initialized
    es = make_client(settings.es_url)
    prefix, events = settings.index_prefix, event_index.index_name(settings.index_prefix)
    assert es.indices.exists(index=events) and es.indices.exists_index_template(name=events)
    old_index = f"{prefix}-stories-2025.01"
    template = load_schema("stories.template.json", prefix)["template"]
    old_properties = {k: v for k, v in template["mappings"]["properties"].items() if k != "event_id"}
    es.indices.delete_index_template(name=f"{prefix}-stories")  # as an older govwatch left it
    es.indices.create(index=old_index, settings=template["settings"], aliases=template["aliases"],
                      mappings={**template["mappings"], "properties": old_properties})

    lines = bootstrap(settings, es)
    assert f"es index {old_index}: exists, added fields event_id" in lines
    assert f"es index {events}: exists" in lines
    assert es.indices.get_mapping(index=old_index)[old_index]["mappings"]["properties"]["event_id"] == {
        "type": "keyword"}
    teardown(settings, es)
    assert not es.indices.exists(index=events) and not es.indices.exists_index_template(name=events)
