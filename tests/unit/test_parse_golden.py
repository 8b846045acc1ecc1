"""Feed parsing against golden files, plus the parser's defences against hostile input."""

from __future__ import annotations

import importlib.util
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from govwatch.errors import FeedParseError
from govwatch.feeds.parse import clean_text, parse_feed
from govwatch.feeds.parser_pool import ParserPool

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "feeds"
ADVERSARIAL = Path(__file__).resolve().parents[1] / "fixtures" / "feed-adversarial"
_spec = importlib.util.spec_from_file_location("golden_regenerate", GOLDEN / "regenerate.py")
regenerate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regenerate)


@pytest.mark.parametrize("name", regenerate.FEEDS)
def test_parse_matches_golden(name: str) -> None:
    """The parse of each captured feed equals its golden file (regenerate: python tests/golden/feeds/regenerate.py)."""
    expected = json.loads((GOLDEN / f"{name}.expected.json").read_text(encoding="utf-8"))
    assert regenerate.render(name) == expected, "run `python tests/golden/feeds/regenerate.py` and review the diff"


def test_clean_text_strips_markup_and_entities() -> None:
    """Titles and summaries lose tags, scripts and entities, and whitespace is collapsed."""
    assert clean_text("<p>AI&nbsp;Act&amp;  <b>news</b></p>\n<script>alert(1)</script> &#8217;ok") \
        == "AI Act& news \u2019ok"


def test_far_future_date_is_flagged() -> None:
    """A date far in the future is kept but flagged published_at_suspect."""
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title>'
            b"<link>https://e.example/a</link><pubDate>Mon, 01 Jan 2035 00:00:00 GMT</pubDate></item></channel></rss>")
    entry = parse_feed(body, now=datetime(2026, 1, 1, tzinfo=UTC)).entries[0]
    assert entry.published_at == datetime(2035, 1, 1, tzinfo=UTC) and entry.published_at_suspect


def test_entries_are_capped() -> None:
    """At most max_entries entries are returned."""
    items = b"".join(b"<item><title>%d</title><link>https://e.example/%d</link></item>" % (i, i) for i in range(50))
    body = b'<rss version="2.0"><channel><title>t</title>' + items + b"</channel></rss>"
    parsed = parse_feed(body, max_entries=10)
    assert len(parsed.entries) == 10 and parsed.truncated_entries == 40


def test_entity_declarations_and_oversize_bodies_are_refused() -> None:
    """Billion-laughs and external-entity documents, and bodies over the cap, are rejected before parsing."""
    for name in ("xmlbomb.xml", "external.xml"):
        with pytest.raises(FeedParseError, match="declares entities"):
            parse_feed((ADVERSARIAL / "defusedxml" / name).read_bytes())
    with pytest.raises(FeedParseError, match="cap"):
        parse_feed(b"<rss>" + b" " * 2000 + b"</rss>", max_bytes=1000)


def test_every_adversarial_file_is_parsed_or_rejected_quickly() -> None:
    """Each of the ~860 hostile inputs yields a result or FeedParseError within 5 s, and no script survives."""
    files = [p for p in sorted(ADVERSARIAL.rglob("*")) if p.is_file() and p.suffix in (".xml", ".atom", ".html")]
    assert len(files) > 850
    pool = ParserPool()
    try:
        for path in files:
            started = time.monotonic()
            try:
                parsed = pool.parse(path.read_bytes(), timeout_s=5)
            except FeedParseError:
                parsed = None
            assert time.monotonic() - started < 5, path
            for entry in parsed.entries if parsed else []:
                assert "<script" not in entry.summary.lower() and "javascript:" not in (entry.link or "").lower(), path
    finally:
        pool.close()
