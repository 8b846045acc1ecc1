"""The event decision (govwatch.enrich.events): deterministic, idempotent, order-tolerant, clusters kept whole."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from govwatch.enrich.events import (
    WINDOW,
    Event,
    Member,
    decide,
    event_document,
    event_from_document,
    similarity,
    terms_of,
)

T0 = datetime(2025, 2, 10, 9, tzinfo=UTC)


def story(sid: str, title: str, lead: str = "", *, hours: float = 0, outlet: str = "a.example",
          cluster: str | None = None, entities: tuple[str, ...] = (), topics: tuple[str, ...] = ()) -> Member:
    return Member.of(story_id=sid, cluster_id=cluster or sid, published=T0 + timedelta(hours=hours), outlet=outlet,
                     title=title, lead=lead, entity_ids=entities, topic_ids=topics)


SUMMIT = [
    story("s1", "Paris AI Action Summit opens with Macron pledging 109 billion euros", hours=0, outlet="lemonde.fr",
          entities=("Q3052772", "event.ai_action_summit")),
    story("s2", "Macron announces 109 billion euros for AI at the Paris summit", hours=3, outlet="bbc.co.uk",
          entities=("Q3052772", "event.ai_action_summit")),
    story("s3", "At the Paris AI Action Summit, US and UK refuse to sign the declaration", hours=30,
          outlet="reuters.com", entities=("event.ai_action_summit", "US", "GB")),
]
OTHER = story("o1", "Italy's privacy watchdog fines OpenAI 15 million euros over ChatGPT", hours=5,
              outlet="ansa.it", entities=("Q21708200", "prod.chatgpt"))


def run(order: list[Member]) -> tuple[dict[str, str], dict[str, Event]]:
    """Online assignment in ``order`` with every event a candidate (what the ES lookup narrows down)."""
    events: dict[str, Event] = {}
    assigned = {}
    for member in order:
        decision = decide(member, list(events.values()))
        events[decision.event.event_id] = decision.event
        assigned[member.story_id] = decision.event.event_id
    return assigned, events


def partition(assigned: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for sid, eid in assigned.items():
        groups.setdefault(eid, set()).add(sid)
    return {frozenset(g) for g in groups.values()}


def test_terms_fold_stem_and_drop_stop_words() -> None:
    """Terms are case/accent-folded, stemmed by truncation, without stop words or the ubiquitous 'AI' words."""
    assert terms_of("The Régulation of Artificial Intelligence", "") == frozenset({"regula"})
    assert "人工" not in terms_of("人工智能安全治理框架", "")
    assert "安全" in terms_of("人工智能安全治理框架", "")


def test_same_event_scores_above_other_event() -> None:
    """Two outlets' stories on one event are more similar than either is to an unrelated story."""
    assert similarity(SUMMIT[0], SUMMIT[1]) > similarity(SUMMIT[0], OTHER)


def test_every_order_gives_the_same_grouping() -> None:
    """All 24 processing orders of four stories give the same events (a small order-independence check)."""
    seen = {frozenset(partition(run(list(order))[0])) for order in itertools.permutations([*SUMMIT, OTHER])}
    assert seen == {frozenset({frozenset({"s1", "s2", "s3"}), frozenset({"o1"})})}


def test_decision_is_deterministic_and_a_replay_lands_in_the_same_event() -> None:
    """Deciding again for a story already in an event returns that event unchanged (counts do not double)."""
    assigned, events = run(list(SUMMIT))
    event = events[assigned["s2"]]
    again = decide(SUMMIT[1], list(events.values()))
    assert again.reason == "replay"
    assert again.event == event
    assert event_document(again.event)["story_count"] == 3
    assert decide(SUMMIT[1], list(events.values())) == again


def test_earlier_story_arriving_late_joins_and_keeps_the_id() -> None:
    """A story published before the event's founder joins it; the id stays the founder's, first_seen moves back."""
    _, events = run([SUMMIT[1], SUMMIT[2]])
    (event,) = events.values()
    assert event.event_id == "s2"
    decision = decide(SUMMIT[0], [event])
    assert decision.reason == "similar"
    assert decision.event.event_id == "s2"
    assert decision.event.first_seen == SUMMIT[0].published
    doc = event_document(decision.event)
    assert doc["event_id"] == "s2"
    assert doc["first_seen"] == SUMMIT[0].published.isoformat()
    assert doc["story_count"] == 3 and doc["outlet_count"] == 3


def test_a_wire_copy_cluster_is_never_split() -> None:
    """A story of a cluster joins its cluster's event even when its own words match another event better."""
    _, events = run([SUMMIT[0], OTHER])
    # A wire copy (same cluster as o1) whose headline was rewritten to read like the summit story.
    copy = story("c1", SUMMIT[1].title, hours=6, cluster="o1", outlet="wire.example")
    decision = decide(copy, list(events.values()))
    assert decision.reason == "cluster"
    assert decision.event.event_id == "o1"


def test_stories_outside_the_window_do_not_join() -> None:
    """The same words a week apart are a new event: members are compared only within WINDOW."""
    _, events = run([SUMMIT[0]])
    later = story("w1", SUMMIT[1].title, hours=WINDOW.total_seconds() / 3600 + 1,
                  entities=("Q3052772", "event.ai_action_summit"))
    assert decide(later, list(events.values())).reason == "new"


def test_ties_go_to_the_earliest_event_then_the_smallest_id() -> None:
    """Two equally similar events: the one first seen earlier wins, whatever order candidates come in."""
    a = Event("b-event", (story("b-event", "Senate passes AI bill", hours=1),))
    b = Event("a-event", (story("a-event", "Senate passes AI bill", hours=2),))
    new = story("n1", "Senate passes AI bill", hours=3)
    assert decide(new, [a, b]).event.event_id == "b-event"
    assert decide(new, [b, a]).event.event_id == "b-event"
    c = Event("a-event", (story("a-event", "Senate passes AI bill", hours=1),))
    assert decide(new, [a, c]).event.event_id == "a-event"


def test_event_document_round_trips() -> None:
    """The stored document gives back the same event; counts, outlets and main entities come from the members."""
    _, events = run(list(SUMMIT))
    (event,) = events.values()
    doc = event_document(event)
    assert event_from_document(doc) == event
    assert doc["story_count"] == 3 and doc["outlet_count"] == 3
    assert doc["main_entities"][0] == "event.ai_action_summit"
    assert doc["first_seen"] == T0.isoformat() and doc["last_seen"] == (T0 + timedelta(hours=30)).isoformat()
    assert doc["title"] in {m.title for m in SUMMIT}


def test_shared_entities_alone_do_not_make_one_event() -> None:
    """Same entities and topic but no word in common scores 0 (without the text gate it would be 0.4, a join)."""
    launch = story("l1", "OpenAI launches a cheaper reasoning model for developers",
                   "It costs less and is available from today.", hours=0,
                   entities=("Q21708200", "prod.chatgpt"), topics=("industry_self_governance",))
    fine = story("f1", "Garante sanziona la società per il trattamento illecito",
                 "Quindici milioni di euro di multa dopo l'istruttoria.", hours=20,
                 entities=("Q21708200", "prod.chatgpt"), topics=("industry_self_governance",))
    assert launch.terms.isdisjoint(fine.terms)
    assert similarity(launch, fine) == 0.0
    assert decide(fine, [Event("l1", (launch,))]).reason == "new"
