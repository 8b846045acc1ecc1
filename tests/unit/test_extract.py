"""Unit tests for govwatch.enrich.extract and .reconcile: real pages, hostile input, fallbacks, dates, no network."""

from __future__ import annotations

import copy
import gzip
import json
import random
import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import trafilatura
import trafilatura.downloads
import urllib3
from lxml import etree

from govwatch.enrich import extract, reconcile
from govwatch.enrich.extract import MAX_HTML_CHARS, cap_html, extract_article, extract_from_feed_only

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
GOLD = json.loads((PAGES / "gold.json").read_text(encoding="utf8"))
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ARTICLE = " ".join(f"Sentence {i} of the regulator's statement on model audits." for i in range(40))


def _page(fixture: str) -> bytes:
    return gzip.decompress((PAGES / f"{fixture}.html.gz").read_bytes())


def _html(body: str, head: str = "<title>AI Act deal reached</title>") -> str:
    return f"<!DOCTYPE html><html lang='en-GB'><head>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize("fixture", sorted(GOLD))
def test_real_page_text_contains_gold_opening(fixture: str) -> None:
    """On real publisher pages the extracted body contains the gold article's opening sentence."""
    result = extract_article(_page(fixture), GOLD[fixture]["url"])
    assert result.status == "extracted"
    assert " ".join(GOLD[fixture]["gold_opening"].split()) in " ".join(result.text.split())
    assert result.text_source_chars > 0 and not result.truncated


def test_real_page_metadata() -> None:
    """A real page yields its title, site, declared language and a UTC-aware date."""
    result = extract_article(_page("359fee228518"), GOLD["359fee228518"]["url"], now=NOW)
    assert result.title and "Titan" in result.title
    assert result.language == "en"
    assert result.published is not None and result.published.tzinfo == UTC
    assert result.sitename


def test_broken_html_falls_back_to_feed_summary() -> None:
    """Broken HTML with no usable body falls back to the feed summary as plain text."""
    result = extract_article(
        "<html><body><div><p>Menu</p><p", "https://ex.org/a", feed_summary="<p>Lawmakers agreed &amp; signed.</p>"
    )
    assert result.status == "feed_summary"
    assert result.text == "Lawmakers agreed & signed."


@pytest.mark.parametrize("html", ["", b"", "   \n", b"\x00" * 64])
def test_empty_page_uses_feed_content(html: str | bytes) -> None:
    """An empty page falls back to the feed's full content, not its shorter summary."""
    result = extract_article(html, "https://ex.org/a", feed_content=f"<p>{ARTICLE}</p>", feed_summary="Short.")
    assert result.status == "feed_content"
    assert result.text == ARTICLE


def test_binary_garbage_never_raises() -> None:
    """Random bytes neither raise nor produce text: the result is empty, or the feed's text when given."""
    garbage = random.Random(7).randbytes(200_000)
    assert extract_article(garbage, "https://ex.org/a").status == "empty"
    with_feed = extract_article(garbage, "https://ex.org/a", feed_summary="Summary text.")
    assert (with_feed.status, with_feed.text) == ("feed_summary", "Summary text.")


def test_feed_only_statuses() -> None:
    """Without a page, feed content beats the summary, and no feed text at all gives status empty."""
    assert extract_from_feed_only("https://ex.org/a", feed_content="<p>a</p><p>b</p>").text == "a\nb"
    empty = extract_from_feed_only("https://www.ex.org/a", feed_title="T")
    assert (empty.status, empty.text, empty.title, empty.sitename) == ("empty", "", "T", "ex.org")


def test_script_injected_huge_body_is_capped() -> None:
    """A page bloated past the cap by an inline script loses the script, keeps the article, and says so."""
    bloat = "<script>var state = '" + "x" * (MAX_HTML_CHARS + 1_000_000) + "';</script>"
    html = _html(f"{bloat}<article><h1>AI Act deal reached</h1><p>{ARTICLE}</p></article>")
    result = extract_article(html, "https://ex.org/a")
    assert result.truncated
    assert result.text_source_chars <= MAX_HTML_CHARS
    assert "Sentence 39 of the regulator" in result.text


def test_huge_visible_body_is_cut_at_the_cap() -> None:
    """Visible markup beyond the cap is cut to exactly MAX_HTML_CHARS, keeping the page's head."""
    html = _html("<p>filler text</p>" * (MAX_HTML_CHARS // 10))
    capped, truncated = cap_html(html.encode())
    assert truncated and len(capped) == MAX_HTML_CHARS and capped.startswith("<!DOCTYPE html>")


def test_unclosed_script_drops_rest_of_oversized_page() -> None:
    """An unclosed <script> in an oversized page drops everything after it instead of scanning forever."""
    capped, truncated = cap_html("<p>keep</p><script>" + "y" * (MAX_HTML_CHARS + 10))
    assert (capped, truncated) == ("<p>keep</p>", True)


def test_feed_date_normalised_to_utc() -> None:
    """Aware feed dates are converted to UTC and naive ones are taken as UTC."""
    cest = datetime(2025, 5, 30, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    result = extract_from_feed_only("https://ex.org/a", feed_published=cest, now=NOW)
    assert result.published == datetime(2025, 5, 30, 12, 0, tzinfo=UTC)
    naive = extract_from_feed_only("https://ex.org/a", feed_published=datetime(2025, 5, 30, 12), now=NOW)
    assert naive.published == datetime(2025, 5, 30, 12, 0, tzinfo=UTC)


def _dated_page(iso: str) -> str:
    head = f'<title>Audit rules</title><meta property="article:published_time" content="{iso}">'
    return _html(f"<article><p>{ARTICLE}</p></article>", head)


def test_page_date_reconciliation() -> None:
    """The page date is used alone, refined by a same-day feed timestamp, and overruled by the feed when far older."""
    url = "https://ex.org/a"
    alone = extract_article(_dated_page("2025-05-20T09:00:00+00:00"), url, now=NOW)
    assert alone.published == datetime(2025, 5, 20, tzinfo=UTC)
    feed_time = datetime(2025, 5, 20, 9, 30, tzinfo=UTC)
    same_day = extract_article(_dated_page("2025-05-20T09:00:00+00:00"), url, feed_published=feed_time, now=NOW)
    assert same_day.published == feed_time
    stale = extract_article(_dated_page("2019-01-03T09:00:00+00:00"), url, feed_published=feed_time, now=NOW)
    assert stale.published == feed_time


def test_future_feed_date_is_discarded() -> None:
    """A feed date far in the future is treated as wrong rather than stored."""
    result = extract_from_feed_only("https://ex.org/a", feed_published=NOW + timedelta(days=30), now=NOW)
    assert result.published is None


def test_interstitial_page_falls_back_to_feed() -> None:
    """A bot-wall page's text is never taken as the story: the feed's text and title are used instead."""
    wall = _html(f"<p>{ARTICLE}</p>", "<title>Just a moment...</title>")
    result = extract_article(wall, "https://ex.org/a", feed_title="Audit rules", feed_summary="The summary.")
    assert (result.status, result.text, result.title) == ("feed_summary", "The summary.", "Audit rules")


def test_generic_site_title_yields_feed_title() -> None:
    """A page titled only with its site name gets the feed item's title."""
    head = '<title>Example News</title><meta property="og:site_name" content="Example News">'
    page = _html(f"<article><p>{ARTICLE}</p></article>", head)
    result = extract_article(page, "https://ex.org/a", feed_title="EU agrees <b>AI</b> audit rules")
    assert result.title == "EU agrees AI audit rules"
    assert result.sitename == "Example News"


def test_fuller_feed_content_beats_page_teaser() -> None:
    """When the page gives a teaser and the feed carries the full text, the feed text wins."""
    teaser = _html("<article><p>" + "Subscribers can read the rest of this report on audits. " * 6 + "</p></article>")
    result = extract_article(teaser, "https://ex.org/a", feed_content=f"<div><p>{ARTICLE}</p><p>{ARTICLE}</p></div>")
    assert result.status == "feed_content"
    assert result.text.count("Sentence 0 of") == 2


def test_feed_html_to_text() -> None:
    """Feed HTML becomes plain text: scripts removed, entities decoded, one paragraph per line."""
    html = "<p>First &amp; foremost</p><script>alert(1)</script><p>Second <a href='#'>link</a></p>"
    assert extract.feed_to_text(html) == "First & foremost\nSecond link"
    assert extract.feed_to_text("5 &lt; 6 plain") == "5 < 6 plain"


def test_feed_author_email_is_reduced_to_name() -> None:
    """Feed authors in "email (Name)" form keep only the name; bare addresses are dropped."""
    named = extract_from_feed_only("https://ex.org/a", feed_author="desk@ex.org (Jane Doe)")
    assert named.author == "Jane Doe"
    assert extract_from_feed_only("https://ex.org/a", feed_author="desk@ex.org").author is None


def test_trafilatura_config_disables_network_fallbacks() -> None:
    """Our trafilatura config refuses insecure-SSL retries and signal-based timeouts."""
    config = extract.TRAFILATURA_CONFIG
    assert config.getboolean("DEFAULT", "INSECURE_SSL_FALLBACK") is False
    assert config.getint("DEFAULT", "EXTRACTION_TIMEOUT") == 0
    assert trafilatura.settings.DEFAULT_CONFIG is not config


def test_no_network_call_is_attempted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Extracting real pages, fallbacks included, never opens a socket or calls trafilatura's fetcher."""
    attempts: list[str] = []

    def refuse(name: str):  # noqa: ANN202 -- test double
        def _refuse(*args: object, **kwargs: object) -> None:
            attempts.append(name)
            raise OSError(f"network disabled in tests: {name}")

        return _refuse

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(urllib3.PoolManager, "urlopen", refuse("urllib3.urlopen"))
    monkeypatch.setattr(trafilatura.downloads, "fetch_url", refuse("downloads.fetch_url"))
    monkeypatch.setattr(trafilatura, "fetch_url", refuse("trafilatura.fetch_url"))
    for fixture in sorted(GOLD):
        assert extract_article(_page(fixture), GOLD[fixture]["url"]).status == "extracted"
    # a near-empty page drives the recall and baseline fallbacks too
    extract_article(_html("<p>Too short.</p>"), "https://ex.org/a", feed_summary="s")
    assert attempts == []


def test_short_main_pass_is_replaced_by_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """When trafilatura's main pass returns only a caption, the clearly longer recall/baseline text is used."""
    real = trafilatura.bare_extraction

    def caption_only(*args: object, **kwargs: object):  # noqa: ANN202 -- wraps the real function
        document = real(*args, **kwargs)
        document.text = "Photo: a caption only."
        return document

    monkeypatch.setattr(extract.trafilatura, "bare_extraction", caption_only)
    fixture = "c00962aabe7b"
    result = extract_article(_page(fixture), GOLD[fixture]["url"])
    assert result.status == "extracted_fallback"
    assert GOLD[fixture]["gold_opening"] in " ".join(result.text.split())


@pytest.mark.parametrize("fixture", sorted(GOLD))
def test_page_metadata_matches_trafilatura_full_pass(fixture: str) -> None:
    """Our cut-down metadata pass gives the same title, author, site and date as trafilatura's full one."""
    tree = extract._parse(_page(fixture).decode("utf8"))
    full = trafilatura.extract_metadata(copy.deepcopy(tree), GOLD[fixture]["url"])
    ours = reconcile.page_metadata(tree, GOLD[fixture]["url"], find_author=True, extensive_date=True)
    assert (ours.title, ours.author, ours.sitename) == (full.title, full.author, full.sitename)
    assert (ours.date.date().isoformat() if ours.date else None) == full.date


@pytest.mark.parametrize(
    "html",
    [
        *(_page(fixture).decode("utf8") for fixture in sorted(GOLD)),
        '<?xml version="1.0" encoding="utf-8"?><html><body><p>Declared XML</p></body></html>',
        "<!DOCTYPE html>\n<html/>\n<body><p>Self-closed html tag</p></body>",
        "<p>A lone fragment</p>",
        "plain text, no markup",
    ],
)
def test_parse_builds_the_tree_trafilatura_would(html: str) -> None:
    """Our parser (C-level class lookup) yields the same tree as trafilatura's load_html, or None likewise."""
    theirs = trafilatura.utils.load_html(html)
    ours = extract._parse(html)
    if theirs is None or len(theirs) == 0:
        assert ours is None
    else:
        assert ours is not None and etree.tostring(ours) == etree.tostring(theirs)


def test_feed_author_and_date_spare_the_page_searches(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a feed author and a plausible feed date, the page byline is not searched and htmldate stays shallow."""
    calls: list[str] = []
    real_find_date = reconcile.find_date

    def no_byline(*args: object, **kwargs: object) -> None:
        calls.append("byline")

    def spy_find_date(*args: object, **kwargs: object) -> str | None:
        calls.append(f"date extensive={kwargs['extensive_search']}")
        return real_find_date(*args, **kwargs)

    monkeypatch.setattr(reconcile, "extract_author", no_byline)
    monkeypatch.setattr(reconcile, "find_date", spy_find_date)
    feed_time = datetime(2025, 5, 20, 9, 30, tzinfo=UTC)
    result = extract_article(
        _dated_page("2025-05-20T09:00:00+00:00"), "https://ex.org/a", feed_author="Jane Doe",
        feed_published=feed_time, now=NOW,
    )
    assert calls == ["date extensive=False"]
    assert (result.author, result.published) == ("Jane Doe", feed_time)
    calls.clear()
    extract_article(_dated_page("2025-05-20T09:00:00+00:00"), "https://ex.org/a", now=NOW)
    assert calls == ["byline", "date extensive=True"]


def test_interstitial_page_is_not_text_extracted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bot-wall page is recognised by its title before any text extraction is spent on it."""
    calls: list[object] = []
    monkeypatch.setattr(extract.trafilatura, "bare_extraction", lambda *args, **kwargs: calls.append(args))
    wall = _html(f"<p>{ARTICLE}</p>", "<title>Attention Required! | Cloudflare</title>")
    assert extract_article(wall, "https://ex.org/a", feed_summary="The summary.").status == "feed_summary"
    assert calls == []


def test_too_short_page_keeps_its_metadata() -> None:
    """A page with too little text to extract still gives its title and date (the feed gives the text)."""
    head = '<title>Audit rules</title><meta property="article:published_time" content="2025-05-20T09:00:00+00:00">'
    result = extract_article(_html("<p>Too short.</p>", head), "https://ex.org/a", feed_summary="The summary.", now=NOW)
    assert (result.title, result.published, result.status) == ("Audit rules", datetime(2025, 5, 20, tzinfo=UTC),
                                                                "feed_summary")


def test_enrichment_dates_are_judged_against_first_sight_not_the_clock() -> None:
    """A page date that was in the future when the story was first seen stays refused on any later replay, so the
    same raw message always yields the same publication date (and Kibana time)."""
    from govwatch.enrich.pipeline import Knowledge, enrich
    from govwatch.models import RawStory, Trace

    first_seen = datetime(2020, 1, 31, 23, 0, tzinfo=UTC)  # long past: the wall clock is years later
    raw = RawStory(story_id="a" * 64, url="https://ex.org/a", feed_id="f", feed_url="https://ex.org/feed",
                   source="Ex", trace=Trace(first_seen_at=first_seen))
    page = _dated_page("2020-03-02T09:00:00+00:00").encode()  # a month after first sight: a wrong page date
    knowledge = Knowledge.load(0.45)
    assert enrich(raw, page, None, knowledge).published_at is None
    plausible = _dated_page("2020-01-30T09:00:00+00:00").encode()
    assert enrich(raw, plausible, None, knowledge).published_at == datetime(2020, 1, 30, tzinfo=UTC)
