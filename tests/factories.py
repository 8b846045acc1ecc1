"""Builders of valid messages for tests (real contracts, chosen values)."""

from __future__ import annotations

from datetime import UTC, datetime

from govwatch.models import EnrichedStory, EntityRef, RawStory, TopicRef, Trace


def sid(n: int | str) -> str:
    """A deterministic 64-hex story id."""
    import hashlib

    return hashlib.sha256(f"https://example.org/story/{n}".encode()).hexdigest()


def raw_story(n: int | str = 1, **over: object) -> RawStory:
    fields: dict[str, object] = dict(
        story_id=sid(n), url=f"https://example.org/story/{n}", feed_id="example", feed_url="https://example.org/feed",
        source="Example News", country="GB", language="en", title=f"Story {n}", summary=f"Summary of story {n}",
        published_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        trace=Trace(first_seen_at=datetime(2026, 11, 20, 9, 1, tzinfo=UTC)),
    )
    fields.update(over)
    return RawStory(**fields)


def enriched_story(n: int | str = 1, text: str = "", **over: object) -> EnrichedStory:
    raw = over.pop("raw", None) or raw_story(n)
    fields: dict[str, object] = dict(
        story_id=raw.story_id, raw=raw, title=raw.title, text=text or f"Body of story {n}.",
        language="en", published_at=raw.published_at, extraction_status="extracted", word_count=4,
        entities=[EntityRef(id="Q458", name="European Union", type="org", qid="Q458", mentions=2),
                  EntityRef(id="FR", name="France", type="country", mentions=1)],
        topics=[TopicRef(id="legislation_rulemaking", label="AI legislation and rule-making", score=0.8)],
        relevance=0.9, is_relevant=True, cluster_id=raw.story_id, trace=raw.trace,
    )
    fields.update(over)
    return EnrichedStory(**fields)
