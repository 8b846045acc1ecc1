"""Text features for the relevance and topic models: character and word n-grams over a vocabulary (pure + numpy).

Decides what a story's text looks like to the linear models in govwatch/data/relevance_model.npz: the title and
the opening of the text, NFKC-normalised, lower-cased, whitespace collapsed, cut at TEXT_CHARS; character
n-grams of CHAR_MIN..CHAR_MAX characters (language-independent: they work for Chinese without tokenising and
catch word stems across German compounds and French elisions) and word unigrams and bigrams. Only n-grams in the
model's vocabulary count; each block (characters, words) is weighted by sublinear tf x idf and L2-normalised, as
the training tool (tests/fixtures/relevance/tools/train.py) did, which calls the same functions.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Mapping

import numpy as np

TEXT_CHARS = 1_000  # title + opening: CV F1 is the same at 600 and 1,500 characters; later text adds time
CHAR_MIN, CHAR_MAX = 2, 5
WORD_PREFIX = "\t"  # word features are "\t" + word(s): normalised text holds no tab, so no char n-gram starts so
WORD_RE = re.compile(r"\w+")
SPACE_RE = re.compile(r"\s+")


def normalise(title: str, text: str, chars: int = TEXT_CHARS) -> str:
    """The string the n-grams are read from: title, a separator, the text; cut at `chars`."""
    joined = f"{title or ''} | {(text or '')[:chars * 2]}"
    return SPACE_RE.sub(" ", unicodedata.normalize("NFKC", joined).lower()).strip()[:chars]


def char_grams(s: str) -> Iterator[str]:
    """Every character n-gram of CHAR_MIN..CHAR_MAX characters, spaces included."""
    padded = f" {s} "
    for n in range(CHAR_MIN, CHAR_MAX + 1):
        for i in range(len(padded) - n + 1):
            yield padded[i:i + n]


def word_grams(s: str) -> Iterator[str]:
    """Word unigrams and bigrams, WORD_PREFIX-marked."""
    words = WORD_RE.findall(s)
    for i, w in enumerate(words):
        yield WORD_PREFIX + w
        if i + 1 < len(words):
            yield f"{WORD_PREFIX}{w} {words[i + 1]}"


def features(s: str) -> Iterator[str]:
    yield from char_grams(s)
    yield from word_grams(s)


def vectorise(s: str, vocab: Mapping[str, int], idf: np.ndarray, n_char: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse tf-idf vector of a normalised string: (column indices, values). Columns below `n_char` are
    character n-grams, the rest words; each block is L2-normalised on its own."""
    padded = f" {s} "
    grams = [padded[i:i + n] for n in range(CHAR_MIN, CHAR_MAX + 1) for i in range(len(padded) - n + 1)]
    grams.extend(word_grams(s))
    hits = [j for j in map(vocab.get, grams) if j is not None]
    if not hits:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    idx, tf = np.unique(np.array(hits, dtype=np.int64), return_counts=True)
    vals = (1.0 + np.log(tf)) * idf[idx]
    is_word = idx >= n_char
    for mask in (is_word, ~is_word):
        norm = math.sqrt(float(np.dot(vals[mask], vals[mask])))
        if norm:
            vals[mask] /= norm
    return idx, vals
