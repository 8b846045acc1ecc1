"""Unit tests for govwatch.enrich.byline: the same byline as trafilatura's extract_author, on real and tricky pages."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from trafilatura.metadata import extract_author as trafilatura_extract_author

from govwatch.enrich import byline
from govwatch.enrich.extract import _parse, cap_html

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"

# Each one puts a discarded element (date, time, figure, quote, sidebar) around or inside a byline candidate.
TRICKY = {
    "time inside": "<div class='author'>By <time>May 3</time>John Smith</div>",
    "date span and figure inside":
        "<span class='byline'>By <span class='date'>x</span> Jane <figure>f</figure>Doe</span>",
    "candidate in a sidebar":
        "<div class='sidebar'><a rel='author'>Side Bar</a></div><a rel='author'>Real Author</a>",
    "two times, tails joined": "<div class='author'>A<time>1</time>B<time>2</time>C  Dee</div>",
    "nested discards":
        "<p class='author'><span class='quote'>Q</span>Anna Bell<figure><time>t</time></figure>tail Karen</p>",
    "candidate is a time": "<time class='author'>Time Person</time><span class='byline'>Paul Roe</span>",
    "comments section":
        "<div id='comments'><span class='author'>Commenter One</span></div><p class='byline'>Ada Lovelace</p>",
    "nothing": "<p>No byline here at all, just a sentence about the AI Act.</p>",
    "specific too long, generic earlier":
        "<p class='byline'>Early Byline</p><div class='author'>" + "word " * 40 + "</div>",
    "last resort only": "<section data-component='ArticleByline'>Lee Chan</section><p>text</p>",
    "rel child says me": "<span><rel>me</rel>Ida Self</span><span class='writer-box'>Other Writer</span>",
    "author element": "<author>Element Author</author>",
}


def _tree(html: str):  # noqa: ANN202 - an lxml tree
    tree = _parse(cap_html(html)[0])
    assert tree is not None
    return tree


def test_rules_match_installed_trafilatura() -> None:
    """The Python discard rules were written from the installed trafilatura's XPaths, so the fast path is in use."""
    assert byline._RULES_MATCH
    assert byline.extract_author is byline._fast_extract_author


@pytest.mark.parametrize("fixture", sorted(p.name for p in PAGES.glob("*.html.gz")))
def test_real_pages_same_author_as_trafilatura(fixture: str) -> None:
    """On real publisher pages the byline equals what trafilatura's own extract_author returns."""
    tree = _tree(gzip.decompress((PAGES / fixture).read_bytes()).decode("utf-8", "replace"))
    assert byline.extract_author(tree) == trafilatura_extract_author(tree)


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_tricky_pages_same_author_as_trafilatura(case: str) -> None:
    """Discarded elements around and inside candidates give trafilatura's answer (tails joined as it joins them)."""
    tree = _tree(f"<!DOCTYPE html><html><head><title>t</title></head><body>{TRICKY[case]}</body></html>")
    assert byline.extract_author(tree) == trafilatura_extract_author(tree)


def test_tricky_pages_find_the_expected_names() -> None:
    """The comparisons above are not all None: the tricky pages do yield bylines."""
    found = {case: byline.extract_author(_tree(f"<html><body>{html}</body></html>")) for case, html in TRICKY.items()}
    assert found["candidate in a sidebar"] == "Real Author"
    assert found["comments section"] == "Ada Lovelace"
    assert found["nothing"] is None
    assert found["specific too long, generic earlier"] == "Early Byline"
