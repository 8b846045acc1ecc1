"""The offline demo site: real server on 127.0.0.1 serving the bundled sample (deploy/demo)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from govwatch.feeds.registry import load_registry
from govwatch_dev.demo_site import DEFAULT_ROOT, DemoSite, rebase

SOURCE = DEFAULT_ROOT / "source" / "stories.jsonl"
# The site's clock in these tests (never today's date): dates are rebased so the newest day is 2026-03-01.
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _stories() -> dict[str, dict]:
    """The sample's source stories by id."""
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    return {s["id"]: s for s in (json.loads(line) for line in lines if line.strip())}


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    demo = DemoSite(port=0, clock=lambda: NOW)
    demo.start()
    yield demo
    demo.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as c:
        yield c


def _entries(site: DemoSite, client: httpx.Client) -> list[tuple[str, feedparser.FeedParserDict]]:
    """(feed title, entry) for every entry of every served feed."""
    out = []
    for path in sorted(p for p in site.resources if p.startswith("/feeds/")):
        parsed = feedparser.parse(client.get(site.base_url + path).content)
        assert not parsed.bozo, path
        out += [(parsed.feed.title, entry) for entry in parsed.entries]
    return out


def test_feeds_serve_every_source_story_once(site: DemoSite, client: httpx.Client) -> None:
    """The feeds together carry each source story exactly once, under its outlet's feed, with its title, summary
    and date (moved by the site's offset), and a link to a page on this server."""
    stories = _stories()
    entries = _entries(site, client)
    assert len(stories) >= 100
    slugs = [entry.link.removeprefix(f"{site.base_url}/articles/").removesuffix(".html") for _, entry in entries]
    assert sorted(slugs) == sorted(stories)
    for (feed_title, entry), slug in zip(entries, slugs, strict=True):
        story = stories[slug]
        assert feed_title == story["outlet"] and entry.title == story["title"], slug
        assert entry.summary == story["summary"], slug
        assert entry.id == story["url"], slug
        published = datetime.fromisoformat(story["published"]) + site.offset
        assert datetime(*entry.published_parsed[:6], tzinfo=UTC) == published, slug


def test_rebased_dates_end_yesterday_in_whole_days(site: DemoSite, client: httpx.Client) -> None:
    """The offset is whole days and puts the newest story on the clock's previous day; every RSS pubDate names
    its real weekday; every page's published time, <time> element and byline move by the same offset."""
    assert site.offset.days > 0 and site.offset == timedelta(days=site.offset.days)
    newest = max(datetime.fromisoformat(s["published"]) for s in _stories().values()) + site.offset
    assert newest.date() == (NOW - timedelta(days=1)).date() and newest < NOW
    for path in (p for p in site.resources if p.startswith("/feeds/")):
        for stamp in re.findall(r"<pubDate>([^<]+)</pubDate>", client.get(site.base_url + path).text):
            assert stamp[:3] == parsedate_to_datetime(stamp).strftime("%a"), stamp
    for slug, story in _stories().items():
        page = client.get(f"{site.base_url}/articles/{slug}.html").text
        moved = datetime.fromisoformat(story["published"]) + site.offset
        assert f'<time datetime="{moved.isoformat()}">{moved:%d %B %Y %H:%M} UTC</time>' in page, slug
        assert f'property="article:published_time" content="{moved.isoformat()}"' in page, slug
        assert site.resources[f"/articles/{slug}.html"].last_modified == moved, slug


def test_original_dates_mode_serves_the_real_dates(client: httpx.Client) -> None:
    """``rebase=False`` serves every date as the source has it, whatever the clock says."""
    stories = _stories()
    with DemoSite(port=0, rebase=False, clock=lambda: NOW) as real:
        assert real.offset == timedelta(0)
        for _, entry in _entries(real, client):
            story = stories[entry.link.rsplit("/", 1)[1].removesuffix(".html")]
            assert datetime(*entry.published_parsed[:6], tzinfo=UTC) == datetime.fromisoformat(story["published"])


def test_rebase_keeps_each_format_and_time_zone_and_leaves_non_dates() -> None:
    """Atom dates keep their offset, an RFC 822 date its zone and a recomputed weekday; a byline in another format
    and a pubDate that is no date are served as written."""
    text = ("<updated>2025-07-01T09:15:48-04:00</updated><published>2023-04-04T03:17:15Z</published>"
            "<pubDate>Fri, 28 Feb 2025 23:30:00 +0200</pubDate><pubDate>yesterday</pubDate>"
            '<time datetime="2025-07-01T09:15:48-04:00">July 1st</time>')
    assert rebase(text, timedelta(days=3)) == (
        "<updated>2025-07-04T09:15:48-04:00</updated><published>2023-04-07T03:17:15Z</published>"
        "<pubDate>Mon, 03 Mar 2025 23:30:00 +0200</pubDate><pubDate>yesterday</pubDate>"
        '<time datetime="2025-07-04T09:15:48-04:00">July 1st</time>')


def test_events_span_several_feeds(site: DemoSite, client: httpx.Client) -> None:
    """At least five of the sample's events are carried by four or more distinct feeds (outlets)."""
    stories = _stories()
    feeds_of: dict[str, set[str]] = {}
    for feed_title, entry in _entries(site, client):
        event = stories[entry.link.rsplit("/", 1)[1].removesuffix(".html")]["event"]
        if event is not None:
            feeds_of.setdefault(event, set()).add(feed_title)
    assert sum(1 for feeds in feeds_of.values() if len(feeds) >= 4) >= 5, feeds_of


def test_pages_hold_licensed_text_or_only_title_and_summary(site: DemoSite, client: httpx.Client) -> None:
    """A story with openly licensed text gets that text and its licence on its page; any other story's page holds
    its title and summary and no more text than that."""
    for slug, story in _stories().items():
        page = client.get(f"{site.base_url}/articles/{slug}.html")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), slug
        text = page.text
        assert f'name="govwatch-demo:licence" content="{story["licence"]}"' in text, slug
        body = text.split("<article>", 1)[1].split("</article>", 1)[0]
        if story["body"]:
            first = story["body"].split("\n", 1)[0].strip()
            assert first[:60].replace("&", "&amp;").replace('"', "&quot;").replace("'", "&#x27;") in body, slug
        else:
            assert 'class="article-body"' not in body and body.count("<p") == 2, slug  # byline + summary


def test_rss_feed_content_type(site: DemoSite, client: httpx.Client) -> None:
    """An RSS 2.0 feed is served as application/rss+xml."""
    resp = client.get(f"{site.base_url}/feeds/wikinews.xml")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/rss+xml"
    assert b"{base}" not in resp.content


def test_conditional_get_answers_304(site: DemoSite, client: httpx.Client) -> None:
    """A repeat request carrying the ETag or the Last-Modified date gets 304 with no body; an older date gets the
    feed again; Last-Modified is the feed's newest (rebased) item date."""
    url = f"{site.base_url}/feeds/wikinews.xml"
    first = client.get(url)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    by_etag = client.get(url, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b"" and by_etag.headers["etag"] == etag
    by_date = client.get(url, headers={"If-Modified-Since": last_modified})
    assert by_date.status_code == 304
    dates = [parsedate_to_datetime(d) for d in re.findall(r"<pubDate>([^<]+)</pubDate>", first.text)]
    assert parsedate_to_datetime(last_modified) == max(dates)
    older = (max(dates) - timedelta(seconds=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert client.get(url, headers={"If-Modified-Since": older}).status_code == 200
    changed = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == first.content


@pytest.mark.parametrize("path", ["/", "/feeds/missing.xml", "/feeds/../registry.yaml", "/articles/x.txt",
                                  "/registry.yaml", "/source/stories.jsonl"])
def test_unknown_paths_are_404(site: DemoSite, client: httpx.Client, path: str) -> None:
    """Anything but a sample feed or article page is 404 (no directory listing, no traversal)."""
    assert client.get(site.base_url + path).status_code == 404


def test_registry_path_points_at_the_running_site(site: DemoSite, tmp_path: Path) -> None:
    """The written registry loads without problems, lists every served feed once, all on this server."""
    feeds, problems = load_registry(site.registry_path(tmp_path))
    assert problems == []
    served = {p for p in site.resources if p.startswith("/feeds/")}
    assert {f.url.removeprefix(site.base_url) for f in feeds} == served and len(feeds) == len(served)
    assert all(f.needs_relevance_filter for f in feeds)


def test_legacy_fixture_is_served_from_its_own_root(client: httpx.Client) -> None:
    """DemoSite takes a root: the 27-entry legacy fixture that some tests use is served the same way."""
    legacy = Path(__file__).resolve().parents[1] / "fixtures" / "demo-legacy"
    with DemoSite(legacy, port=0, clock=lambda: NOW) as old:
        parsed = feedparser.parse(client.get(f"{old.base_url}/feeds/theverge.xml").content)
        assert len(parsed.entries) == 10 and not parsed.bozo
        assert max(datetime(*e.published_parsed[:6], tzinfo=UTC) for e in parsed.entries) < NOW
        assert client.get(parsed.entries[0].link).status_code == 200
