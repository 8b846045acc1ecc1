"""A cheap, conservative pre-filter: which subscriptions provably cannot match which stories of a batch.

Elasticsearch stays the judge of every match; this only decides which searches are worth sending.
It may keep a subscription that cannot match (ES then says no), but must never skip one that can.
The argument, piece by piece:

* **Query side.** A Lucene query string is parsed with the classic parser's clause rules (``AND``
  marks both neighbours required, ``+`` required, ``-``/``!``/``NOT`` prohibited, otherwise optional,
  since ``default_operator`` is OR). A boolean with required clauses needs all of them; one without
  needs at least one optional clause. Only two leaf shapes impose a requirement: a bare ASCII word
  ``[A-Za-z0-9]+`` (the standard analyzer keeps it as one token, lower-cased) and a quoted phrase
  (a phrase needs every token; we keep only whitespace/hyphen-separated ASCII words, whose tokens we
  know). Anything else (fields, wildcards, fuzzy, boosts, escapes, ranges, regexes, prohibited
  clauses, non-ASCII words) requires nothing, i.e. "may match". Dropping a conjunct of an AND, or
  widening an OR leaf to "may match", only weakens a necessary condition, so it stays necessary.
  A phrase without slop whose chunks are *all* such words also requires each pair of neighbouring
  words as a **bigram** token ``"w1 w2"`` (a space: never a run): a phrase query matches only where
  its tokens sit at consecutive positions of one field value, so each neighbouring pair is adjacent
  there. (One dropped chunk would hide a token between two kept words: then no bigrams.)
* **Story side.** A story's token set is every maximal ASCII-alphanumeric run of every string in its
  document, lower-cased (plus 255-char pieces of longer runs, the tokenizer's limit). Any standard-
  analyzer token that is a bare ASCII word is such a run (UAX#29 never splits inside ASCII letters and
  digits), and a keyword value equal to a term or phrase consists of such runs: a superset is safe.
  Bigrams: the story side adds ``"a b"`` for every two consecutive runs of one string (a long run
  stands as its 255-char pieces in this sequence, as the tokenizer splits it). If ES tokens ``a``, ``b``
  (bare ASCII words) are at positions p, p+1 of one value, nothing between them is a letter or digit
  (it would be part of a token in between), so their runs are consecutive in our sequence: a superset
  again. Separate values of a field (position gap 100) are separate strings, never joined.
* **Filters** are exact keyword equality (checked exactly) and a float range (checked with slack for
  float32 rounding).

**It never raises.** A query is user input, and one subscription's query must never stop the others'
matching: ``requirement`` answers "may match" (None) for anything it cannot parse, including nesting
deeper than ``MAX_DEPTH`` (checked before parsing, so the recursive parser and every recursive walk of a
requirement stay within a small, fixed depth) and any unexpected exception. "May match" only sends the
subscription to Elasticsearch, which stays the judge: a safe answer.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from govwatch.alerts.subscriptions import Filters

# None = "may match" (no requirement); str = this token is needed; ("all"|"any", [..]) = combination.
# Parts are tuples and tokens interned: the alert process holds one requirement per subscription (100,000 of
# them: lists and per-query copies of the same words cost ~100 MB there, tuples of shared strings ~half).
Requirement = None | str | tuple[str, tuple["Requirement", ...]]

# Parenthesis depth above which the query is not reasoned about (None: "may match"). Save-time limits keep real
# queries far below (settings.alert_query_max_depth, 20); this bounds the recursion of ``_parse`` and of every walk
# of a requirement (``satisfied``, ``stories_satisfying``, ``candidates.key_set``) for a query stored some other way.
MAX_DEPTH = 64
MAX_TOKEN_LEN = 255  # the standard tokenizer's max_token_length: longer runs are split into pieces
RELEVANCE_SLACK = 1e-6  # relevance is a float32 in the index; never skip on a rounding difference
_WORD = re.compile(r"[A-Za-z0-9]+")
_PHRASE_CHUNK = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_RUN = re.compile(r"[a-z0-9]+")
_GIVE_UP = set("[]{}/\\")  # ranges and regexes can hold spaces and operators: do not reason about them
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"[^"]*"(?:[~^][0-9.]*)?)|(?P<op>&&|\|\||[()+\-!])|(?P<word>[^\s()"]+))')


def _tokens(query: str) -> list[tuple[str, str]] | None:
    out: list[tuple[str, str]] = []
    pos = 0
    stripped = query.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None or m.end() == pos:
            return None
        pos = m.end()
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "word" and value in ("AND", "OR", "NOT"):
            kind = "op"
        out.append((kind, value))
    return out


def _leaf(kind: str, value: str) -> Requirement:
    if kind == "word":
        return sys.intern(value.lower()) if _WORD.fullmatch(value) else None
    end = value.rindex('"')
    body, suffix = value[1:end], value[end + 1:]
    chunks = body.split()
    words = [piece.lower() for chunk in chunks if _PHRASE_CHUNK.fullmatch(chunk) for piece in chunk.split("-")]
    if not words:
        return None
    exact = not suffix.startswith("~") and all(_PHRASE_CHUNK.fullmatch(chunk) for chunk in chunks)
    pairs = [f"{a} {b}" for a, b in pairwise(words)] if exact else []
    return ("all", tuple(sys.intern(t) for t in words + pairs))


def requirement(query: str) -> Requirement:
    """A necessary condition on a story's tokens for ``query`` to match it (None: cannot tell). Never raises."""
    try:
        return _requirement(query)
    except Exception:  # noqa: BLE001 - any failure means "cannot tell", never a dropped subscription
        return None


def _requirement(query: str) -> Requirement:
    if any(ch in _GIVE_UP for ch in query):
        return None
    toks = _tokens(query)
    if toks is None or _depth(toks) > MAX_DEPTH:
        return None
    try:
        req, pos = _parse(toks, 0)
    except (IndexError, ValueError):
        return None
    return req if pos == len(toks) else None


def _depth(toks: list[tuple[str, str]]) -> int:
    """The deepest parenthesis nesting of the tokens (iterative: computed before any recursion)."""
    depth = deepest = 0
    for tok in toks:
        if tok == ("op", "("):
            depth += 1
            deepest = max(deepest, depth)
        elif tok == ("op", ")"):
            depth -= 1
    return deepest


def _parse(toks: list[tuple[str, str]], pos: int) -> tuple[Requirement, int]:
    """One boolean level (until ')' or the end), following Lucene's QueryParserBase.addClause."""
    clauses: list[list[Any]] = []  # [occur, requirement], occur in MUST/SHOULD/NOT
    while pos < len(toks) and toks[pos] != ("op", ")"):
        conj = ""
        if toks[pos][0] == "op" and toks[pos][1] in ("AND", "&&", "OR", "||"):
            conj = "AND" if toks[pos][1] in ("AND", "&&") else "OR"
            pos += 1
        mod = ""
        if toks[pos][0] == "op" and toks[pos][1] in ("+", "-", "!", "NOT"):
            mod = "REQ" if toks[pos][1] == "+" else "NOT"
            pos += 1
        kind, value = toks[pos]
        if (kind, value) == ("op", "("):
            leaf, pos = _parse(toks, pos + 1)
            if pos >= len(toks) or toks[pos] != ("op", ")"):
                raise ValueError("unbalanced")
            pos += 1
            if pos < len(toks) and toks[pos][0] == "word" and toks[pos][1][:1] == "^":
                pos += 1
        elif kind in ("word", "phrase"):
            leaf = _leaf(kind, value)
            pos += 1
        else:
            raise ValueError(f"unexpected {value}")
        if clauses and conj == "AND" and clauses[-1][0] != "NOT":
            clauses[-1][0] = "MUST"
        occur = "NOT" if mod == "NOT" else "MUST" if (mod == "REQ" or conj == "AND") else "SHOULD"
        clauses.append([occur, leaf])
    musts = [req for occur, req in clauses if occur == "MUST"]
    if musts:
        return _combine("all", musts), pos
    shoulds = [req for occur, req in clauses if occur == "SHOULD"]
    return (_combine("any", shoulds) if shoulds else None), pos


def _combine(kind: str, reqs: list[Requirement]) -> Requirement:
    if kind == "any" and any(r is None for r in reqs):
        return None  # one branch may match anything, so the OR may too
    kept = [r for r in reqs if r is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else (kind, tuple(kept))


def satisfied(req: Requirement, tokens: set[str] | frozenset[str]) -> bool:
    """Whether a story (or batch) with these tokens may satisfy the requirement."""
    if req is None:
        return True
    if isinstance(req, str):
        return req in tokens
    kind, parts = req
    if kind == "all":
        return all(satisfied(p, tokens) for p in parts)
    return any(satisfied(p, tokens) for p in parts)


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def story_tokens(doc: Mapping[str, Any]) -> frozenset[str]:
    """A superset of the bare-word tokens any field of this story document can match."""
    out: set[str] = set()
    for text in _strings(doc):
        previous = ""
        for run in _RUN.findall(text.lower()):
            out.add(run)
            pieces = ([run[i:i + MAX_TOKEN_LEN] for i in range(0, len(run), MAX_TOKEN_LEN)] if len(run) > MAX_TOKEN_LEN
                      else [run])
            out.update(pieces)
            for piece in pieces:  # bigrams of consecutive tokens of this string (see the module docstring)
                if previous:
                    out.add(f"{previous} {piece}")
                previous = piece
    return frozenset(out)


@dataclass(frozen=True)
class StoryFacts:
    """What the pre-filter needs of one story."""

    story_id: str
    tokens: frozenset[str]
    keywords: Mapping[str, frozenset[str]]  # filter field -> values
    relevance: float

    @classmethod
    def from_document(cls, story_id: str, doc: Mapping[str, Any]) -> StoryFacts:
        def vals(field: str) -> frozenset[str]:
            value = doc.get(field)
            return frozenset(value if isinstance(value, list) else [value] if value is not None else [])

        return cls(story_id, story_tokens(doc),
                   {f: vals(f) for f in ("topics", "entity_ids", "countries", "source", "language")},
                   float(doc.get("relevance") or 0.0))


def filters_allow(filters: Filters, story: StoryFacts) -> bool:
    """Whether the structured filters may accept this story (exact for keywords)."""
    for field, wanted in (("topics", filters.topics), ("entity_ids", filters.entity_ids),
                          ("countries", filters.countries), ("source", filters.sources),
                          ("language", filters.languages)):
        if wanted and not (story.keywords[field] & set(wanted)):
            return False
    return filters.min_relevance is None or story.relevance + RELEVANCE_SLACK >= filters.min_relevance


def candidates(req: Requirement, filters: Filters, stories: list[StoryFacts],
               batch_tokens: frozenset[str]) -> list[str]:
    """Ids of the stories a subscription may match (the batch-wide token check short-cuts most)."""
    if not satisfied(req, batch_tokens):
        return []
    return [s.story_id for s in stories if filters_allow(filters, s) and satisfied(req, s.tokens)]


@dataclass(frozen=True)
class BatchIndex:
    """The batch's stories with an inverted index token -> story ids, to check all subscriptions fast."""

    stories: list[StoryFacts]
    by_token: Mapping[str, frozenset[str]]
    everyone: frozenset[str]

    @classmethod
    def of(cls, stories: list[StoryFacts]) -> BatchIndex:
        by_token: dict[str, set[str]] = {}
        for s in stories:
            for tok in s.tokens:
                by_token.setdefault(tok, set()).add(s.story_id)
        return cls(stories, {t: frozenset(v) for t, v in by_token.items()}, frozenset(s.story_id for s in stories))


def stories_satisfying(req: Requirement, index: BatchIndex) -> frozenset[str]:
    """Ids of the stories whose tokens may satisfy ``req``: exactly those for which ``satisfied`` is true."""
    if req is None:
        return index.everyone
    if isinstance(req, str):
        return index.by_token.get(req, frozenset())
    kind, parts = req
    if kind == "all":
        out = index.everyone
        for part in parts:
            out = out & stories_satisfying(part, index)
            if not out:
                break
        return out
    found: set[str] = set()
    for part in parts:
        found |= stories_satisfying(part, index)
    return frozenset(found)


def candidates_indexed(req: Requirement, filters: Filters, index: BatchIndex) -> list[str]:
    """The same list as ``candidates`` (batch order), computed with the batch's inverted index."""
    ids = stories_satisfying(req, index)
    if not ids:
        return []
    if filters.is_empty():
        return [s.story_id for s in index.stories if s.story_id in ids]
    return [s.story_id for s in index.stories if s.story_id in ids and filters_allow(filters, s)]
