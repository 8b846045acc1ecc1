"""FROZEN COPY of govwatch.enrich.topics at commit 267e05d (before issue 14), kept for benchmarks/relevance_quality.py.

Do not edit: it is the "today's scorer" the benchmark compares against, with its own taxonomy copy
(taxonomy_v1.yaml beside it).

Topic classification and AI-governance relevance from the keyword taxonomy (pure, offline).

Scoring, per topic: every keyword occurrence adds TITLE_WEIGHT in the title or BODY_WEIGHT in the body (a
headline states what the story is about; a body mention may be an aside); each distinct keyword beyond the
first adds DISTINCT_BONUS (breadth of evidence beats one repeated word). A "~" keyword counts only in a sentence
that also holds a core AI term, as the taxonomy header prescribes. The raw score r is squashed to
1 - exp(-r / TOPIC_SCALE), so one body mention is ~0.2 and a title hit plus two body hits is ~0.7.

Relevance is the geometric mean of an AI signal and a governance signal, each squashed the same way: a phone
review that praises an "AI camera" has the first but not the second; a court ruling on AI copyright has both.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

MIN_TOPIC_SCORE = 0.35  # one body mention (~0.2) is not enough for a topic facet; two or a title hit is
MAX_TOPICS = 3  # the taxonomy asks for at most ~3 topics per story
DEFAULT_RELEVANCE_THRESHOLD = 0.45  # chosen on the golden stories: governance news >= 0.5, reviews/AI-less < 0.4
TITLE_WEIGHT = 3.0
BODY_WEIGHT = 1.0
DISTINCT_BONUS = 0.5
TOPIC_SCALE = 4.0
AI_SCALE = 3.0
GOV_SCALE = 4.0
GOV_FLOOR = 2.0  # two incidental words ("policy", "rules") appear in any long article; they are not a signal

# Core AI terms: the taxonomy's list ("ai", "artificial intelligence", "algorithm", "machine learning",
# "chatbot", "model") plus unambiguous synonyms. "AI" must be upper-case ("ai" is a word in other languages);
# bare "model" only counts as the "~" cue, not as AI evidence (fashion models, car models).
AI_TERMS_RE = re.compile(
    r"\b(?:AI|A\.I\.|AGI|LLMs?|GenAI)\b|\b(?:artificial intelligence|machine learning|deep learning|"
    r"neural networks?|chatbots?|algorithms?|algorithmic|generative|large language models?|language models?|"
    r"foundation models?|frontier models?|chatgpt|openai|anthropic|deepmind|deepfakes?|facial recognition)\b",
    re.IGNORECASE)
# Chinese has no word boundaries; these count like the English terms above.
AI_TERMS_ZH_RE = re.compile(r"人工智能|大模型|算法|生成式")
GOVERNANCE_ZH_RE = re.compile(r"监管|法律|法规|条例|办法|规定|政府|部门|治理|施行|标识")
AI_CUE_RE = re.compile(AI_TERMS_RE.pattern + r"|\bmodels?\b", re.IGNORECASE)
# Governance vocabulary that is not topic-specific: the state, law and oversight.
GOVERNANCE_RE = re.compile(
    r"\b(?:regulat\w*|legislat\w*|lawmakers?|laws?|bills?|statute|government\w*|ministry|ministers?|"
    r"senate|senators?|congress\w*|parliament\w*|commission|commissioner|agency|agencies|authority|"
    r"regulators?|watchdogs?|policy|policies|policymakers?|governance|oversight|rules?|rulings?|courts?|judges?|"
    r"lawsuits?|sued|sues|litigation|fined?|penalt(?:y|ies)|ban|bans|banned|banning|treaty|summit|"
    r"compliance|enforcement|moratorium|executive order|white house|federal|attorneys? general|copyright|"
    r"antitrust|export controls?|sanctions|safety institute|standards body|elections?)\b",
    re.IGNORECASE)
SENTENCE_RE = re.compile(r"(?<=[.!?。！？])\s+|\n+")


@dataclass(frozen=True)
class TopicScore:
    """One topic of a story, score in [0, 1]."""

    id: str
    label: str
    score: float


@dataclass(frozen=True)
class TopicResult:
    """Topics (best first, at most MAX_TOPICS) and whether the story is AI-governance news at all."""

    topics: list[TopicScore]
    relevance: float
    is_relevant: bool


@dataclass(frozen=True)
class Taxonomy:
    """Compiled taxonomy; build with load_taxonomy(). One regex per keyword kind keeps a story to two scans."""

    labels: dict[str, str]  # topic id -> label, in taxonomy order
    plain: re.Pattern[str]  # keywords that count anywhere
    near_ai: re.Pattern[str]  # "~" keywords: only in a sentence with an AI term
    owners: dict[str, tuple[str, ...]]  # keyword -> topic ids ("settlement" is in two topics)


def _alternation(words: set[str]) -> re.Pattern[str]:
    parts = sorted((re.escape(w) for w in words), key=len, reverse=True) or ["(?!x)x"]
    # a plural "s"/"es" is allowed so "state ai law" also finds "state AI laws"
    return re.compile(r"(?<![\w-])(" + "|".join(parts) + r")(?:s|es)?(?![\w-])")


def _compile(doc: dict) -> Taxonomy:
    labels: dict[str, str] = {}
    owners: dict[str, list[str]] = {}
    plain: set[str] = set()
    near: set[str] = set()
    for t in doc["topics"]:
        labels[t["id"]] = t["label"]
        for k in (str(k).lower() for k in t["keywords"]):
            word = k.lstrip("~")
            (near if k.startswith("~") else plain).add(word)
            owners.setdefault(word, []).append(t["id"])
    return Taxonomy(labels, _alternation(plain), _alternation(near), {k: tuple(v) for k, v in owners.items()})


@lru_cache(maxsize=1)
def _default_taxonomy() -> Taxonomy:
    raw = (Path(__file__).parent / "taxonomy_v1.yaml").read_text(encoding="utf-8")
    return _compile(yaml.safe_load(raw))


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and compile the topic taxonomy; with no path, the packaged data (cached)."""
    if path is None:
        return _default_taxonomy()
    return _compile(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def _squash(raw: float, scale: float) -> float:
    return 1.0 - math.exp(-raw / scale)


def classify(title: str, text: str, taxonomy: Taxonomy) -> TopicResult:
    """Topics and AI-governance relevance of a story."""
    raw: Counter[str] = Counter()
    distinct: dict[str, set[str]] = {}
    ai_raw = gov_raw = 0.0
    for part, weight in ((title or "", TITLE_WEIGHT), (text or "", BODY_WEIGHT)):
        ai_raw += weight * (len(AI_TERMS_RE.findall(part)) + len(AI_TERMS_ZH_RE.findall(part)))
        gov_raw += weight * (len(GOVERNANCE_RE.findall(part)) + len(GOVERNANCE_ZH_RE.findall(part)))
        ai_sentences = " \n ".join(s for s in SENTENCE_RE.split(part) if AI_CUE_RE.search(s))
        for pattern, scope in ((taxonomy.plain, part), (taxonomy.near_ai, ai_sentences)):
            for m in pattern.finditer(scope.lower()):
                for topic_id in taxonomy.owners[m.group(1)]:
                    raw[topic_id] += weight
                    distinct.setdefault(topic_id, set()).add(m.group(1))
    for topic_id, words in distinct.items():
        raw[topic_id] += DISTINCT_BONUS * (len(words) - 1)
    # Topic keywords are governance evidence too, at half weight: many are not about the state ("cloud").
    gov = _squash(max(0.0, gov_raw + 0.5 * sum(raw.values()) - GOV_FLOOR), GOV_SCALE)
    relevance = round(math.sqrt(_squash(ai_raw, AI_SCALE) * gov), 4)
    ranked = sorted(raw.items(), key=lambda p: (-p[1], p[0]))
    topics = [TopicScore(t, taxonomy.labels[t], round(_squash(r, TOPIC_SCALE), 4)) for t, r in ranked]
    topics = [t for t in topics if t.score >= MIN_TOPIC_SCORE][:MAX_TOPICS]
    return TopicResult(topics, relevance, relevance >= DEFAULT_RELEVANCE_THRESHOLD)
