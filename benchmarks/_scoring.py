"""Scorers for the two extraction benchmarks.

`zyte_scores` re-implements scrapinghub/article-extraction-benchmark's evaluate.py
(@4a3bc979): `\\w+` tokens, 4-token shingles counted as multisets, per-document
tp/fp/fn normalised by their sum so long articles do not dominate, precision and
recall averaged over documents (a document only counts towards precision when it
predicted something, towards recall when the gold has something — as upstream), and
F1 = 2PR/(P+R). "accuracy" is the share of documents whose token lists are equal.

`snippet_scores` re-implements trafilatura's tests/eval_common.py: whitespace-normalised
substring checks of "with" (must appear) and "without" (boilerplate) snippets, summed
over pages.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE_N = 4  # upstream default


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    accuracy: float


def _tokens(text: str | None) -> list[str]:
    return _TOKEN_RE.findall(text or "")


def _shingles(tokens: list[str], n: int = SHINGLE_N) -> Counter[tuple[str, ...]]:
    # Upstream emits one (short) shingle for texts under n tokens and none for empty ones.
    return Counter(
        shingle for i in range(max(1, len(tokens) - n + 1)) if (shingle := tuple(tokens[i : i + n]))
    )


def shingle_tp_fp_fn(true: str | None, pred: str | None) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one document, exactly as upstream computes them."""
    gold, got = _shingles(_tokens(true)), _shingles(_tokens(pred))
    tp = fp = fn = 0.0
    for key in gold.keys() | got.keys():
        g, p = gold.get(key, 0), got.get(key, 0)
        tp += min(g, p)
        fp += max(0, p - g)
        fn += max(0, g - p)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total > 0 else (tp, fp, fn)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def zyte_scores(gold: Mapping[str, str], predicted: Mapping[str, str | None]) -> Scores:
    """Score predicted article bodies against the gold ones, keyed by document id."""
    if gold.keys() != predicted.keys():
        raise ValueError("prediction ids do not match the ground truth")
    triples = [shingle_tp_fp_fn(gold[k], predicted[k]) for k in gold]
    precision = statistics.mean(_precision(*t) for t in triples if t[0] + t[1] > 0)
    recall = statistics.mean(_recall(*t) for t in triples if t[0] + t[2] > 0)
    exact = sum(_tokens(gold[k]) == _tokens(predicted[k]) for k in gold)
    return Scores(precision, recall, 2 * precision * recall / (precision + recall), exact / len(gold))


def _normalise_ws(text: str) -> str:
    return " ".join(text.split())


def snippet_scores(pages: Mapping[str, tuple[list[str], list[str]]], predicted: Mapping[str, str | None]) -> Scores:
    """Score outputs against per-page ("with", "without") snippet lists, trafilatura style."""
    tp = fn = fp = tn = 0
    for key, (must, must_not) in pages.items():
        text = _normalise_ws(predicted.get(key) or "")
        for snippet in must:
            if _normalise_ws(snippet) in text:
                tp += 1
            else:
                fn += 1
        for snippet in must_not:
            if _normalise_ws(snippet) in text:
                fp += 1
            else:
                tn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, (tp + tn) / max(1, tp + tn + fp + fn))
