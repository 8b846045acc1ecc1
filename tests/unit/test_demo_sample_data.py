"""The offline demo sample's source (deploy/demo/source/stories.jsonl) keeps its promises about size and licences.

The sample is what a newcomer's first run will show (issue 27, point 5): at least 100 stories, several news events
each covered by several outlets, and nothing shipped that the demo may not republish. Full text is allowed only
under an open licence from the publisher that holds it; commercial outlets appear only as a feed would carry them
(title and a short summary). The README next to the data explains every value checked here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "source"
FEED_EXCERPT = "feed-excerpt"
# licence -> outlet-name prefixes of the publishers that hold it (a body under a licence nobody granted is a defect)
OPEN_LICENCES: dict[str, tuple[str, ...]] = {
    "public-domain-us-gov": ("The White House", "Digital.gov", "NIST", "U.S. Department of",
                             "Federal Trade Commission"),
    "OGL-3.0": ("GOV.UK",),
    "open-parliament-licence-3.0": ("UK Parliament",),
    "EC-reuse-2011/833/EU": ("European Commission",),
    "EP-reuse-attribution": ("European Parliament",),
    "CC-BY-2.5": ("Wikinews",),
}
ALLOWED_LICENCES = {FEED_EXCERPT, *OPEN_LICENCES}
LABELS = {"ai-governance", "adjacent", "ai-not-governance", "negative"}
PRECISIONS = {"exact", "day", "approx"}
FIELDS = {"id", "url", "outlet", "licence", "licence_basis", "published", "published_precision", "language", "label",
          "title", "summary", "body", "event", "provenance"}
MIN_STORIES = 100
MIN_EVENTS = 5
MIN_OUTLETS_PER_EVENT = 4
MAX_EVENT_SPAN_DAYS = 7  # an event is one news cycle; later follow-ups carry no event label (README)
MAX_SUMMARY_CHARS = 400  # a feed-style summary is one or two sentences, not an article


@cache
def stories() -> tuple[dict[str, Any], ...]:
    """Every line of stories.jsonl, parsed."""
    with (SAMPLE / "stories.jsonl").open(encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh if line.strip())


def events() -> dict[str, list[dict[str, Any]]]:
    """Stories grouped by their event label (unlabelled stories left out)."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for story in stories():
        if story["event"] is not None:
            grouped[story["event"]].append(story)
    return grouped


def published(story: dict[str, Any]) -> datetime:
    """The story's publication time; ISO 8601 in UTC with a trailing Z is the only accepted form."""
    assert story["published"].endswith("Z"), story["id"]
    return datetime.fromisoformat(story["published"]).astimezone(UTC)


def test_sample_is_big_enough() -> None:
    """The sample holds at least 100 stories, so the demo's events panel has something to show."""
    assert len(stories()) >= MIN_STORIES


def test_every_story_has_the_documented_fields() -> None:
    """Each line carries exactly the README's fields, with known labels and a non-empty title, URL and provenance."""
    for story in stories():
        assert set(story) == FIELDS, story.get("id")
        assert story["label"] in LABELS, story["id"]
        assert story["published_precision"] in PRECISIONS, story["id"]
        assert story["title"].strip() and story["provenance"].strip(), story["id"]
        assert story["url"].startswith(("https://", "http://")), story["id"]
        published(story)


def test_ids_and_urls_are_unique() -> None:
    """No two stories share an id or a URL (the demo's story ids are hashes of the URL)."""
    ids = [story["id"] for story in stories()]
    urls = [story["url"] for story in stories()]
    assert len(set(ids)) == len(ids)
    assert len(set(urls)) == len(urls)


def test_every_licence_is_allowed() -> None:
    """Every story names a licence from the allowed list."""
    assert {story["licence"] for story in stories()} <= ALLOWED_LICENCES


def test_commercial_outlets_carry_no_body() -> None:
    """Feed excerpts ship only a title and a short summary, never page text."""
    for story in stories():
        if story["licence"] == FEED_EXCERPT:
            assert story["body"] == "", story["id"]
            assert len(story["summary"]) <= MAX_SUMMARY_CHARS, story["id"]


@pytest.mark.parametrize("licence", sorted(OPEN_LICENCES))
def test_open_licences_belong_to_their_publishers(licence: str) -> None:
    """An open licence is claimed only for the publisher that grants it, and at least one story uses it."""
    holders = [story for story in stories() if story["licence"] == licence]
    assert holders
    for story in holders:
        assert story["outlet"].startswith(OPEN_LICENCES[licence]), story["id"]


def test_several_events_each_covered_by_several_outlets() -> None:
    """At least five events are covered by four or more distinct outlets: enough for threads and event pages."""
    wide = [name for name, members in events().items()
            if len({story["outlet"] for story in members}) >= MIN_OUTLETS_PER_EVENT]
    assert len(wide) >= MIN_EVENTS, sorted(wide)


def test_events_are_governance_stories_within_one_news_cycle() -> None:
    """Event members are AI-governance stories published within a week of each other."""
    for name, members in events().items():
        assert {story["label"] for story in members} == {"ai-governance"}, name
        times = sorted(published(story) for story in members)
        assert (times[-1] - times[0]).days <= MAX_EVENT_SPAN_DAYS, name


def test_sample_has_negatives_for_the_relevance_filter() -> None:
    """Stories that are not about AI governance make up at least a quarter of the sample."""
    others = [story for story in stories() if story["label"] != "ai-governance"]
    assert len(others) * 4 >= len(stories())
