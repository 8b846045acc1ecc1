"""Data of benchmarks/events.py: the labelled stories, their dev / held-out parts, enrichment, scoring, the burst.

Labelled set: tests/fixtures/events/stories.jsonl (id, url, outlet, published, lang, title, lead, event,
provenance) when present; otherwise the relevance set's story groups (tests/fixtures/relevance/extended, field
``group``; no publication dates, so every story is placed at one instant: the time window then helps nothing,
a harder test than real coverage). Parts: whole events are split in two by a seeded hash, ``dev`` (thresholds are
chosen and errors read there) and ``held-out`` (reported, never read for tuning).

Each story is enriched by govwatch itself (govwatch.enrich.pipeline.enrich, feed-only: title + lead as the
feed's title and summary) for its entities and topics; wire-copy clusters are decided as the enrich stage does
(the earliest-published near-duplicate's cluster, govwatch.enrich.neardup), in publication order.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from govwatch.enrich.event_assign import member_of
from govwatch.enrich.events import Member
from govwatch.enrich.neardup import is_near_duplicate, parse_signature
from govwatch.enrich.pipeline import Knowledge, enrich
from govwatch.models import EnrichedStory, RawStory, Trace

REPO = Path(__file__).resolve().parents[1]
EVENTS_FILE = REPO / "tests/fixtures/events/stories.jsonl"
RELEVANCE_DIR = REPO / "tests/fixtures/relevance/extended"
SPLIT_SEED = "events-27"  # fixed: the dev / held-out parts never move between runs
ONE_INSTANT = datetime(2026, 1, 5, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Labelled:
    """One labelled story."""

    id: str
    outlet: str
    published: datetime
    lang: str
    title: str
    lead: str
    event: str


def load(which: str = "auto") -> tuple[str, list[Labelled]]:
    """The labelled stories and the name of the set they come from."""
    if which == "events" or (which == "auto" and EVENTS_FILE.exists()):
        rows = [json.loads(line) for line in EVENTS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
        return str(EVENTS_FILE.relative_to(REPO)), [
            Labelled(r["id"], r["outlet"], datetime.fromisoformat(r["published"]).astimezone(UTC), r.get("lang", ""),
                     r.get("title", ""), r.get("lead", ""), r["event"]) for r in rows]
    out = []
    for path in sorted(RELEVANCE_DIR.glob("items-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            title = r["title"] or r["text"].split(". ")[0][:200]
            out.append(Labelled(r["id"], r["outlet"], ONE_INSTANT, r["lang"], title, r["text"][:500], r["group"]))
    return str(RELEVANCE_DIR.relative_to(REPO)) + " (groups)", out


def part_of(event: str) -> str:
    """``dev`` or ``held-out``, by a seeded hash of the event label (whole events on one side)."""
    digest = hashlib.sha256(f"{SPLIT_SEED}:{event}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "held-out"


def story_id(label: str) -> str:
    return hashlib.sha256(f"events-benchmark:{label}".encode()).hexdigest()


def enrich_all(stories: Iterable[Labelled], knowledge: Knowledge) -> list[EnrichedStory]:
    """govwatch's own enrichment of each story from its title and lead (feed-only, as a feed entry)."""
    out = []
    for s in stories:
        raw = RawStory(story_id=story_id(s.id), url=f"https://{s.outlet}/{s.id}", feed_id=s.outlet,
                       feed_url=f"https://{s.outlet}/feed", source=s.outlet, title=s.title, summary=s.lead,
                       language=s.lang or None, published_at=s.published, trace=Trace(first_seen_at=s.published))
        out.append(enrich(raw, None, None, knowledge))
    return with_clusters(out)


def with_clusters(stories: list[EnrichedStory]) -> list[EnrichedStory]:
    """Wire-copy clusters as the enrich stage decides them: in first-seen order, join the earliest duplicate."""
    order = sorted(range(len(stories)), key=lambda i: (stories[i].raw.trace.first_seen_at, stories[i].story_id))
    decided: dict[int, EnrichedStory] = {}
    sigs = {i: parse_signature(stories[i].neardup_signature) for i in order}
    for n, i in enumerate(order):
        mates = [j for j in order[:n] if is_near_duplicate(sigs[i], sigs[j])]
        story = stories[i]
        if mates:
            first = decided[mates[0]]
            story = story.model_copy(update={"cluster_id": first.cluster_id, "is_cluster_representative": False})
        decided[i] = story
    return [decided[i] for i in range(len(stories))]


def members_of(stories: Iterable[EnrichedStory]) -> list[Member]:
    return [member_of(s) for s in stories]


def bcubed(predicted: Mapping[str, str], gold: Mapping[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 (Bagga & Baldwin 1998) of ``predicted`` over the items of ``gold``."""
    pred_sets: dict[str, set[str]] = defaultdict(set)
    gold_sets: dict[str, set[str]] = defaultdict(set)
    for item in gold:
        pred_sets[predicted[item]].add(item)
        gold_sets[gold[item]].add(item)
    p = r = 0.0
    for item in gold:
        mine, truth = pred_sets[predicted[item]], gold_sets[gold[item]]
        both = len(mine & truth)
        p += both / len(mine)
        r += both / len(truth)
    p, r = p / len(gold), r / len(gold)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


BURST_FACTS = [
    "The European Commission fined Clearview AI 20 million euros under the AI Act for scraping faces",
    "Brussels imposed a 20 million euro penalty on Clearview AI over facial recognition scraping",
    "Clearview AI hit with EU fine of 20 million euros for building a face database from scraped photos",
    "EU regulators penalise Clearview AI, the facial recognition firm, with a 20 million euro fine",
    "Commission sanctions Clearview AI: 20 million euros for unlawful scraping of facial images",
]
BURST_ANGLES = [
    "Privacy campaigners welcomed the decision.", "The company said it would appeal.",
    "It is the first fine of its kind under the new rules.", "Clearview AI says it has no clients in Europe.",
    "Lawyers expect more enforcement against biometric firms.", "The AI Office led the investigation.",
]


def burst(start: datetime, outlets: int = 15, stories: int = 30, hours: int = 48,
          seed: int = 27) -> list[Labelled]:
    """One event covered by ``stories`` stories from ``outlets`` outlets over ``hours``, in varied wording."""
    rng = random.Random(seed)
    out = []
    for n in range(stories):
        fact = BURST_FACTS[n % len(BURST_FACTS)]
        angle = " ".join(rng.sample(BURST_ANGLES, 2))
        out.append(Labelled(f"burst-{n:02d}", f"outlet{n % outlets:02d}.example",
                            start + timedelta(minutes=rng.randrange(hours * 60)), "en",
                            fact.split(" for ")[0].split(" over ")[0], f"{fact}. {angle}", "burst"))
    return out
