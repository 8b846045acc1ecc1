"""The offline demo site: real server on 127.0.0.1 serving the bundled sample (deploy/demo)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from govwatch.feeds.registry import load_registry
from govwatch_dev.demo_site import DemoSite


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    demo = DemoSite(port=0)
    demo.start()
    yield demo
    demo.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as c:
        yield c


def test_feed_parses_and_links_lead_to_article_pages(site: DemoSite, client: httpx.Client) -> None:
    """A served feed parses with entries whose links point at this server and answer 200 with an HTML page."""
    resp = client.get(f"{site.base_url}/feeds/theverge.xml")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/atom+xml"
    assert b"{base}" not in resp.content
    parsed = feedparser.parse(resp.content)
    assert not parsed.bozo and len(parsed.entries) == 10
    assert parsed.entries[0].title == "Senate drops plan to ban state AI laws"
    for entry in parsed.entries:
        assert entry.link.startswith(f"{site.base_url}/articles/")
    page = client.get(parsed.entries[0].link)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b'property="og:title" content="Senate drops plan to ban state AI laws"' in page.content


def test_every_feed_entry_has_its_page(site: DemoSite, client: httpx.Client) -> None:
    """Every entry of every sample feed links to an article page the site serves."""
    feeds = sorted(p for p in site.resources if p.startswith("/feeds/"))
    assert len(feeds) >= 3
    total = 0
    for path in feeds:
        parsed = feedparser.parse(client.get(site.base_url + path).content)
        assert not parsed.bozo, path
        for entry in parsed.entries:
            assert entry.link.removeprefix(site.base_url) in site.resources, entry.link
            total += 1
    assert 20 <= total <= 40


def test_rss_feed_content_type(site: DemoSite, client: httpx.Client) -> None:
    """An RSS 2.0 feed is served as application/rss+xml."""
    resp = client.get(f"{site.base_url}/feeds/cnn.xml")
    assert resp.headers["content-type"] == "application/rss+xml"


def test_conditional_get_answers_304(site: DemoSite, client: httpx.Client) -> None:
    """A repeat request carrying the ETag or the Last-Modified date gets 304 with no body."""
    url = f"{site.base_url}/feeds/lifehacker.xml"
    first = client.get(url)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    by_etag = client.get(url, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b"" and by_etag.headers["etag"] == etag
    by_date = client.get(url, headers={"If-Modified-Since": last_modified})
    assert by_date.status_code == 304
    changed = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == first.content


@pytest.mark.parametrize("path", ["/", "/feeds/missing.xml", "/feeds/../registry.yaml", "/articles/x.txt",
                                  "/registry.yaml"])
def test_unknown_paths_are_404(site: DemoSite, client: httpx.Client, path: str) -> None:
    """Anything but a sample feed or article page is 404 (no directory listing, no traversal)."""
    assert client.get(site.base_url + path).status_code == 404


def test_registry_path_points_at_the_running_site(site: DemoSite, tmp_path: Path) -> None:
    """The written registry loads without problems and every feed URL is on this server."""
    feeds, problems = load_registry(site.registry_path(tmp_path))
    assert problems == []
    assert len(feeds) >= 3
    assert all(f.url.startswith(f"{site.base_url}/feeds/") and f.needs_relevance_filter for f in feeds)
