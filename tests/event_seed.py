"""Six stories forming three events, written through the real paths: the event assignment (EventAssigner) into
``{prefix}-events`` and the stories bulk (with each story's event id) into the stories index.

Used by the events API, CLI, Kibana-panel and browser tests. The events the assignment must find:

* the Paris AI Action Summit: Reuters and a Wire Daily copy (one near-duplicate cluster), then Le Monde (French)
  joining by its words, entities and topic: 3 stories, 3 outlets, first report Reuters 08:00;
* the EU AI Act obligations: Le Monde (French) and Der Standard (German): 2 stories, 2 outlets;
* US chip export controls: The Verge alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch

from govwatch.adapters import event_index, story_index
from govwatch.enrich.event_assign import EventAssigner, member_of
from govwatch.models import EnrichedStory, EntityRef, TopicRef, Trace
from tests.factories import enriched_story, raw_story, sid

BASE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SUMMIT = EntityRef(id="event.paris_ai_action_summit", name="AI Action Summit", type="event")
MACRON = EntityRef(id="Q3052772", name="Emmanuel Macron", type="person", qid="Q3052772")
EU = EntityRef(id="Q458", name="European Union", type="org", qid="Q458")
AI_ACT = EntityRef(id="Q109290883", name="AI Act", type="law", qid="Q109290883")
NVIDIA = EntityRef(id="Q182477", name="Nvidia", type="org", qid="Q182477")
SUMMITS = TopicRef(id="summits_events", label="Summits and events", score=0.9)
LAW = TopicRef(id="legislation_rulemaking", label="AI legislation and rule-making", score=0.8)
CHIPS = TopicRef(id="compute_export_controls", label="Compute and export controls", score=0.8)

# key, hours after BASE, outlet, language, title, lead, entities, topic, cluster key
SPECS = [
    ("summit-reuters", 0, "Reuters", "en", "Paris AI Action Summit opens as leaders debate global AI rules",
     "Heads of government gathered in Paris for the AI Action Summit to debate shared rules for AI.",
     [SUMMIT, MACRON], SUMMITS, "summit"),
    ("summit-wire", 1, "Wire Daily", "en", "Paris AI Action Summit opens as leaders debate global AI rules",
     "Heads of government gathered in Paris for the AI Action Summit to debate shared rules for AI.",
     [SUMMIT, MACRON], SUMMITS, "summit"),
    ("summit-lemonde", 3, "Le Monde", "fr", "Paris AI Action Summit: Macron urges leaders to agree global AI rules",
     "At the AI Action Summit in Paris, Emmanuel Macron urged heads of government to agree shared AI rules.",
     [SUMMIT, MACRON], SUMMITS, "summit-lemonde"),
    ("act-lemonde", 23, "Le Monde", "fr", "EU AI Act obligations for general-purpose models take effect",
     "Providers of general-purpose models must now publish training summaries under the EU AI Act.",
     [EU, AI_ACT], LAW, "act-lemonde"),
    ("act-standard", 25, "Der Standard", "de", "General-purpose model obligations of the EU AI Act take effect",
     "Under the EU AI Act, providers of general-purpose models now publish summaries of their training data.",
     [EU, AI_ACT], LAW, "act-standard"),
    ("chips-verge", 28, "The Verge", "en", "US tightens export controls on advanced chips to China",
     "The Commerce Department widened restrictions on shipments of accelerators such as Nvidia's to China.",
     [NVIDIA], CHIPS, "chips-verge"),
]
EVENT_OF = {"summit-reuters": "summit", "summit-wire": "summit", "summit-lemonde": "summit",
            "act-lemonde": "act", "act-standard": "act", "chips-verge": "chips"}


@dataclass(frozen=True)
class Seeded:
    """What was written: the stories by key and the event id of each of the three events."""

    stories: dict[str, EnrichedStory]
    events: dict[str, str]  # "summit" | "act" | "chips" -> event id


def stories() -> list[EnrichedStory]:
    out = []
    for key, hours, outlet, language, title, lead, entities, topic, cluster in SPECS:
        when = BASE + timedelta(hours=hours)
        raw = raw_story(key, source=outlet, language=language, title=title, summary=lead, published_at=when,
                        url=f"https://news.example.org/{key}", trace=Trace(first_seen_at=when))
        out.append(enriched_story(key, raw=raw, text=lead, entities=entities, topics=[topic], language=language,
                                  cluster_id=sid(cluster), is_cluster_representative=sid(cluster) == raw.story_id))
    return out


def seed(es: Elasticsearch, prefix: str) -> Seeded:
    """Assign the events (real decision, real events index), then index the stories with their event ids."""
    batch = stories()
    decisions = EventAssigner(es, prefix).assign([member_of(s) for s in batch])
    event_ids = {s.story_id: d.event.event_id for s, d in zip(batch, decisions, strict=True)}
    assert story_index.bulk_index(es, prefix, batch, event_ids=event_ids) == {}
    es.indices.refresh(index=event_index.index_name(prefix))
    keyed = {spec[0]: s for spec, s in zip(SPECS, batch, strict=True)}
    events: dict[str, str] = {}
    for key, story in keyed.items():
        events.setdefault(EVENT_OF[key], event_ids[story.story_id])
        assert event_ids[story.story_id] == events[EVENT_OF[key]], f"{key} did not join its event"
    assert len(set(events.values())) == 3, "the three events were merged"
    return Seeded(keyed, events)
