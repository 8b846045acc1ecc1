"""A small linear-chain CRF that proposes person and organisation spans the rules did not decide (issue 11).

The model (data/ner_crf.crfsuite, trained offline by tests/fixtures/ner/tools/train_crf.py on the CrossNER train
and dev splits, news text tagged by an offline spaCy teacher (silver, issue 26) and the news dev split's gold
labels; provenance in data/PROVENANCE.md) tags BIO labels PER / ORG / LOC / CONF / MISC; only PER and
ORG spans are used, the other labels exist so that places, conferences and products are not forced into them;
a rule organisation whose whole span the model calls CONF is vetoed ("the Association for Computational
Linguistics" as a venue, which is how CrossNER labels learned societies).
Its features are the word's own form and shape, its neighbours, the name lists and word lists the rules use
(given names, census surnames, titles, organisation words, speech verbs) and the rules' own decision for the
token (a gazetteer hit of which type, a pattern person or organisation), so the model learns where the rules
are right and where a capitalised run they left alone is a name.

Only windows around capitalised words the rules left undecided and around the rules' organisations are tagged
(WINDOW tokens either side): the rest of a story cannot start a name, and skipping it keeps the cost to about a
third of the tokens. Inference is python-crfsuite (C). How the proposals are combined with the rules (vetoes,
surname merging, ids) is in entities.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, cast

from govwatch.enrich.name_lexicon import (
    ORG_HEADS,
    ORG_SUFFIXES,
    SENTENCE_ENDS,
    SPEECH_AFTER,
    STOP_CAPS,
    TITLES,
    first_names,
    surnames,
)

MODEL_FILE = "ner_crf.crfsuite"
WINDOW = 2  # context tokens tagged on each side of a capitalised word (the features look two tokens away)
LABELS = ("PER", "ORG", "LOC", "CONF", "MISC")
# Minimum marginal probability of a span's labels for the span to be used, per label: the model is less precise
# than the rules, so a span must be a confident call (leave-outlets-out cross-validation over the news dev split,
# see the training script: PER 0.5 / 0.7 person F1 0.940 / 0.939 (P 0.952 / 0.956), ORG 0.85 / 0.9 organisation
# F1 0.818 / 0.818 (P 0.859 / 0.861); the more precise of equal points is kept).
MIN_CONFIDENCE = {"PER": 0.7, "ORG": 0.9}
# An organisation the rules found is dropped when the model calls its whole span a conference this confidently:
# CrossNER tags learned societies by their conferences ("Association for Computational Linguistics",
# "AAAI"), and in research prose they mostly are the conference ("presented at AAAI"). News dev CV scores the
# same at 0.5, 0.8 and off; 0.8 keeps "Delegates of the Association for the Advancement of Science" (0.73).
VETO_CONFIDENCE = {"CONF": 0.8}
# A lone word tagged PER that is not the given name or surname of a full name in the story needs more: brands
# and apps take a person's verbs in news ("Keep was still functional", "Macy's").
LONE_PERSON_CONFIDENCE = 0.8
Token = tuple[str, int, int]
# Words whose feature tuples are cached (about 1 KiB each): a smaller cache thrashes over a day's vocabulary
# (4,096 words: +13% entity CPU on the benchmark's 181 stories, for 15 MiB less RSS).
CACHE_WORDS = 16384
_override: list[object] = []  # a tagger set by use_tagger() (training and cross-validation only)


@lru_cache(maxsize=1)
def _default_tagger() -> object | None:
    try:
        import pycrfsuite
    except ImportError:  # pragma: no cover - the dependency is declared; rules alone still work
        return None
    ref = resources.files("govwatch.data").joinpath(MODEL_FILE)
    if not ref.is_file():
        return None
    with resources.as_file(ref) as path:
        tagger = pycrfsuite.Tagger()
        tagger.open(str(path))  # crfsuite reads the whole model into memory at open
    return cast(object, tagger)  # pycrfsuite has no type information


def use_tagger(tagger: object | None) -> None:
    """Replace the packaged model (None restores it); for the training script's cross-validation."""
    _override.clear()
    if tagger is not None:
        _override.append(tagger)


def tagger() -> object | None:
    """The tagger in use, or None when no model is packaged."""
    return _override[0] if _override else _default_tagger()


@lru_cache(maxsize=CACHE_WORDS)
def _word(tok: str) -> tuple[str, ...]:
    """Features of a word on its own (cached: news repeats its words)."""
    low = tok.lower()
    shape: list[str] = []
    for c in tok[:8]:
        s = "X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c
        if not shape or shape[-1] != s:
            shape.append(s)
    feats = [f"w={low}", f"sh={''.join(shape)}", f"p3={low[:3]}", f"s3={low[-3:]}", f"s2={low[-2:]}"]
    if tok in first_names():
        feats.append("given")
    if tok in surnames():
        feats.append("surname")
    if tok in ORG_SUFFIXES:
        feats.append("orgsuf")
    if tok in ORG_HEADS:
        feats.append("orghead")
    if tok in TITLES:
        feats.append("title")
    if tok in STOP_CAPS:
        feats.append("stopcap")
    if low in SPEECH_AFTER:
        feats.append("speech")
    if len(tok) > 1 and tok.isupper():
        feats.append("acronym")
    return tuple(feats)


@lru_cache(maxsize=CACHE_WORDS)
def _context(tok: str) -> tuple[tuple[str, ...], ...]:
    """Features of a word as a neighbour two before, one before, one after and two after: lower form, coarse
    shape, list flag (one cache entry per word)."""
    c = "X" if tok[:1].isupper() else "x" if tok[:1].islower() else "d" if tok[:1].isdigit() else "p"
    flag = "given" if tok in first_names() else "orgsuf" if tok in ORG_SUFFIXES else \
        "title" if tok in TITLES else "-"
    low = tok.lower()
    return tuple((f"{name}w={low}", f"{name}c={c}", f"{name}f={flag}") for name in ("m2", "m1", "p1", "p2"))


_EDGE = {name: (f"{name}=edge",) for name in ("m2", "m1", "p1", "p2")}


def segments(tokens: Sequence[Token], rule_tags: Sequence[str],
             blocked: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, int]]:
    """Windows [a, b) around the capitalised tokens the rules left undecided (not `blocked`, not a sentence word
    such as "The") and around the rules' organisations (which the model may veto), merged where they touch."""
    out: list[tuple[int, int]] = []
    n = len(tokens)
    for k, (tok, _, _) in enumerate(tokens):
        if (tok[:1].isupper() and k not in blocked and tok not in STOP_CAPS) or rule_tags[k] in ("gO", "nO"):
            a, b = max(0, k - WINDOW), min(n, k + WINDOW + 1)
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
    return out


def features(words: Sequence[str], rule_tags: Sequence[str], a: int, b: int) -> list[list[str]]:
    """CRF features of words a..b of a story; rule_tags[k] is the rules' decision for word k ("" for none)."""
    n = len(words)
    out: list[list[str]] = []
    for k in range(a, b):
        f = list(_word(words[k]))
        f.append(f"r={rule_tags[k]}")
        if k == 0 or words[k - 1] in SENTENCE_ENDS:
            f.append("start")
        f.extend(_context(words[k - 2])[0] if k >= 2 else _EDGE["m2"])
        if k >= 1:
            f.extend(_context(words[k - 1])[1])
            f.append(f"m1r={rule_tags[k - 1]}")
        else:
            f.extend(_EDGE["m1"])
        if k + 1 < n:
            f.extend(_context(words[k + 1])[2])
            f.append(f"p1r={rule_tags[k + 1]}")
        else:
            f.extend(_EDGE["p1"])
        f.extend(_context(words[k + 2])[3] if k + 2 < n else _EDGE["p2"])
        out.append(f)
    return out


def spans_from_labels(labels: Sequence[str], offset: int) -> list[tuple[str, int, int]]:
    """(label, i, j) spans of a BIO sequence starting at token `offset`; a stray I- starts a span."""
    out: list[tuple[str, int, int]] = []
    cur: list[Any] = []  # [kind, start] of the open span
    for k, lab in enumerate([*labels, "O"]):
        kind = lab[2:] if lab != "O" else ""
        if cur and (lab == "O" or lab.startswith("B-") or kind != cur[0]):
            out.append((cur[0], offset + cur[1], offset + k))
            cur = []
        if lab != "O" and not cur:
            cur = [kind, k]
    return out


def propose(tokens: Sequence[Token], rule_tags: Sequence[str], blocked: set[int] | frozenset[int] = frozenset(),
            min_confidence: dict[str, float] | None = None) -> tuple[list[tuple[str, int, int, float]], set[int]]:
    """PER/ORG spans (label, i, j, confidence) the model tags with at least the label's MIN_CONFIDENCE (the
    lowest marginal probability of the span's labels), and the tokens of rule organisations it vetoes
    (VETO_CONFIDENCE); nothing when no model is packaged."""
    crf = tagger()
    if crf is None:
        return [], set()
    floor = MIN_CONFIDENCE if min_confidence is None else min_confidence
    out: list[tuple[str, int, int, float]] = []
    vetoed: set[int] = set()
    words = [t[0] for t in tokens]
    for a, b in segments(tokens, rule_tags, blocked):
        labels = crf.tag(features(words, rule_tags, a, b))  # type: ignore[attr-defined]
        if all(lab == "O" for lab in labels):
            continue
        for label, i, j in spans_from_labels(labels, a):
            limit = floor.get(label, VETO_CONFIDENCE.get(label))
            if limit is None:
                continue
            conf = min(crf.marginal(labels[k - a], k - a) for k in range(i, j))  # type: ignore[attr-defined]
            if conf < limit:
                continue
            if label in floor:
                out.append((label, i, j, conf))
            elif all(rule_tags[k] in ("gO", "nO") for k in range(i, j)):
                vetoed.update(range(i, j))
    return out, vetoed
