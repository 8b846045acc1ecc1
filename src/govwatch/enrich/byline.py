"""The page byline, as trafilatura's ``extract_author`` finds it, without copying and pruning the whole page.

``trafilatura.metadata.extract_author`` deep-copies the tree, deletes every element its AUTHOR_DISCARD_XPATHS
match (comments, sidebars, dates, quotes, figures, ...) and only then runs AUTHOR_XPATHS. Those discard XPaths
call back into Python (EXSLT ``re:test``) for every element: with the copy, ~6 ms of CPU per page, more than
the rest of the page metadata together. Here AUTHOR_XPATHS run on the page as it is (their predicates test
element names and attributes only, so pruning can only remove matches, never add one); a candidate inside a
discarded element is skipped, and a candidate holding discarded elements has its text taken from a copy of
that candidate alone with them deleted exactly as trafilatura deletes them (tails joined to the previous
sibling or the parent). Same answer, a few candidates checked instead of the whole page.

The discard rules below are trafilatura's, written out in Python; when the installed trafilatura's XPaths are
not the ones they were written from, :func:`extract_author` is trafilatura's own (tests/unit/test_byline.py
compares both on real pages).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from copy import deepcopy

from lxml.html import HtmlElement
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import extract_author as trafilatura_extract_author
from trafilatura.utils import trim
from trafilatura.xml import delete_element
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

__all__ = ["extract_author"]

AUTHOR_MAX_CHARS = 120  # trafilatura's len_limit for the author search

# sha256 of trafilatura 2.3's AUTHOR_XPATHS + AUTHOR_DISCARD_XPATHS sources, which the rules below reproduce.
_RULES_SOURCE_SHA256 = "25bd9dc701d833cf3cf1eccf12c4f97299053490f81b81f498fa621ab0b3719a"

# AUTHOR_XPATHS, best first: (element names or None for any, exact attribute values, attribute substrings,
# attribute regexes). trafilatura's regexes run through EXSLT re:test, i.e. Python's re.search.
_SPECIFIC_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_SPECIFIC_EXACT = (("rel", "author"), ("id", "author"), ("class", "author"), ("itemprop", "author name"),
                   ("data-testid", "AuthorCard"), ("data-testid", "AuthorURL"))
_SPECIFIC_CLASS_RE = re.compile(r"author-?name|AuthorName|authorName")
_GENERIC_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_GENERIC_CLASSES = frozenset({"byline", "username", "byl", "BBL"})
_GENERIC_ID_RE = re.compile(r"author|zuozhe|bianji|xiaobian")
_GENERIC_CLASS_RE = re.compile(r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_ANY_ID_RE = re.compile(r"[Aa]uthor")
_ANY_CLASS_RE = re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")

_SECTION_TAGS = frozenset({"a", "div", "section", "span"})
_FIGURE_TAGS = frozenset({"time", "figure"})
_ID_RE = re.compile(r"^comments|comment-?list|ProductReviews")
_CLASS_RE = re.compile(r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
                       r"article-(?:share|support)|print|category|meta-date|meta-reviewer")
_EXACT = frozenset({"comments", "title", "date"})


def _discarded_section(el: HtmlElement) -> bool:
    """The first discard XPath (comment/sidebar/date/... sections), for one element."""
    if el.tag not in _SECTION_TAGS:
        return False
    ident, cls = el.get("id") or "", el.get("class") or ""
    return (ident == "comments" or cls in _EXACT or _ID_RE.search(ident) is not None
            or _CLASS_RE.search(cls) is not None or "Figure" in (el.get("data-component") or ""))


def _discarded(el: HtmlElement) -> bool:
    return el.tag in _FIGURE_TAGS or _discarded_section(el)


def _gone(el: HtmlElement, root: HtmlElement) -> bool:
    """Deleted from the pruned page: ``//time|//figure`` anywhere, the sections below the root only (``.//*``)."""
    return el.tag in _FIGURE_TAGS or (el is not root and _discarded_section(el))


def _elements(root: HtmlElement) -> Iterator[HtmlElement]:
    return (el for el in root.iter() if isinstance(el.tag, str))


def _pruned_text(candidate: HtmlElement) -> str:
    """``" ".join(itertext())`` of the candidate in the pruned page (only its own subtree matters)."""
    inner = [el for el in candidate.iterdescendants() if isinstance(el.tag, str)]
    if not any(_discarded(el) for el in inner):
        return " ".join(candidate.itertext())
    copy = deepcopy(candidate)
    twins = dict(zip(inner, (el for el in copy.iterdescendants() if isinstance(el.tag, str)), strict=True))
    # trafilatura deletes the first XPath's matches in document order, then the second's that are still there
    # (deleting one inside an already deleted subtree changes nothing in the page, here as there).
    for el in inner:
        if _discarded_section(el):
            delete_element(twins[el])
    for el in inner:
        if el.tag in _FIGURE_TAGS:
            delete_element(twins[el])
    return " ".join(copy.itertext())


def _rank(el: HtmlElement) -> int | None:
    """Which AUTHOR_XPATHS expression (0 specific, 1 generic, 2 last resort) finds the element first, if any."""
    tag, get = el.tag, el.get
    cls = get("class") or ""
    if tag == "author" or (tag in _SPECIFIC_TAGS and (
            any(get(name) == value for name, value in _SPECIFIC_EXACT) or _SPECIFIC_CLASS_RE.search(cls)
            or any(child.tag == "rel" and child.text_content() == "me" for child in el))):  # XPath rel='me'
        return 0
    ident, itemprop = get("id") or "", get("itemprop") or ""
    if tag in _GENERIC_TAGS and (cls in _GENERIC_CLASSES or "author" in itemprop or _GENERIC_ID_RE.search(ident)
                                 or _GENERIC_CLASS_RE.search(cls)):
        return 1
    if ("Byline" in (get("data-component") or "") or "author" in itemprop or _ANY_ID_RE.search(ident)
            or _ANY_CLASS_RE.search(cls)):
        return 2
    return None


def _fast_extract_author(tree: HtmlElement) -> str | None:
    if tree.getroottree().getroot() is not tree:
        # trafilatura searches a copy of this element alone, while "//" here would reach the whole document.
        return trafilatura_extract_author(tree)
    # One walk instead of three XPath scans with a Python callback per element; document order within each.
    ranked: tuple[list[HtmlElement], ...] = ([], [], [])
    for el in _elements(tree):
        rank = _rank(el)
        if rank is not None:
            ranked[rank].append(el)
    # An element the specific expression finds is also in the later ones' results; trafilatura would look at it
    # again there, with the same outcome, so each element is judged once, at its best rank.
    for elem in (el for group in ranked for el in group):
        if _gone(elem, tree) or any(_gone(el, tree) for el in elem.iterancestors()):
            continue
        content = trim(_pruned_text(elem))
        if content and 2 < len(content) < AUTHOR_MAX_CHARS:
            return normalize_authors(None, content)
    return None


_RULES_MATCH = hashlib.sha256("\x00".join(x.path for x in (*AUTHOR_XPATHS, *AUTHOR_DISCARD_XPATHS)).encode()
                              ).hexdigest() == _RULES_SOURCE_SHA256

extract_author = _fast_extract_author if _RULES_MATCH else trafilatura_extract_author
