"""The fault-injection suite's generated sites and report: the event site's news events are told apart by event
assignment, the other scenarios' site is unchanged, and recovery lines say what was measured."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime

import pytest

from govwatch.enrich.event_assign import member_of
from govwatch.enrich.events import JOIN_THRESHOLD, Event, Member, decide, similarity
from govwatch.enrich.pipeline import Knowledge, enrich
from govwatch.identity import story_id
from govwatch.models import RawStory, Trace
from govwatch_dev.chaos import Result, table
from govwatch_dev.chaos.event_site import generate_events, news_events
from govwatch_dev.chaos.site import FEEDS, Story, article_html, feed_xml, generate

CLOCK = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # the short tests' clock
BASE = "http://127.0.0.1:8"
# sha256 of the pages and feeds of the other scenarios' sites (30 stories seed 3; 120 seed 0; 300 seed 1), as
# generated before the event site existed: those runs stay byte-identical.
OTHER_SITES_SHA256 = "e20e13cc1d176658a11c4cda4d4bb1c55f2f5a1609768b780d50db15dc7560d4"


def _members(stories: list[Story]) -> list[tuple[Member, int | None]]:
    """Each story enriched as the pipeline would (page and feed fields), as event assignment sees it."""
    knowledge = Knowledge.load(0.5)
    slug_url = {s.slug: s.url(BASE) for s in stories}
    out = []
    for s in stories:
        url = s.url(BASE)
        raw = RawStory(story_id=story_id(url), url=url, feed_id=f"chaos-{s.feed}", feed_url=f"{BASE}/feeds",
                       source=FEEDS[s.feed], title=s.title, summary=s.summary, published_at=s.published,
                       needs_relevance_filter=True, trace=Trace(first_seen_at=CLOCK))
        story = enrich(raw, article_html(s).encode(), None, knowledge)
        cluster = story_id(slug_url[s.copy_of]) if s.copy_of else story.story_id  # a wire copy joins its original
        out.append((member_of(story.model_copy(update={"cluster_id": cluster})), s.event))
    return out


@pytest.fixture(scope="module")
def short_event_site() -> list[tuple[Member, int | None]]:
    return _members(generate_events(30, 3, CLOCK, 4))


def test_each_news_event_scores_above_the_threshold_within_and_below_it_across(
        short_event_site: list[tuple[Member, int | None]]) -> None:
    """Every two stories of one news event reach the join threshold and no story of another event or other news
    does, so event assignment finds each news event as one event in whatever order the stories arrive."""
    within: list[float] = []
    across: list[float] = []
    for (a, ea), (b, eb) in itertools.combinations(short_event_site, 2):
        if ea is None and eb is None:
            continue
        (within if ea == eb else across).append(similarity(a, b))
    assert len(within) > 20 and len(across) > 100
    assert min(within) >= JOIN_THRESHOLD > max(across), (min(within), max(across))


def test_release_order_assignment_gives_one_event_per_news_event(
        short_event_site: list[tuple[Member, int | None]]) -> None:
    """Deciding the stories in release order (every event a candidate) gives each news event its own event."""
    events: list[Event] = []
    for member, _ in short_event_site:
        decided = decide(member, events).event
        events = [e for e in events if e.event_id != decided.event_id] + [decided]
    home = {m.story_id: e.event_id for e in events for m in e.members}
    ids_of: dict[int, set[str]] = {}
    for member, news in short_event_site:
        if news is not None:
            ids_of.setdefault(news, set()).add(home[member.story_id])
    assert sorted(ids_of) == [0, 1, 2, 3]
    assert all(len(ids) == 1 for ids in ids_of.values()), ids_of
    assert len(set.union(*ids_of.values())) == 4


def test_event_site_reports_every_event_and_is_seeded() -> None:
    """Each of the four events gets stories (wire copies inherit theirs), and a seed always gives the same site."""
    stories = generate_events(30, 3, CLOCK, 4)
    assert news_events(stories) == {0, 1, 2, 3}
    by_slug = {s.slug: s for s in stories}
    assert all(s.event == by_slug[s.copy_of].event for s in stories if s.copy_of)
    assert [article_html(s) for s in stories] == [article_html(s) for s in generate_events(30, 3, CLOCK, 4)]
    with pytest.raises(ValueError, match="events must be"):
        generate_events(30, 3, CLOCK, 5)


def test_other_scenarios_sites_are_byte_identical() -> None:
    """The non-event site (pages, feeds, dates, copies) is what it was before the event site was added."""
    digest = hashlib.sha256()
    for count, seed, now in [(120, 0, datetime(2026, 12, 7, 4, 0, tzinfo=UTC)),
                             (300, 1, datetime(2026, 12, 1, 5, 0, tzinfo=UTC)), (30, 3, CLOCK)]:
        stories = generate(count, seed, now)
        for s in stories:
            digest.update(article_html(s).encode())
            digest.update(repr((s.slug, s.feed, s.title, s.summary, s.published, s.copy_of)).encode())
        for name, title in FEEDS.items():
            digest.update(feed_xml(title, "http://x", [s for s in stories if s.feed == name]).encode())
    assert digest.hexdigest() == OTHER_SITES_SHA256


def test_recovery_lines_tell_misses_from_restarts_killed_again() -> None:
    """A restart killed again before its first batch is no miss; one that never got there within the wait is."""
    result = Result("event-kill", recovery={"consumer restart -> first batch": [11.7],
                                            "consumer restart -> partitions assigned": [6.1, float("nan")]},
                    superseded={"consumer restart -> first batch": 1, "broker healthy -> full flow": 2})
    text = table([result])
    assert "first batch: 11.7 s (goal <= 15 s met); 1 killed again before it, not counted" in text
    assert "partitions assigned: 6.1, never s (goal <= 15 s NOT met: 1 never)" in text
    assert "full flow: no figure; 2 killed again before it, not counted" in text
