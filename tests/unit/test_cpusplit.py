"""Unit tests for govwatch.enrich.cpusplit and the per-component CPU split of enrich()."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from govwatch.enrich.cpusplit import CpuSplit
from govwatch.enrich.pipeline import Knowledge, enrich
from govwatch.identity import story_id
from govwatch.models import RawStory, Trace

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
FIRST_SEEN = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _raw() -> RawStory:
    url = "https://news.example.org/ai-act"
    return RawStory(story_id=story_id(url), url=url, feed_id="f", feed_url="https://news.example.org/feed",
                    source="Example", trace=Trace(first_seen_at=FIRST_SEEN))


def test_laps_book_time_to_components_and_merge_adds() -> None:
    """lap() books the time since the previous mark to its component; add() and merge() sum per component."""
    split = CpuSplit()
    sum(i * i for i in range(20_000))
    split.lap("work")
    split.add("fetch", 0.5)
    other = CpuSplit()
    other.add("fetch", 0.25)
    split.merge(other)
    assert split.seconds["work"] > 0
    assert split.seconds["fetch"] == 0.75
    assert split.millis()["fetch"] == 750.0


def test_enrich_books_every_component_and_gives_the_same_story() -> None:
    """With a split, enrich() books parse, extraction, entities, relevance, topics, language and near-duplicates,
    and the enriched story is the same as without one (bar the enriched_at stamp)."""
    knowledge = Knowledge.load(0.4)
    html = gzip.decompress(next(iter(sorted(PAGES.glob("*.html.gz")))).read_bytes())
    split = CpuSplit()
    measured = enrich(_raw(), html, None, knowledge, split)
    plain = enrich(_raw(), html, None, knowledge)
    assert {"decode", "parse", "metadata", "extraction", "language", "entities", "relevance", "topics",
            "neardup", "model"} <= split.seconds.keys()
    assert split.seconds["extraction"] > 0
    same_trace = {"trace": plain.trace}
    assert measured.model_copy(update=same_trace) == plain
