"""Entry links: relative links resolve against the feed's URL (no longer through feedparser's base URI)."""

from __future__ import annotations

from govwatch.feeds.parse import parse_feed

BASE = "https://news.example.org/feeds/ai.xml"


def _rss(channel_attrs: str, link: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0" {channel_attrs}><channel><title>t</title>'
            f"<item><title>a</title><link>{link}</link><guid>g1</guid></item></channel></rss>").encode()


def test_relative_links_resolve_against_the_feed_url() -> None:
    """A root-relative and a path-relative link become absolute on the feed's own host and path."""
    assert parse_feed(_rss("", "/story/1"), base_url=BASE).entries[0].link == "https://news.example.org/story/1"
    assert parse_feed(_rss("", "story/2"), base_url=BASE).entries[0].link == "https://news.example.org/feeds/story/2"


def test_an_absolute_xml_base_in_the_document_still_applies() -> None:
    """The document's own absolute xml:base decides a relative link, as feedparser does."""
    body = _rss('xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:base="https://cdn.example.net/x/"', "s/3")
    assert parse_feed(body, base_url=BASE).entries[0].link == "https://cdn.example.net/x/s/3"


def test_a_relative_link_without_a_feed_url_is_dropped() -> None:
    """With nothing to resolve it against, a relative link is not a story link (the guid identifies it)."""
    entry = parse_feed(_rss("", "/story/1")).entries[0]
    assert entry.link is None and entry.guid == "g1"


def test_non_http_links_are_dropped() -> None:
    """javascript: and mailto: links never become story links, base URL or not."""
    assert parse_feed(_rss("", "javascript:alert(1)"), base_url=BASE).entries[0].link is None
    assert parse_feed(_rss("", "mailto:desk@example.org"), base_url=BASE).entries[0].link is None
