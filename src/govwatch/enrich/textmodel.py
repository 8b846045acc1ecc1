"""The packaged relevance and topic-family models: loading (hash-checked) and scoring (pure Python + numpy).

Decides how the weights in govwatch/data/relevance_model.npz turn a story into scores. Relevance is a logistic
regression over the story's n-grams (govwatch.enrich.textvec) and the lexicon's 12 evidence features, Platt-
calibrated on out-of-fold scores, so it is a probability. Each topic family is either its own logistic
regression over the n-grams and the keyword scorer's per-family scores, combined with the keyword score alone:
a family holds when its model probability reaches the family's model threshold OR its keyword score reaches the
keyword threshold (either may be off), as chosen by the outlet-grouped cross-validation of
tests/fixtures/relevance/tools/train.py; relevance_model.json holds the thresholds and the npz's sha256, checked
at load.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from govwatch.enrich import textvec


@dataclass(frozen=True)
class Family:
    """A topic family: its taxonomy ids, the model's and the keyword score's thresholds (None: that evidence is
    not used), and its default topic."""

    name: str
    topics: tuple[str, ...]
    model_threshold: float | None
    keyword_threshold: float | None
    default_topic: str

    def strength(self, model: float, keyword: float) -> float:
        """Evidence relative to the thresholds: the larger of score / threshold; the family holds at >= 1."""
        ratios = [s / t for s, t in ((model, self.model_threshold), (keyword, self.keyword_threshold))
                  if t is not None]
        return max(ratios, default=0.0)

    def score(self, model: float, keyword: float) -> float:
        """The family's score in [0, 1]: the best of the evidence it uses."""
        used = [s for s, t in ((model, self.model_threshold), (keyword, self.keyword_threshold)) if t is not None]
        return max(used, default=0.0)


@dataclass(frozen=True)
class TextModel:
    """Weights: column 0 relevance, column 1 + k family k."""

    vocab: dict[str, int]
    idf: np.ndarray
    n_char: int
    chars: int
    w_text: np.ndarray
    w_lex: np.ndarray
    w_kw: np.ndarray
    bias: np.ndarray
    platt: tuple[float, float]
    threshold: float
    no_ai_cap: bool
    families: tuple[Family, ...]
    lexicon_features: tuple[str, ...]

    def vector(self, normalised: str) -> tuple[np.ndarray, np.ndarray]:
        return textvec.vectorise(normalised, self.vocab, self.idf, self.n_char)

    def relevance(self, vec: tuple[np.ndarray, np.ndarray], lexicon: Sequence[float]) -> float:
        """Calibrated probability of AI-governance news (before the no-AI cap)."""
        idx, vals = vec
        z = float(self.bias[0]) + float(np.dot(vals, self.w_text[idx, 0])) + float(
            np.dot(self.w_lex, np.asarray(lexicon, dtype=np.float32)))
        a, b = self.platt
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, a * z + b))))

    def family_probabilities(self, vec: tuple[np.ndarray, np.ndarray], keyword: Sequence[float]) -> list[float]:
        """Per family (in order), the family model's probability."""
        idx, vals = vec
        kw = np.asarray(keyword, dtype=np.float32)
        z = self.bias[1:] + vals @ self.w_text[idx, 1:] + kw @ self.w_kw
        return [1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, float(v))))) for v in z]


def model_from_files(meta: dict[str, Any], npz_bytes: bytes) -> TextModel:
    """Build the model; refuses an npz whose sha256 is not the one recorded in the metadata."""
    digest = hashlib.sha256(npz_bytes).hexdigest()
    if digest != meta["npz_sha256"]:
        raise ValueError(f"relevance_model.npz sha256 {digest} is not the recorded {meta['npz_sha256']}")
    with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as z:
        vocab = {str(g): i for i, g in enumerate(z["vocab"].tolist())}
        arrays = {k: z[k] for k in ("idf", "w_text", "w_lex", "w_kw", "bias")}
    fams = tuple(Family(name, tuple(f["topics"]), _threshold(f["model_threshold"]),
                        _threshold(f["keyword_threshold"]), f["default_topic"])
                 for name, f in meta["families"].items())
    return TextModel(vocab, arrays["idf"].astype(np.float64), int(meta["n_char"]), int(meta["text_chars"]),
                     arrays["w_text"].astype(np.float32), arrays["w_lex"], arrays["w_kw"], arrays["bias"],
                     (float(meta["platt"][0]), float(meta["platt"][1])), float(meta["threshold"]),
                     bool(meta["no_ai_cap"]), fams, tuple(meta["lexicon_features"]))


def _threshold(value: float | None) -> float | None:
    return None if value is None else float(value)


@lru_cache(maxsize=1)
def load() -> TextModel:
    """The packaged model (cached)."""
    data = resources.files("govwatch.data")
    meta = json.loads(data.joinpath("relevance_model.json").read_text(encoding="utf-8"))
    return model_from_files(meta, data.joinpath("relevance_model.npz").read_bytes())
