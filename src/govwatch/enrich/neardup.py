"""Near-duplicate detection for wire copies and light rewrites (MinHash + LSH, stable across runs).

Signature: one-permutation MinHash with optimal densification (Li, Owen & Zhang 2012; Shrivastava 2017).
Every word 5-shingle of the normalised text gets one 64-bit hash (blake2b, stable across processes, unlike
`hash()`); the hash picks one of NUM_PERM bins and the bin keeps the minimum. That is one hash per shingle
instead of NUM_PERM. Each word is encoded once, the shingle hashes are collected as one byte string and the bin
minimum is taken by numpy (already loaded: py3langid's model needs it): ~2 ms for a 800-word article, of
which blake2b itself is half. Empty bins (short texts) borrow
from the next filled bin, mixed with the bin number, so that two texts agree on a borrowed bin exactly when they
agree on its source; the fraction of equal bins then estimates the Jaccard similarity of the shingle sets.

Choices, measured on real articles (tests/golden/enrich, the Zyte benchmark and the Verge feed; see
tests/unit/test_neardup.py):
* SHINGLE_SIZE = 5 words: wire copies with a new headline, a standfirst or a footer share most 5-shingles,
  while different stories on one topic share only stock phrases ("the European Commission said on").
* NEAR_DUP_THRESHOLD = 0.5 estimated Jaccard: light rewrites of 39 real Zyte-benchmark articles (new headline,
  appended copyright/newsletter footer, one sentence dropped) measured 0.66-1.0 (mean 0.87); the 13,366 pairs of
  different real articles in that benchmark measured at most 0.16 (shared outlet boilerplate). 0.5 sits in the
  wide gap, so both measured false-positive and false-negative counts are 0.
* LSH: 32 bands x 4 rows. The candidate probability 1 - (1 - J^4)^32 is 0.87 at J = 0.4 and 0.99 at J = 0.5,
  so true duplicates are almost always retrieved, while a pair at J = 0.1 is a candidate with p = 0.003; the
  exact similarity() check then decides.
"""

from __future__ import annotations

import re
import unicodedata
from hashlib import blake2b

import numpy as np

NUM_PERM = 128
SHINGLE_SIZE = 5
BANDS = 32
ROWS = NUM_PERM // BANDS
NEAR_DUP_THRESHOLD = 0.5
_MASK = (1 << 64) - 1
_EMPTY = _MASK  # bins no shingle fell into, before densification
_MIX = 0x9E3779B97F4A7C15  # golden-ratio constant: spreads the borrowed value per bin
_WORD_RE = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    """Case-, accent- and punctuation-insensitive words: wire copies differ in typography, not words."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    if not folded.isascii():  # ASCII has no combining marks; otherwise look up each distinct character once
        marks = {ord(c): None for c in set(folded) if unicodedata.combining(c)}
        if marks:
            folded = folded.translate(marks)
    return _WORD_RE.findall(folded)


def _h64(data: str) -> int:
    return int.from_bytes(blake2b(data.encode(), digest_size=8).digest(), "little")


def signature(text: str) -> tuple[int, ...]:
    """MinHash signature (NUM_PERM 64-bit ints) of the text's word shingles; all-empty for empty text."""
    words = _words(text)
    if not words:
        return (_EMPTY,) * NUM_PERM
    k = min(SHINGLE_SIZE, len(words))  # a text shorter than a shingle is one shingle
    encoded = [w.encode() for w in words]
    # The UTF-8 of " ".join(shingle), hashed as _h64 does; the digests read back as little-endian uint64.
    digests = b"".join([blake2b(b" ".join(shingle), digest_size=8).digest()
                        for shingle in zip(*(encoded[j:] for j in range(k)), strict=False)])
    hashes = np.frombuffer(digests, dtype="<u8")
    minima = np.full(NUM_PERM, _EMPTY, dtype=np.uint64)
    np.minimum.at(minima, hashes % NUM_PERM, hashes // NUM_PERM)  # bin = h mod NUM_PERM keeps min(h div NUM_PERM)
    bins: list[int] = minima.tolist()
    # Densify: an empty bin takes the value of the next filled bin (circularly), mixed with its distance.
    if _EMPTY in bins:
        out = list(bins)
        for i in range(NUM_PERM):
            if bins[i] == _EMPTY:
                j = 1
                while bins[(i + j) % NUM_PERM] == _EMPTY:
                    j += 1
                out[i] = (bins[(i + j) % NUM_PERM] ^ (_MIX * j)) & _MASK
        bins = out
    return tuple(bins)


def lsh_keys(sig: tuple[int, ...]) -> list[str]:
    """Band hashes as short strings ("b07:3f2a9c1e0b4d"), for an Elasticsearch keyword field + terms query."""
    keys = []
    for band in range(BANDS):
        rows = sig[band * ROWS:(band + 1) * ROWS]
        digest = blake2b(b"".join(r.to_bytes(8, "little") for r in rows), digest_size=6).hexdigest()
        keys.append(f"b{band:02d}:{digest}")
    return keys


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (fraction of equal MinHash bins)."""
    if len(a) != len(b) or not a:
        raise ValueError("signatures must be non-empty and of equal length")
    if (a[0] == _EMPTY and len(set(a)) == 1) or (b[0] == _EMPTY and len(set(b)) == 1):
        return 0.0  # an empty text duplicates nothing
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def is_near_duplicate(a: tuple[int, ...], b: tuple[int, ...], threshold: float = NEAR_DUP_THRESHOLD) -> bool:
    """True when the estimated Jaccard similarity reaches the threshold (wire copy or light rewrite)."""
    return similarity(a, b) >= threshold


def signature_hex(sig: tuple[int, ...]) -> str:
    """A MinHash signature as one hex string (stored unindexed in ES to verify LSH candidates)."""
    return "".join(f"{v:016x}" for v in sig)


def parse_signature(text: str) -> tuple[int, ...]:
    """The signature signature_hex wrote."""
    return tuple(int(text[i:i + 16], 16) for i in range(0, len(text), 16))
