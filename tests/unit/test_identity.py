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


def _canonical_before_issue_13(url: str) -> str:
    """canonical_url as it was before its fast paths (kept verbatim as the reference ids must match)."""
    import re
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    from govwatch.identity import DEFAULT_PORTS, _is_tracking

    def fold(path: str) -> str:
        if path.endswith(".amp.html"):
            path = path[: -len(".amp.html")] + ".html"
        segments = path.split("/")
        folded = [s for s in segments if s.lower() != "amp"]
        if len(folded) != len(segments):
            path = "/".join(folded)
            if segments[-1].lower() == "amp" and not path.endswith("/"):
                path += "/"
        return re.sub(r"/{2,}", "/", path) or "/"

    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("amp."):
        host = host[len("amp."):]
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = fold(parts.path or "/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


ODD_LINKS = [raw for raw, _ in TABLE] + [
    "https://example.com//a///b//", "https://example.com/amp//amp/", "https://example.com/a?", "https://example.com/?#x",
    "https://example.com/a?&&", "https://example.com/a?utm_source=x", "https://user@example.com/a//b",
    "http://[::1]:8080//x", "https://example.com:99999/a", "  https://example.com/a  ", "https://example.com/a?b=%20&a",
    "https://example.com/AMP", "https://example.com/x.amp.html?amp", "https://example.com/%2F%2Fa", "mailto:x@y",
]


@pytest.mark.parametrize("raw", ODD_LINKS)
def test_ids_unchanged_by_the_fast_paths(raw: str) -> None:
    """The query and double-slash fast paths give the canonical URL (hence the story id) the code gave before."""
    assert canonical_url(raw) == _canonical_before_issue_13(raw)
    assert story_id(raw) == hashlib.sha256(_canonical_before_issue_13(raw).encode()).hexdigest()
