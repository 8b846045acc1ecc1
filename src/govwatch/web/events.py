"""What the events pages, the events API and the CLI show: the event list and one event with all its coverage.

Everything is read, nothing written: event summaries from ``{prefix}-events``, and the display fields of the
member stories from the stories alias (language, link, entity names, topic labels; a member not yet searchable
is shown from the event's own member record, without a link). The *first report* is the earliest published
member (ties: the founding story, whose id is the event id).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import event_index
from govwatch.adapters.story_index import entities_with_roles

MAX_MEMBER_LOOKUPS = 2000  # member ids read back per list page (languages): bounds one page's stories query


@dataclass(frozen=True)
class Coverage:
    """One story of an event as a person reads it."""

    story_id: str
    title: str
    outlet: str
    language: str
    published: str
    url: str
    first_report: bool
    indexed: bool


@dataclass(frozen=True)
class EventView:
    """One event: its summary, its coverage (first report first) and its main entities and topics, named."""

    event_id: str
    title: str
    first_seen: str
    last_seen: str
    story_count: int
    outlet_count: int
    outlets: list[str]
    languages: list[str]
    entities: list[dict[str, str]] = field(default_factory=list)
    topics: list[dict[str, str]] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "coverage"},
                "coverage": [c.__dict__ for c in self.coverage]}


def _languages(stories: list[dict[str, Any]]) -> list[str]:
    counts = Counter(s.get("language") or "" for s in stories)
    return [lang for lang, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if lang]


def _summary(doc: dict[str, Any], stories: list[dict[str, Any]]) -> EventView:
    return EventView(event_id=doc["event_id"], title=doc.get("title") or "", first_seen=doc.get("first_seen", ""),
                     last_seen=doc.get("last_seen", ""), story_count=int(doc.get("story_count") or 0),
                     outlet_count=int(doc.get("outlet_count") or 0), outlets=list(doc.get("outlets") or []),
                     languages=_languages(stories))


def list_events(es: Elasticsearch, prefix: str, stories_alias: str, *, since: datetime | None, limit: int,
                order: str) -> list[EventView]:
    """Recent events with their languages (one events search and one stories search)."""
    docs = event_index.list_events(es, prefix, since=since, limit=limit, order=order)
    ids = [i for d in docs for i in d.get("member_ids", [])][:MAX_MEMBER_LOOKUPS]
    stories = event_index.stories_of(es, stories_alias, ids)
    return [_summary(d, [stories[i] for i in d.get("member_ids", []) if i in stories]) for d in docs]


def _names(stories: list[dict[str, Any]]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Entity id -> {name, type} and topic id -> label, as the member stories carry them."""
    entities: dict[str, dict[str, str]] = {}
    topics: dict[str, str] = {}
    for story in stories:
        for e in entities_with_roles(story):
            if e.get("id"):
                entities.setdefault(str(e["id"]), {"name": str(e.get("name") or e["id"]),
                                                   "type": str(e.get("type") or "")})
        for tid, label in zip(story.get("topics") or [], story.get("topic_labels") or [], strict=False):
            topics.setdefault(str(tid), str(label))
    return entities, topics


def event_view(es: Elasticsearch, prefix: str, stories_alias: str, event_id: str) -> EventView | None:
    """One event with all its coverage, or None when there is no such event."""
    doc = event_index.read_event(es, prefix, event_id)
    if doc is None:
        return None
    members = list(doc.get("members") or [])
    stories = event_index.stories_of(es, stories_alias, [m["id"] for m in members][:event_index.MAX_COVERAGE])
    first = min(members, key=lambda m: (m["published"], m["id"] != event_id), default=None)
    coverage = []
    for m in sorted(members, key=lambda m: (m["published"], m["id"]))[:event_index.MAX_COVERAGE]:
        story = stories.get(m["id"], {})
        coverage.append(Coverage(
            story_id=m["id"], title=story.get("title") or m.get("title") or "", outlet=m.get("outlet", ""),
            language=story.get("language") or "", published=story.get("published_at") or m["published"],
            url=story.get("url") or "", first_report=first is not None and m["id"] == first["id"],
            indexed=bool(story)))
    coverage.sort(key=lambda c: not c.first_report)  # the first report leads; the rest stay in time order
    entity_names, topic_labels = _names(list(stories.values()))
    view = _summary(doc, list(stories.values()))
    return EventView(**{**view.__dict__, "coverage": coverage,
                        "entities": [{"id": e, **entity_names.get(e, {"name": e, "type": ""})}
                                     for e in doc.get("main_entities") or []],
                        "topics": [{"id": t, "label": topic_labels.get(t, t)} for t in doc.get("main_topics") or []]})
