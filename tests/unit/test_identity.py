"""Story identity: canonical URLs and story ids."""

from __future__ import annotations

import hashlib

import pytest

from govwatch.identity import canonical_url, guid_story_id, story_id

TABLE = [
    ("HTTPS://Example.COM/a/b", "https://example.com/a/b"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com/a#section-2", "https://example.com/a"),
    ("https://example.com/a?utm_source=x&utm_medium=rss&id=7", "https://example.com/a?id=7"),
    ("https://example.com/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&ref_src=twsrc", "https://example.com/a"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
    ("https://example.com/news/amp/story-1", "https://example.com/news/story-1"),
    ("https://example.com/news/story-1/amp", "https://example.com/news/story-1/"),
    ("https://example.com/news/story-1?amp=1", "https://example.com/news/story-1"),
    ("https://amp.example.com/news/story-1", "https://example.com/news/story-1"),
    ("https://example.com/news/story-1.amp.html", "https://example.com/news/story-1.html"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/a?q=", "https://example.com/a?q="),
]


@pytest.mark.parametrize(("raw", "canonical"), TABLE)
def test_canonical_url_table(raw: str, canonical: str) -> None:
    """Each link variant canonicalises to the documented form."""
    assert canonical_url(raw) == canonical


def test_variants_share_one_story_id() -> None:
    """Tracking, fragment, port, case and AMP variants of one article get the same id, a sha256 of the canonical URL."""
    variants = ["https://www.example.com/news/story?id=1", "HTTPS://WWW.EXAMPLE.COM:443/news/story?id=1#top",
                "https://www.example.com/news/amp/story?utm_campaign=x&id=1", "https://amp.www.example.com/news/story?id=1"]
    ids = {story_id(v) for v in variants}
    assert ids == {hashlib.sha256(b"https://www.example.com/news/story?id=1").hexdigest()}


def test_different_articles_differ() -> None:
    """A meaningful query parameter keeps two articles apart."""
    assert story_id("https://example.com/a?id=1") != story_id("https://example.com/a?id=2")


def test_guid_ids_are_scoped_to_the_feed() -> None:
    """The GUID fallback hashes guid:<feed_id>:<guid>, so equal GUIDs of two feeds never collide."""
    assert guid_story_id("f1", "123") == hashlib.sha256(b"guid:f1:123").hexdigest()
    assert guid_story_id("f1", "123") != guid_story_id("f2", "123")
