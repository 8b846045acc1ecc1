"""Page metadata (title, author, site, date, language) and its reconciliation with the feed's.

`page_metadata` is trafilatura's `extract_metadata` cut down to the fields govwatch keeps, in
the same order and with the same helpers, so it gives the same values (a unit test holds it to
that). The full pass also mines categories, tags and licence links, which cost more CPU than the
rest of the metadata put together, and it searches the page for an author or a date even when
the feed has already said: here the caller says what it still needs.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document, set_date_params

from govwatch.enrich.byline import extract_author  # trafilatura's byline search without its whole-page copy

__all__ = [
    "PageMetadata",
    "clean_author",
    "declared_language",
    "hostname",
    "is_plausible",
    "page_metadata",
    "pick_title",
    "reconcile_date",
    "to_utc",
]

# Pages dated before the web existed, or far before the feed says, are mis-detected dates.
EARLIEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)
MAX_PAGE_DATE_LAG = timedelta(days=90)
# Dates this far ahead of now are clock skew at most; beyond it they are wrong.
FUTURE_TOLERANCE = timedelta(days=1)

_GENERIC_TITLES = frozenset({"home", "homepage", "news", "article", "untitled", "index"})
_LANG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)*$")
_EMAIL_NAME = re.compile(r"^\S+@\S+\s*\((.+)\)$")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class PageMetadata:
    title: str | None = None
    author: str | None = None
    sitename: str | None = None
    date: datetime | None = None  # day precision, UTC midnight (htmldate gives a date only)


def page_metadata(tree: HtmlElement, url: str, *, find_author: bool, extensive_date: bool) -> PageMetadata:
    """Read the page's metadata without changing the tree (the text extraction runs on it after).

    `find_author=False` skips the byline search of the body (it copies and prunes the whole tree)
    when only meta tags and JSON-LD would be read; `extensive_date=False` skips htmldate's
    free-text scan, which is only worth it when the feed gave no date.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # as trafilatura: a lone word is a handle, not a name
        meta.author = None
    # trafilatura's JSON-LD walker has bugs on odd schemas; it skips them too
    with contextlib.suppress(Exception):
        meta = extract_meta_json(tree, meta)
    if not meta.title:
        meta.title = extract_title(tree)
    if find_author and not meta.author:
        meta.author = extract_author(tree)
    if not meta.url:
        meta.url = extract_url(tree, url)
    meta.date = find_date(tree, **{**set_date_params(extensive_date), "url": meta.url})
    if not meta.sitename:
        meta.sitename = extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")  # a Twitter handle
        if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif meta.url and (match := META_URL.match(meta.url)):
        meta.sitename = match[1]
    meta.clean_and_trim()  # entities, control characters, whitespace, length
    return PageMetadata(
        title=_text(meta, "title"), author=_text(meta, "author"), sitename=_text(meta, "sitename"),
        date=_page_date(meta.date),
    )


def _text(meta: Document, name: str) -> str | None:
    value = getattr(meta, name, None)
    return value.strip() or None if isinstance(value, str) else None


def hostname(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def _norm(value: str) -> str:
    return re.sub(r"\W+", "", value).lower()


def pick_title(page: str | None, feed: str | None, sitename: str | None, blocked: bool) -> str | None:
    # The page's og/headline title is the publisher's final wording; a site-wide or
    # interstitial title says nothing about the story, so the feed's wins then.
    if page and not blocked:
        generic = _norm(page) in _GENERIC_TITLES or bool(sitename and _norm(page) == _norm(sitename))
        if not generic:
            return page
    return feed or (page if page and not blocked else None)


def clean_author(value: str | None) -> str | None:
    # Feeds often say "editor@site.com (Jane Doe)"; keep the name, drop bare addresses.
    if not value or not value.strip():
        return None
    value = " ".join(value.split())
    if match := _EMAIL_NAME.match(value):
        return match.group(1).strip() or None
    return None if "@" in value and " " not in value else value


def to_utc(value: datetime | None) -> datetime | None:
    # Feed parsers hand back naive datetimes already in UTC (feedparser's *_parsed).
    if value is None or value.tzinfo is None:
        return value.replace(tzinfo=UTC) if value else None
    return value.astimezone(UTC)


def _page_date(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def is_plausible(value: datetime | None, now: datetime) -> bool:
    """A UTC-aware date after the web began and not in the future (beyond clock skew)."""
    return value is not None and EARLIEST_PLAUSIBLE <= value <= (to_utc(now) or now) + FUTURE_TOLERANCE


def reconcile_date(page: datetime | None, feed: datetime | None, now: datetime) -> datetime | None:
    """Page date (htmldate, day precision) vs feed date (timestamp); see module constants."""
    page = page if is_plausible(page, now) else None
    feed = feed if is_plausible(feed, now) else None
    if page is None or feed is None:
        return feed or page
    # Same day (allowing for time zones): the feed's timestamp is the more precise one.
    if abs(feed - page) <= timedelta(days=1) or page < feed - MAX_PAGE_DATE_LAG:
        return feed
    return page


def declared_language(tree: HtmlElement) -> str | None:
    """Primary subtag of <html lang>, xml:lang, og:locale or a Content-Language meta, in that order."""
    candidates = [tree.get("lang"), tree.get(_XML_LANG)]
    # One walk over the <meta> elements (iter() filters by tag in C) instead of two XPath scans.
    locales, content_languages = [], []
    for meta in tree.iter("meta"):
        if meta.get("property") == "og:locale":
            locales.append(meta.get("content"))
        if (meta.get("http-equiv") or "").lower() == "content-language":
            content_languages.append(meta.get("content"))
    for value in candidates + locales + content_languages:
        if value and (match := _LANG.match(value.strip())):
            return match.group(1).lower()
    return None
