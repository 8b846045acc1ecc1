"""Article text and metadata from a fetched page, reconciled with what the feed said.

Pure logic: the caller fetches the page (with its own SSRF and size rules) and passes the
HTML here. trafilatura only ever sees a string or an lxml tree, never a URL, and runs with
a private config whose network fallbacks are off, in case anything inside it reaches for them.
The page is parsed once; page metadata and its reconciliation with the feed live in reconcile.py.

Status of the returned text, best first:
  extracted           trafilatura's main pass on the page
  extracted_fallback  the page was parsed but the main pass gave (almost) nothing; a recall
                      pass or trafilatura's baseline() gave clearly more
  feed_content        the feed's full content (content:encoded) beat what the page gave
  feed_summary        the feed's summary, when nothing better exists
  empty               nothing usable anywhere
"""

from __future__ import annotations

import re
from configparser import ConfigParser
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from typing import Any

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction
from trafilatura.settings import use_config
from trafilatura.utils import decode_file, repair_faulty_html

from govwatch.enrich.cpusplit import CpuSplit
from govwatch.enrich.reconcile import (
    PageMetadata,
    clean_author,
    declared_language,
    hostname,
    is_plausible,
    page_metadata,
    pick_title,
    reconcile_date,
    to_utc,
)

__all__ = ["MAX_HTML_CHARS", "Extraction", "cap_html", "extract_article", "extract_from_feed_only", "feed_to_text"]

# Real article pages are well under 1 MB of markup (the Zyte set's largest is ~1.2 MB);
# 5 MB leaves room for heavy pages while bounding lxml's memory and time per page.
MAX_HTML_CHARS = 5_000_000
# Bytes beyond this are never even decoded: a page this big is hostile or broken.
MAX_SCAN_CHARS = 4 * MAX_HTML_CHARS
# trafilatura's own MIN_EXTRACTED_SIZE: below it an extraction is a teaser, not an article.
MIN_ARTICLE_CHARS = 250
# A fallback must beat the main pass by trafilatura's own escalation ratio to replace it.
FALLBACK_GAIN = 1.5
# Feed full text replaces page text that is less than half as long (paywall teasers).
FEED_CONTENT_GAIN = 2.0

# Interstitials (bot walls, consent, errors) whose "text" must never be taken as the story.
_BLOCKED_TITLE = re.compile(
    r"^(just a moment|attention required|access denied|are you a robot|robot check|"
    r"page not found|404\b|403\b|not found|forbidden|subscribe to (read|continue)|"
    r"sign in|log in|before you continue|error\b)",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[a-zA-Z/!]")
_SCRIPT_BLOCK = re.compile(r"<(script|style|noscript|template)\b", re.IGNORECASE)
_CLOSERS = {tag: re.compile(f"</{tag}", re.IGNORECASE) for tag in ("script", "style", "noscript", "template")}


def _build_config() -> ConfigParser:
    # use_config() with no argument returns a fresh parser, so the module-wide default stays intact.
    config = use_config()
    config.set("DEFAULT", "INSECURE_SSL_FALLBACK", "off")  # never retry without cert checks
    config.set("DEFAULT", "SSRF_PROTECTION", "on")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # signal-based: breaks off the main thread
    config.set("DEFAULT", "MAX_FILE_SIZE", str(MAX_SCAN_CHARS))  # bounds gzip inflation of bytes
    return config


TRAFILATURA_CONFIG = _build_config()


@dataclass(frozen=True)
class Extraction:
    text: str
    title: str | None
    author: str | None
    sitename: str | None
    published: datetime | None  # UTC aware
    language: str | None  # primary subtag the page declares (html lang / og:locale)
    status: str
    text_source_chars: int  # characters of HTML handed to the parser (0 when none)
    truncated: bool = False  # the HTML was cut to MAX_HTML_CHARS before parsing


def extract_from_feed_only(
    url: str,
    *,
    feed_title: str | None = None,
    feed_summary: str | None = None,
    feed_content: str | None = None,
    feed_published: datetime | None = None,
    feed_author: str | None = None,
    now: datetime | None = None,
) -> Extraction:
    """Build the record from feed fields alone, for when the page could not be fetched."""
    text, status = _feed_text(feed_content, feed_summary)
    return Extraction(
        text=text,
        title=feed_to_text(feed_title) or None,
        author=clean_author(feed_author),
        sitename=hostname(url),
        published=reconcile_date(None, to_utc(feed_published), now or datetime.now(UTC)),
        language=None,
        status=status,
        text_source_chars=0,
    )


def extract_article(
    html: str | bytes,
    url: str,
    *,
    feed_title: str | None = None,
    feed_summary: str | None = None,
    feed_content: str | None = None,
    feed_published: datetime | None = None,
    feed_author: str | None = None,
    now: datetime | None = None,
    cpu: CpuSplit | None = None,
) -> Extraction:
    """Extract the article body and metadata of a fetched page; never raises on bad HTML.

    `now` is injectable so date plausibility checks are testable; it defaults to the clock.
    `cpu`, when given, is booked the time of decode, parse, metadata and extraction.
    """
    cpu = cpu or CpuSplit()
    now = now or datetime.now(UTC)
    source, truncated = cap_html(html)
    cpu.lap("decode")
    tree = _parse(source)
    cpu.lap("parse")
    author, feed_date = clean_author(feed_author), to_utc(feed_published)
    meta = PageMetadata()
    if tree is not None:
        # The feed's author always wins, so the page byline is only searched without one; a usable
        # feed date leaves the page date as a cross-check, for which meta tags and JSON-LD suffice.
        try:
            feed_dated = is_plausible(feed_date, now)
            meta = page_metadata(tree, url, find_author=author is None, extensive_date=not feed_dated)
        except Exception:  # noqa: BLE001 -- a metadata bug on one hostile page must not cost the text
            meta = PageMetadata()
    language = declared_language(tree) if tree is not None else None
    cpu.lap("metadata")
    blocked = bool(meta.title and _BLOCKED_TITLE.match(meta.title))
    # An interstitial's text is never used, so it is not even extracted.
    text, status = ("", "empty") if blocked or tree is None else _page_text(tree, url)
    cpu.lap("extraction")

    # Feed text only displaces page text that is a teaser or much shorter than the feed's full content.
    feed_text, feed_status = _feed_text(feed_content, feed_summary)
    fuller_feed = feed_status == "feed_content" and len(feed_text) >= FEED_CONTENT_GAIN * len(text)
    if (len(text) < MIN_ARTICLE_CHARS or fuller_feed) and len(feed_text) > len(text):
        text, status = feed_text, feed_status

    sitename = meta.sitename or hostname(url)
    extraction = Extraction(
        text=text,
        title=pick_title(meta.title, feed_to_text(feed_title) or None, sitename, blocked),
        author=author or meta.author,
        sitename=sitename,
        published=reconcile_date(meta.date, feed_date, now),
        language=language,
        status=status if text else "empty",
        text_source_chars=len(source),
        truncated=truncated,
    )
    cpu.lap("metadata")  # the feed's side of the reconciliation
    return extraction


def cap_html(html: str | bytes) -> tuple[str, bool]:
    """Decode and bound the HTML to MAX_HTML_CHARS; returns (html, truncated).

    Oversized pages are usually bloated by inline scripts (hydration JSON, ads), so those
    blocks go first; only if the page is still too big is it cut, keeping the head, where
    the article starts (lxml closes the dangling tags). Text past the cut is lost.
    """
    if isinstance(html, bytes):
        html = _decode(html[:MAX_SCAN_CHARS])
    html = html[:MAX_SCAN_CHARS]
    if len(html) <= MAX_HTML_CHARS:
        return html, False
    html = _drop_script_blocks(html)
    return html[:MAX_HTML_CHARS], True


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start >= len(raw) - 3:  # only a code point split by our own byte cap
            return raw[: err.start].decode("utf-8")
    # charset sniffing (and bounded gzip inflation) as trafilatura does it
    return decode_file(raw, MAX_SCAN_CHARS)


def _drop_script_blocks(html: str) -> str:
    # One forward scan: a single regex with .*? goes quadratic on many unclosed <script> tags.
    # (Searching a lower()ed copy is unsafe: lowering can change the string's length.)
    out: list[str] = []
    pos = 0
    for match in _SCRIPT_BLOCK.finditer(html):
        if match.start() < pos:
            continue
        closing = _CLOSERS[match.group(1).lower()].search(html, match.end())
        out.append(html[pos : match.start()])
        if closing is None:
            return "".join(out)
        pos = closing.start()
    out.append(html[pos:])
    return "".join(out)


def _html_parser() -> lxml_html.HTMLParser:
    # trafilatura's parser settings (trafilatura.utils.HTML_PARSER), but with lxml's C-level class
    # lookup instead of lxml.html's, which calls back into Python for every element proxy created
    # (only to make <form>/<input> FormElement/InputElement): ~10% of trafilatura's CPU on news
    # pages. Nothing downstream uses form methods; every element is still an HtmlElement.
    parser = lxml_html.HTMLParser(
        collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
    )
    lookup = etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
    parser.set_element_class_lookup(lookup)
    return parser


# Shared like trafilatura's own module-level parser: lxml serialises concurrent use of one parser.
_HTML_PARSER = _html_parser()


def _parse(source: str) -> HtmlElement | None:
    """trafilatura's load_html for a decoded page, step for step, with the parser above."""
    if not source.strip():  # lxml raises on empty documents
        return None
    beginning = source[:50].lower()
    source = repair_faulty_html(source, beginning)
    reparsed = False
    tree: HtmlElement | None
    try:
        tree = lxml_html.fromstring(source, parser=_HTML_PARSER)
    except ValueError:  # a str carrying an XML encoding declaration: libxml2 wants bytes
        tree, reparsed = _parse_bytes(source), True
    except Exception:  # noqa: BLE001 -- libxml2 rejects some garbage with odd exception types
        tree = None
    if (tree is None or len(tree) < 1) and not reparsed:
        tree = _parse_bytes(source)
    # Like trafilatura, a document that never says "html" and parses to one block is not a page.
    if tree is None or len(tree) < 1 or ("html" not in beginning and len(tree) < 2):
        return None
    return tree


def _parse_bytes(source: str) -> HtmlElement | None:
    try:
        return lxml_html.fromstring(source.encode("utf8", "surrogatepass"), parser=_HTML_PARSER)
    except Exception:  # noqa: BLE001 -- as above
        return None


def _page_text(tree: HtmlElement, url: str) -> tuple[str, str]:
    """Main pass text, or a clearly longer recall/baseline candidate when it under-delivers."""
    try:
        # Text only: page_metadata has read what we keep, and trafilatura's own metadata pass
        # (categories, tags, licence) would cost more than the rest of the metadata together.
        doc = trafilatura.bare_extraction(tree, url=url, include_comments=False, config=TRAFILATURA_CONFIG)
    except Exception:  # noqa: BLE001 -- a parser bug on one hostile page must not kill the worker
        doc = None
    main = _attr(doc, "text") or ""
    if len(main) >= MIN_ARTICLE_CHARS:
        return main, "extracted"
    candidates = []
    try:
        opts: dict[str, Any] = {"url": url, "include_comments": False, "favor_recall": True,
                                "config": TRAFILATURA_CONFIG}
        candidates += [trafilatura.extract(tree, **opts) or "", trafilatura.baseline(tree)[1]]
    except Exception:  # noqa: BLE001, S110 -- fallbacks are best effort
        pass
    best = max(candidates, key=len, default="").strip()
    # The candidate must be article-sized and clearly longer: a longer dump of navigation is not better.
    if len(best) >= MIN_ARTICLE_CHARS and len(best) >= FALLBACK_GAIN * len(main):
        return best, "extracted_fallback"
    return (main, "extracted") if main else ("", "empty")


def _feed_text(feed_content: str | None, feed_summary: str | None) -> tuple[str, str]:
    content, summary = feed_to_text(feed_content), feed_to_text(feed_summary)
    # Summaries are often the first paragraph of the content: take the fuller one.
    if content and len(content) >= len(summary):
        return content, "feed_content"
    if summary:
        return summary, "feed_summary"
    return "", "empty"


_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section"}


def feed_to_text(value: str | None) -> str:
    """Turn feed HTML (or plain text with entities) into plain text with paragraph breaks."""
    if not value or not value.strip():
        return ""
    if not _TAG.search(value):
        return " ".join(unescape(value).split())
    try:
        root = lxml_html.fragment_fromstring(value, create_parent="div")
    except Exception:  # noqa: BLE001 -- unparsable markup still has readable text
        return " ".join(unescape(re.sub(r"<[^>]*>", " ", value)).split())
    for bad in root.xpath(".//script|.//style|.//iframe"):
        bad.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _attr(doc: object, name: str) -> str | None:
    value = getattr(doc, name, None) if doc is not None else None
    return value.strip() or None if isinstance(value, str) else None
