"""AI-governance relevance: a calibrated probability from text n-grams and multilingual lexicon evidence (pure).

A story is AI-governance news when AI is its subject *and* it is about rules, rulings, oversight or policy
(docs/relevance-criteria.md). This module:

1. finds evidence per sentence (title = its own sentence) with the lexicon in govwatch/data/relevance_lexicon.yaml:
   AI terms, acronyms and lab/model names; governance instruments, actors and actions; weak policy words;
   business/product copy. Everyday senses are neutralised first ("regulated industries", "scaling laws",
   "Moore's law", "fine-tuning"), and four words are read in context: "bill" needs a legislative cue in its
   sentence, "summit" a diplomatic one, "government agencies" next to customer words are customers, "ban" in a
   classroom anecdote is not a public ban;
2. turns the evidence into a dozen features (title and body apart, and how often AI and governance share a
   sentence, which separates "the regulator fined the chatbot maker" from a funding story with an aside);
3. scores the story with a logistic regression over those features and the text's character and word n-grams
   (govwatch.enrich.textvec, govwatch.enrich.textmodel), trained on 547 labelled items from ~390 outlets in
   several languages (tests/fixtures/relevance/tools/train.py) and Platt-calibrated, so the score is a
   probability and the threshold stays a setting. The n-grams carry what the lexicon misses (unseen wordings,
   languages); the lexicon carries the structure the n-grams cannot see (AI and governance in one sentence).

A story with no AI evidence at all is capped at NO_AI_CAP: governance news without AI is never relevant (the
training tool's cross-validation scores higher with the cap than without).
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from govwatch.enrich import textmodel, textvec

SENTENCE_RE = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])\s*|\n+")  # "A.I." and "U.S." are not ends
CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN = r"A-Za-z0-9\u00c0-\u024f"  # word characters for Latin-script boundaries ("AI基本法" still finds AI)
NO_AI_CAP = 0.05  # criteria: without AI as the subject a story is not AI-governance, whatever its politics
TITLE_CAP = 3.0  # a title holds a handful of words; more hits than this add nothing
SHORT_WORDS = 100  # below this the body is a feed summary, not a page
SEEN_MAX = 100_000  # per matcher: token verdicts remembered (a few MB at most)
EVIDENCE_CHARS = 3_000  # the opening of a page (~500 words) decides, as in every labelled item (<= 2,210 characters)


TOKEN_RE = re.compile(rf"[{LATIN}]+(?:[.\-][{LATIN}]+)*")  # apostrophes split: "l'IA" -> "l", "IA"
MY_RE = re.compile(r"(?<![A-Za-z])(?:I|my|I'm|I've)(?![A-Za-z])")


class PhraseMatcher:
    """Counts lexicon phrases in a tokenised sentence with set look-ups (a regex of hundreds of alternatives
    scanned at every position costs ~10x more). Single words are a set, "word*" entries a set of prefixes, phrases
    of several words are keyed by their first word; phrases holding Chinese characters are one literal regex."""

    def __init__(self, phrases: Iterable[str], case_sensitive: bool = False) -> None:
        self.case_sensitive = case_sensitive
        self.words: set[str] = set()
        self.prefixes: set[str] = set()
        self.multi: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
        cjk: list[str] = []
        for phrase in (str(p) for p in phrases):
            phrase = phrase if case_sensitive else phrase.lower()
            if CJK_RE.search(phrase):
                cjk.append(phrase)
                continue
            star = phrase.endswith("*")
            core = phrase[:-1] if star else phrase
            parts = [w.rstrip(".") for w in re.split(r"[\s'’]+", core) if w]  # "A.I." is token "A.I"
            if len(parts) == 1:
                (self.prefixes if star else self.words).add(parts[0])
            else:
                self.multi.setdefault(parts[0], []).append((tuple(parts[1:]), star))
        self.prefix_lengths = sorted({len(p) for p in self.prefixes})
        self._seen: dict[str, bool] = {}  # token -> in the lexicon (prefix tests are the costly part)
        self.cjk = re.compile("|".join(sorted(map(re.escape, cjk), key=len, reverse=True))) if cjk else None

    def single(self, tok: str) -> bool:
        """Whether one token is a one-word phrase of this matcher (a listed word or a prefix* match)."""
        hit = self._seen.get(tok)
        if hit is None:
            hit = tok in self.words or any(tok[:n] in self.prefixes for n in self.prefix_lengths if len(tok) >= n)
            if len(self._seen) >= SEEN_MAX:  # a long-running consumer meets an unbounded vocabulary
                self._seen.clear()
            self._seen[tok] = hit
        return hit

    def count(self, toks: list[str], sentence: str, skip: frozenset[int] = frozenset(),
              hits: list[int] | None = None) -> int:
        """Matches in the sentence; token indices in `skip` are not read; matched indices go to `hits`."""
        n = 0
        i = 0
        while i < len(toks):
            if i in skip:
                i += 1
                continue
            tok = toks[i]
            width = 0
            for rest, star in self.multi.get(tok, ()):
                k = len(rest)
                tail = toks[i + 1:i + 1 + k]
                if len(tail) == k and all(a == b for a, b in zip(tail[:-1], rest[:-1], strict=True)) and (
                        tail[-1].startswith(rest[-1]) if star else tail[-1] == rest[-1]):
                    width = max(width, k + 1)
            if not width and (self.single(tok) or ("-" in tok and any(self.single(x) for x in tok.split("-")))):
                width = 1
            if width:
                n += 1
                if hits is not None:
                    hits.extend(range(i, i + width))
                i += width
            else:
                i += 1
        if self.cjk is not None and CJK_RE.search(sentence):
            n += sum(1 for _ in self.cjk.finditer(sentence if self.case_sensitive else sentence.lower()))
        return n


class Scanner:
    """Counts several matchers in one pass over a sentence's tokens (each token's verdicts are cached), with the
    same result as calling PhraseMatcher.count on each: a phrase of several words is consumed whole."""

    def __init__(self, matchers: dict[str, PhraseMatcher]) -> None:
        self.names = tuple(matchers)
        self.matchers = tuple(matchers.values())
        self.low_idx = tuple(i for i, m in enumerate(self.matchers) if not m.case_sensitive)
        self.cs_idx = tuple(i for i, m in enumerate(self.matchers) if m.case_sensitive)
        self.multi_first = {w for m in self.matchers for w in m.multi}
        self._low: dict[str, tuple[int, ...]] = {}
        self._cs: dict[str, tuple[int, ...]] = {}

    def _verdicts(self, cache: dict[str, tuple[int, ...]], idx: tuple[int, ...], tok: str) -> tuple[int, ...]:
        hit = cache.get(tok)
        if hit is None:
            parts = tok.split("-") if "-" in tok else ()
            hit = tuple(i for i in idx if self.matchers[i].single(tok)
                        or any(self.matchers[i].single(x) for x in parts))
            if len(cache) >= SEEN_MAX:
                cache.clear()
            cache[tok] = hit
        return hit

    def count(self, toks: list[str], low: list[str], sentence: str, skip: frozenset[int]) -> dict[str, int]:
        n = [0] * len(self.matchers)
        free = [0] * len(self.matchers)  # per matcher, the first token not consumed by its last phrase
        for i, (tok, lt) in enumerate(zip(toks, low, strict=True)):
            if i in skip:
                continue
            if lt in self.multi_first or tok in self.multi_first:
                for j, m in enumerate(self.matchers):
                    if free[j] > i:
                        continue
                    seq = toks if m.case_sensitive else low
                    width = 0
                    for rest, star in m.multi.get(seq[i], ()):
                        k = len(rest)
                        tail = seq[i + 1:i + 1 + k]
                        if len(tail) == k and tail[:-1] == list(rest[:-1]) and (
                                tail[-1].startswith(rest[-1]) if star else tail[-1] == rest[-1]):
                            width = max(width, k + 1)
                    if width:
                        n[j] += 1
                        free[j] = i + width
            for j in (*self._verdicts(self._low, self.low_idx, lt), *self._verdicts(self._cs, self.cs_idx, tok)):
                if free[j] <= i:
                    n[j] += 1
                    free[j] = i + 1
        if CJK_RE.search(sentence):
            lowered = sentence.lower()
            for j, m in enumerate(self.matchers):
                if m.cjk is not None:
                    n[j] += sum(1 for _ in m.cjk.finditer(sentence if m.case_sensitive else lowered))
        return dict(zip(self.names, n, strict=True))


@dataclass(frozen=True)
class Lexicon:
    """Compiled evidence matchers; build with load_lexicon()."""

    ai_terms: PhraseMatcher
    ai_acronyms: PhraseMatcher
    ai_names: PhraseMatcher
    instruments: PhraseMatcher
    instruments_cs: PhraseMatcher
    actors: PhraseMatcher
    actors_cs: PhraseMatcher
    actions: PhraseMatcher
    weak: PhraseMatcher
    neutral: PhraseMatcher
    negative: PhraseMatcher
    general_law: PhraseMatcher
    bill: PhraseMatcher
    bill_cues: PhraseMatcher
    summit: PhraseMatcher
    summit_cues: PhraseMatcher
    customer_words: PhraseMatcher
    customer_cues: PhraseMatcher
    ban: PhraseMatcher
    anecdote_cues: PhraseMatcher
    scanner: Scanner | None = None  # every matcher but the neutral one and the context cues, in one pass


def compile_lexicon(doc: dict[str, Any]) -> Lexicon:
    ai, gov, senses = doc["ai"], doc["governance"], doc["senses"]
    lex = Lexicon(
        ai_terms=PhraseMatcher(ai["terms"]), ai_acronyms=PhraseMatcher(ai["acronyms"], case_sensitive=True),
        ai_names=PhraseMatcher(ai["names"], case_sensitive=True),
        instruments=PhraseMatcher(gov["instruments"]), actors=PhraseMatcher(gov["actors"]),
        instruments_cs=PhraseMatcher(gov["instruments_case_sensitive"], case_sensitive=True),
        actors_cs=PhraseMatcher(gov["actors_case_sensitive"], case_sensitive=True),
        actions=PhraseMatcher(gov["actions"]), weak=PhraseMatcher(gov["weak"]),
        neutral=PhraseMatcher(doc["neutral"]), negative=PhraseMatcher(doc["negative"]),
        general_law=PhraseMatcher(GENERAL_LAW), bill=PhraseMatcher(["bill", "bills"]),
        bill_cues=PhraseMatcher(senses["bill_cues"]),
        summit=PhraseMatcher(["summit", "summits", "峰会", "峰會"]), summit_cues=PhraseMatcher(senses["summit_cues"]),
        customer_words=PhraseMatcher(["government*", "agency", "agencies", "federal", "public sector"]),
        customer_cues=PhraseMatcher(senses["customer_cues"]),
        ban=PhraseMatcher(["ban", "bans", "banned", "banning"]), anecdote_cues=PhraseMatcher(senses["anecdote_cues"]),
    )
    scanned = ("ai_terms", "ai_acronyms", "ai_names", "instruments", "instruments_cs", "actors", "actors_cs",
               "actions", "weak", "negative", "general_law", "bill", "summit", "customer_words", "ban")
    return dataclasses.replace(lex, scanner=Scanner({k: getattr(lex, k) for k in scanned}))


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """The packaged lexicon (cached)."""
    raw = resources.files("govwatch.data").joinpath("relevance_lexicon.yaml").read_text(encoding="utf-8")
    return compile_lexicon(yaml.safe_load(raw))


@dataclass(frozen=True)
class SentenceEvidence:
    ai: int  # AI terms + acronyms + names
    names: int  # of which lab/model names
    instruments: int
    actors: int
    actions: int
    weak: int
    negative: int
    lawmaking: int = 0  # instruments that make law (a bill, act, decree, regulation), not "the law" in general

    @property
    def gov(self) -> int:
        return self.instruments + self.actors + self.actions


# "The law" in general ("fair use under copyright law") is governance evidence but not rule-making.
GENERAL_LAW = ("law", "laws", "legal", "loi", "lois", "ley", "leyes", "gesetz", "gesetze", "legge", "leggi", "法律")
FINE_BEFORE = frozenset({"a", "the", "with", "million", "billion", "record", "maximum", "heavy", "hefty", "m", "bn"})


def _fines(low: list[str]) -> int:
    """The noun "fine" ("hit with a $6 million fine", "a fine of"), not the adjective or "fine-tuning"."""
    return sum(1 for i, t in enumerate(low) if t == "fine" and (
        (i and (low[i - 1] in FINE_BEFORE or low[i - 1][:1].isdigit())) or (i + 1 < len(low) and low[i + 1] == "of")))


def sentence_evidence(sentence: str, lex: Lexicon) -> SentenceEvidence:
    """Evidence in one sentence (already NFKC-normalised)."""
    toks = TOKEN_RE.findall(sentence)
    low = [t.lower() for t in toks]
    neutral: list[int] = []
    lex.neutral.count(low, sentence, hits=neutral)
    skip = frozenset(neutral)
    if lex.scanner is None:
        raise RuntimeError("a Lexicon without its scanner: build it with compile_lexicon")
    c = lex.scanner.count(toks, low, sentence, skip)
    ai = c["ai_terms"] + c["ai_acronyms"] + c["ai_names"]
    instruments = c["instruments"] + c["instruments_cs"]
    if c["bill"] and not lex.bill_cues.count(low, sentence, skip):
        instruments -= c["bill"]  # an "inference bill" is an invoice
    actors = c["actors"] + c["actors_cs"]
    if c["customer_words"] and lex.customer_cues.count(low, "", skip):
        actors -= c["customer_words"]  # "banks and government agencies" as customers
    if c["summit"] and lex.summit_cues.count(low, sentence, skip):
        actors += c["summit"]  # a summit of leaders, not a vendor's conference
    actions = c["actions"] + _fines(low)
    if c["ban"] and (lex.anecdote_cues.count(low, "", skip) or MY_RE.search(sentence)):
        actions -= c["ban"]  # "I banned AI in my classroom"
    instruments = max(0, instruments)
    lawmaking = max(0, instruments - c["general_law"])
    return SentenceEvidence(ai, c["ai_names"], instruments, max(0, actors), max(0, actions), c["weak"],
                            c["negative"], lawmaking)


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_RE.split(text) if s and s.strip()]


FEATURES = ("ai_title", "ai_body", "names_only", "gov_title", "gov_body", "weak", "cooc", "cooc_share",
            "instrument_with_ai", "neg_title", "neg_body", "short")


@dataclass(frozen=True)
class Evidence:
    """Per-story evidence: the title's, each body sentence's, and the derived features."""

    title: SentenceEvidence
    body: tuple[SentenceEvidence, ...]
    words: int
    text: str = ""  # the string the n-grams are read from (textvec.normalise of title and text)

    @property
    def ai_total(self) -> int:
        return self.title.ai + sum(s.ai for s in self.body)

    def ai_sentences(self) -> list[SentenceEvidence]:
        return [s for s in (self.title, *self.body) if s.ai]

    def governed_ai_sentences(self) -> list[SentenceEvidence]:
        """Sentences where AI and governance meet (the title counts as such when the story has AI anywhere)."""
        out = [s for s in self.body if s.ai and s.gov]
        if self.title.gov and self.ai_total:
            out.append(self.title)
        return out

    def features(self) -> tuple[float, ...]:
        body_ai = sum(s.ai for s in self.body)
        body_names = sum(s.names for s in self.body)
        names_only = float(self.ai_total > 0 and self.title.names + body_names == self.ai_total)
        cooc = len(self.governed_ai_sentences())
        share = cooc / max(1, len(self.ai_sentences()))
        instrument = float(any(s.instruments for s in self.governed_ai_sentences()))
        return (
            min(TITLE_CAP, self.title.ai), math.log1p(body_ai), names_only,
            min(TITLE_CAP, self.title.gov), math.log1p(sum(s.gov for s in self.body)),
            math.log1p(self.title.weak + sum(s.weak for s in self.body)),
            math.log1p(cooc), share, instrument,
            min(TITLE_CAP, self.title.negative), math.log1p(sum(s.negative for s in self.body)),
            float(self.words < SHORT_WORDS),
        )


def evidence(title: str, text: str, lex: Lexicon | None = None) -> Evidence:
    """Evidence of a story from its title and (the first part of) its text."""
    lex = lex or load_lexicon()
    normalised = textvec.normalise(title, text)
    title = unicodedata.normalize("NFKC", title or "")
    text = unicodedata.normalize("NFKC", (text or "")[:EVIDENCE_CHARS])
    return Evidence(sentence_evidence(title, lex), tuple(sentence_evidence(s, lex) for s in sentences(text)),
                    len(text.split()) + 4 * len(CJK_RE.findall(text)) // 7, normalised)


RelevanceModel = textmodel.TextModel
Vector = tuple[np.ndarray, np.ndarray]


def load_model() -> RelevanceModel:
    """The packaged model (cached, sha256-checked)."""
    model = textmodel.load()
    if model.lexicon_features != FEATURES:
        raise ValueError(f"relevance model features {model.lexicon_features} do not match the code's {FEATURES}")
    return model


def relevance(ev: Evidence, model: RelevanceModel | None = None, vector: Vector | None = None) -> float:
    """Calibrated probability that the story is AI-governance news; `vector` is model.vector(ev.text) when the
    caller already has it."""
    m = model or load_model()
    p = m.relevance(vector if vector is not None else m.vector(ev.text), ev.features())
    return min(p, NO_AI_CAP) if ev.ai_total == 0 and m.no_ai_cap else p
