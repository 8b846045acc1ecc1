"""Alert snippets made locally from the story text and the query's terms (no search per match).

Whether a story matches is Elasticsearch's decision (``matcher``); the snippet is cosmetic, so it is
made here, after the fact, in the shape Elasticsearch's unified highlighter gives with
``match_bodies.HIGHLIGHT``: one fragment of about ``SNIPPET_CHARS`` characters, matching tokens wrapped in
``<em>…</em>`` one by one (a phrase's words each get their own tags, and only where the whole phrase
occurs), fields tried in the order text, summary, title. A fragment is the sentence run around the best
passage (most distinct terms, then most hits, then earliest); a sentence longer than the fragment is cut
at word boundaries (back from the hit first, then forward with the rest). A text without any hit gives
its first ``SNIPPET_CHARS`` characters (to the end of the word there), a summary likewise, a title nothing.

Terms are taken from the positive part of the query: bare words (a ``field:`` prefix is dropped, as
``require_field_match: false`` highlights a term in every field), phrases, and trailing-``*`` prefixes;
prohibited clauses (``-``, ``!``, ``NOT``) and ranges/regexes give no terms.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from govwatch.alerts.prefilter import _tokens

SNIPPET_CHARS = 160
FIELDS = ("text", "summary", "title")
NO_MATCH_FIELDS = ("text", "summary")  # the title has no_match_size 0
# Ideographs, kana and hangul are one token per character, as the standard tokenizer makes them.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’][^\W_{_CJK}]+)*")
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s+")
_BOOST = re.compile(r"[~^][0-9.]*$")


@dataclass(frozen=True)
class Terms:
    """What to highlight: single tokens, token prefixes and phrases (token sequences), all lower-case."""

    words: frozenset[str]
    prefixes: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]


def _analyze(text: str) -> list[str]:
    return [m.group(0).lower() for m in _TOKEN.finditer(text)]


@lru_cache(maxsize=200_000)
def query_terms(query: str) -> Terms:
    """The positive terms of a Lucene query string (best effort: only used for highlighting)."""
    toks = _tokens(query) or []
    words: set[str] = set()
    prefixes: list[str] = []
    phrases: list[tuple[str, ...]] = []
    skip_depth = -1  # depth of a prohibited group being skipped
    depth = 0
    negate = False
    for kind, value in toks:
        if kind == "op":
            if value == "(":
                if negate and skip_depth < 0:
                    skip_depth = depth
                negate = False
                depth += 1
            elif value == ")":
                depth -= 1
                if skip_depth == depth:
                    skip_depth = -1
            elif value in ("-", "!", "NOT"):
                negate = True
            continue
        if negate or skip_depth >= 0:
            negate = False
            continue
        if kind == "phrase":
            body = _analyze(value[1:value.rindex('"')])
            if len(body) == 1:
                words.add(body[0])
            elif body:
                phrases.append(tuple(body))
            continue
        term = _BOOST.sub("", value)
        if ":" in term and not term.startswith("\\"):
            term = term.split(":", 1)[1]
        if not term or term[0] in "[{/" or term == "*":
            continue
        if term.endswith("*") and not any(c in term[:-1] for c in "*?"):
            prefixes.extend(_analyze(term[:-1])[-1:])
            continue
        if any(c in term for c in "*?"):
            continue
        # A bare term the analyser splits (GPT-4, CJK) is an OR of its tokens (default_operator OR).
        words.update(_analyze(term.replace("\\", "")))
    return Terms(frozenset(words), tuple(prefixes), tuple(phrases))


class FieldText:
    """One field's text analysed once (token spans, sentence starts), for the snippets of all its matches."""

    __slots__ = ("spans", "starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN.finditer(text)]
        self.starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text)]


def _hits(field: FieldText, terms: Terms) -> list[tuple[int, int, str]]:
    """(start, end, term) of every token of the field the terms highlight, in order."""
    spans = field.spans
    marked: dict[int, str] = {}
    words, prefixes = terms.words, terms.prefixes
    for n, (_, _, tok) in enumerate(spans):
        if tok in words or (prefixes and tok.startswith(prefixes)):
            marked[n] = tok
    for phrase in terms.phrases:
        size = len(phrase)
        for n in range(len(spans) - size + 1):
            if spans[n][2] == phrase[0] and tuple(s[2] for s in spans[n:n + size]) == phrase:
                for k in range(n, n + size):
                    marked[k] = " ".join(phrase)
    return [(spans[n][0], spans[n][1], marked[n]) for n in sorted(marked)]


def _word_before(text: str, offset: int) -> int:
    """The last word boundary before ``offset`` (a word start inside a word, else the end of the one before)."""
    pos = max(0, offset - 1)
    if pos and text[pos].isalnum() and text[pos - 1].isalnum():
        while pos and text[pos - 1].isalnum():
            pos -= 1
    return pos


def _word_after(text: str, offset: int) -> int:
    """The first word boundary after ``offset``: the end of the word at ``offset``, if one is there."""
    pos = min(len(text), offset)
    while pos < len(text) and text[pos].isalnum():
        pos += 1
    return pos


def _passage(field: FieldText, hit_start: int, hit_end: int, size: int) -> tuple[int, int]:
    """The fragment around one hit, as Elasticsearch's bounded sentence scanner makes it.

    Whole sentences from the hit's one while they fit in ``size``; when the hit's sentence alone is
    longer, a window of words: back from the hit by at most ``size`` (not before the sentence), then
    forward with what is left of ``size``.
    """
    text, starts = field.text, field.starts
    at = bisect_right(starts, hit_start) - 1
    start = starts[at]
    sentence_end = starts[at + 1] if at + 1 < len(starts) else len(text)
    if sentence_end - start > size:
        if hit_start - size > start:
            start = _word_before(text, hit_start - size)
        return start, max(hit_end, _word_after(text, hit_start + max(0, size - (hit_start - start))))
    end = sentence_end
    for e in [*starts[at + 2:], len(text)]:
        if e - start > size:
            break
        end = e
    return start, end


def _mark(text: str, start: int, end: int, hits: list[tuple[int, int, str]]) -> str:
    out, pos = [], start
    for s, e, _ in hits:
        if s >= start and e <= end:
            out += [text[pos:s], "<em>", text[s:e], "</em>"]
            pos = e
    out.append(text[pos:end])
    return "".join(out).strip()


def _no_match(text: str, size: int) -> str:
    return text[:_word_after(text, size)].strip()


def field_snippet(text: str | FieldText, terms: Terms, size: int = SNIPPET_CHARS) -> str:
    """The best highlighted fragment of one field's text, or "" when no term occurs in it."""
    field = text if isinstance(text, FieldText) else FieldText(text)
    hits = _hits(field, terms)
    if not hits:
        return ""

    def scored(s: int, e: int) -> tuple[tuple[int, int, int], tuple[int, int]]:
        start, end = _passage(field, s, e, size)
        inside = [h for h in hits if h[0] >= start and h[1] <= end]
        return (len({h[2] for h in inside}), len(inside), -start), (start, end)

    # The first best-scored passage (max keeps the first of equals).
    _, (start, end) = max((scored(s, e) for s, e, _ in hits), key=lambda candidate: candidate[0])
    return _mark(field.text, start, end, hits)


class StoryText:
    """A story's snippet fields, each analysed on first use and then shared by all its matches."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self._fields: dict[str, FieldText] = {}

    def field(self, name: str) -> FieldText | None:
        value = self.doc.get(name)
        if not isinstance(value, str) or not value:
            return None
        if name not in self._fields:
            self._fields[name] = FieldText(value)
        return self._fields[name]


def snippet(doc: Mapping[str, Any] | StoryText, query: str, size: int = SNIPPET_CHARS) -> str:
    """The alert snippet of a matched story for a subscription's query (see the module docstring)."""
    story = doc if isinstance(doc, StoryText) else StoryText(doc)
    terms = query_terms(query)
    for name in FIELDS:
        field = story.field(name)
        if field is not None:
            found = field_snippet(field, terms, size)
            if found:
                return found
            if name in NO_MATCH_FIELDS:
                return _no_match(field.text, size)
    return ""
