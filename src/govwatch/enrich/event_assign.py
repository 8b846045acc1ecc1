"""Event assignment against Elasticsearch (read and written through govwatch.adapters.event_index).

Per batch: one ``_msearch`` finds each story's candidate events, the pure decision (govwatch.enrich.events)
runs story by story, and one bulk writes every event the batch changed, whole. That is two requests per
batch, a fraction of one per story.

Events this process wrote are remembered (a bounded in-memory window, like the near-duplicate clusters) until
surely searchable, so a story of the next batch finds an event founded a moment ago although writes do not
force a refresh. A new process refreshes the events index once before its first lookup, so it sees everything a
predecessor wrote (one that crashed after writing a batch's events, before its stories: the replayed stories
then find their events). The remembered copy and the stored one are told apart by their sequence numbers: the newer
wins, so another process's change is never overwritten blindly (its write would fail with a conflict and the
batch be retried; see govwatch.adapters.event_index).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Sequence
from datetime import timedelta

from elasticsearch import Elasticsearch

from govwatch.adapters import event_index
from govwatch.adapters.event_index import EventConflict, Probe, Version
from govwatch.adapters.story_index import timestamp_of
from govwatch.enrich.events import (
    JOIN_THRESHOLD,
    LEAD_CHARS,
    MAX_COMPARED,
    WINDOW,
    Decision,
    Event,
    Member,
    decide,
    event_document,
    event_from_document,
    signal_entities,
)
from govwatch.models import EnrichedStory

UNTITLED_CHARS = 120
RECENT_EVENTS = 5_000  # events remembered in-process: far more than one refresh interval can produce


def member_of(story: EnrichedStory) -> Member:
    """An enriched story's member record: title, lead (the feed summary, else the text's start), subjects, topics."""
    lead = story.raw.summary.strip() or story.text[:LEAD_CHARS]
    # A story without a title (some feeds give none) is shown by the start of its lead.
    title = story.title.strip() or lead[:UNTITLED_CHARS].rsplit(" ", 1)[0]
    return Member.of(story_id=story.story_id, cluster_id=story.cluster_id, published=timestamp_of(story),
                     outlet=story.raw.source, title=title, lead=lead,
                     entity_ids=[e.id for e in story.entities if e.role == "subject"],
                     topic_ids=[t.id for t in story.topics])


def _keys(event: Event) -> set[str]:
    keys = {f"m:{m.story_id}" for m in event.members} | {f"c:{m.cluster_id}" for m in event.members}
    for m in event.members[:MAX_COMPARED]:
        keys.update(f"t:{t}" for t in m.terms)
        keys.update(f"e:{e}" for e in signal_entities(m.entities))
    return keys


def _probe_keys(member: Member) -> list[str]:
    return [f"m:{member.story_id}", f"c:{member.cluster_id}", *(f"t:{t}" for t in member.terms),
            *(f"e:{e}" for e in signal_entities(member.entities))]


class EventAssigner:
    """Decides the events of enriched stories; one per process (it remembers what it wrote)."""

    def __init__(self, es: Elasticsearch, index_prefix: str, *, window: timedelta = WINDOW,
                 threshold: float = JOIN_THRESHOLD) -> None:
        self.es = es
        self.prefix = index_prefix
        self.window = window
        self.threshold = threshold
        self.recent: OrderedDict[str, tuple[Event, Version | None]] = OrderedDict()
        self.by_key: dict[str, set[str]] = {}
        self.requests = 0  # Elasticsearch requests made, for the benchmark's per-story figure
        self.refreshed = False

    def assign(self, members: Sequence[Member]) -> list[Decision]:
        """Decide a batch in the given order (one lookup, one bulk write); returns one decision per member."""
        if not members:
            return []
        probes = [Probe(m.story_id, m.cluster_id, m.published, sorted(m.terms), sorted(signal_entities(m.entities)))
                  for m in members]
        if not self.refreshed:
            event_index.refresh(self.es, self.prefix)
            self.requests += 1
            self.refreshed = True
        found = event_index.find_candidates(self.es, self.prefix, probes, self.window)
        self.requests += 1
        decisions: list[Decision] = []
        changed: dict[str, Version | None] = {}
        for member, hits in zip(members, found, strict=True):
            candidates: dict[str, tuple[Event, Version | None]] = {}
            for hit in hits:
                event_id = hit.source["event_id"]
                mine = self.recent.get(event_id)
                # The search may not yet see what this process wrote (or changed earlier in this batch).
                candidates[event_id] = mine if mine is not None and _newer(mine[1], hit.version) else (
                    event_from_document(hit.source), hit.version)
            for event_id in self._local_candidates(member):
                candidates.setdefault(event_id, self.recent[event_id])
            decision = decide(member, [event for event, _ in candidates.values()], self.threshold)
            decisions.append(decision)
            if decision.reason == "replay":
                continue
            event_id = decision.event.event_id
            version = candidates[event_id][1] if event_id in candidates else None
            changed.setdefault(event_id, version)
            self._remember(decision.event, changed[event_id])
        docs = [(event_document(self.recent[eid][0]), version) for eid, version in changed.items()]
        try:
            written = event_index.write_events(self.es, self.prefix, docs)
        except EventConflict as exc:
            for eid in exc.conflicts:  # re-read on the retry
                self._forget(eid)
            self._versions(exc.written)
            raise
        except Exception:
            # Not stored: forget the batch's changes, or the retry would find them here, decide "replay" and
            # never write them.
            for eid in changed:
                self._forget(eid)
            raise
        finally:
            if docs:
                self.requests += 1
        self._versions(written)
        return decisions

    def _versions(self, written: dict[str, Version]) -> None:
        for event_id, version in written.items():
            if event_id in self.recent:
                self.recent[event_id] = (self.recent[event_id][0], version)

    def _local_candidates(self, member: Member) -> list[str]:
        """Remembered events sharing a key with the story, most shared first, at most MAX_CANDIDATES."""
        shared: Counter[str] = Counter()
        for key in _probe_keys(member):
            for event_id in self.by_key.get(key, ()):
                # Its own event or its cluster's always qualifies: weigh those above any count of shared terms.
                shared[event_id] += 1_000 if key[0] in "mc" else 1
        ranked = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))
        return [event_id for event_id, _ in ranked[:event_index.MAX_CANDIDATES]]

    def _remember(self, event: Event, version: Version | None) -> None:
        self._forget(event.event_id)
        self.recent[event.event_id] = (event, version)
        for key in _keys(event):
            self.by_key.setdefault(key, set()).add(event.event_id)
        while len(self.recent) > RECENT_EVENTS:
            self._forget(next(iter(self.recent)))

    def _forget(self, event_id: str) -> None:
        held = self.recent.pop(event_id, None)
        if held is None:
            return
        for key in _keys(held[0]):
            ids = self.by_key.get(key)
            if ids is not None:
                ids.discard(event_id)
                if not ids:
                    del self.by_key[key]


def _newer(mine: Version | None, stored: Version | None) -> bool:
    """True when the remembered copy is at least as new as the stored one (unwritten copies are newest)."""
    if mine is None or stored is None:
        return mine is None
    return (mine.primary_term, mine.seq_no) >= (stored.primary_term, stored.seq_no)
