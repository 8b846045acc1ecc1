"""Topic classification and AI-governance relevance from the keyword taxonomy (pure, offline).

Scoring, per topic: every keyword occurrence adds TITLE_WEIGHT in the title or BODY_WEIGHT in the body (a
headline states what the story is about; a body mention may be an aside); each distinct keyword beyond the
first adds DISTINCT_BONUS (breadth of evidence beats one repeated word). A "~" keyword counts only in a sentence
that also holds a core AI term, as the taxonomy header prescribes. The raw score r is squashed to
1 - exp(-r / TOPIC_SCALE), so one body mention is ~0.2 and a title hit plus two body hits is ~0.7.

Relevance comes from govwatch.enrich.relevance (a calibrated probability). A relevant story's topics are decided
per topic family (the ten families of tests/fixtures/relevance/extended/topic_families.json, in
relevance_model.json): a family holds when its own logistic regression (over the text's n-grams and the
per-family keyword scores) reaches its model threshold or its keyword score reaches its keyword threshold, both
chosen by cross-validation for recall and precision >= 0.75; within a family the keyword scorer picks the
taxonomy topic (a story whose AI sentences hold a legal instrument scores legislation_rulemaking). Every
relevant story gets at least one topic (the strongest family when none holds), so analysts can facet it. A story
that is not relevant keeps its keyword topics above MIN_TOPIC_SCORE. Taxonomy phrases holding Chinese characters
match anywhere.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from govwatch.enrich import relevance as rel

MIN_TOPIC_SCORE = 0.35  # one body mention (~0.2) is not enough for a topic facet; two or a title hit is
MAX_TOPICS = 3  # the taxonomy asks for at most ~3 topics per story
DEFAULT_RELEVANCE_THRESHOLD = 0.4  # calibrated probability; best F1 of the outlet-grouped CV (relevance_model.json)
LAW_WEIGHT = 3.0  # a legal instrument next to AI is worth a title hit for legislation_rulemaking
LEAD_SENTENCES = 2  # under an AI headline, a law named in the lead is the story's law
TITLE_WEIGHT = 3.0
BODY_WEIGHT = 1.0
DISTINCT_BONUS = 0.5
TOPIC_SCALE = 4.0

# "~" keywords count only in a sentence that also holds an AI term (the taxonomy's list plus synonyms, and
# bare "model"). "AI" must be upper-case ("ai" is a word in other languages).
AI_CUE_RE = re.compile(
    r"(?<![A-Za-z])(?:AI|A\.I\.|AGI|LLMs?|GenAI|KI|IA)(?![A-Za-z])|\b(?:artificial intelligence|machine learning|"
    r"deep learning|neural networks?|chatbots?|algorithms?|algorithmic|generative|large language models?|"
    r"language models?|foundation models?|frontier models?|models?|chatgpt|openai|anthropic|deepmind|deepfakes?|"
    r"facial recognition)\b|人工智能|人工智慧|大模型|算法|演算法|生成式",
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


def _trie(words: list[str]) -> str:
    """One regex matching exactly the given literals, factored by common prefix (a trie).

    Python's ``re`` tries the branches of a flat alternation one by one at every position, so ~600 keywords
    cost ~600 attempts per word start; the trie needs about one per character. It matches as the flat
    alternation sorted longest first would: the keywords that match at one position are prefixes of one
    another, and both forms try them longest first (so backtracking after a failed suffix or boundary check
    reaches the same next-shorter keyword).
    """
    if not words:
        return "(?!x)x"
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # end of a keyword

    def emit(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(char) + emit(child) for char, child in node.items() if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:  # longer keywords first (greedy), then this one
            return (body if len(branches) > 1 else "(?:" + body + ")") + "?"
        return body

    return emit(tree)


def _alternation(words: set[str]) -> re.Pattern[str]:
    latin = _trie(sorted(w for w in words if not rel.CJK_RE.search(w)))
    cjk = _trie(sorted(w for w in words if rel.CJK_RE.search(w)))
    # a plural "s"/"es" is allowed so "state ai law" also finds "state AI laws"; Chinese has no word boundaries
    return re.compile(r"(?<![\w-])(" + latin + r")(?:s|es)?(?![\w-])|(" + cjk + ")")


def _compile(doc: dict[str, Any]) -> Taxonomy:
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
    raw = resources.files("govwatch.data").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
    return _compile(yaml.safe_load(raw))


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and compile the topic taxonomy; with no path, the packaged data (cached)."""
    if path is None:
        return _default_taxonomy()
    return _compile(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def _squash(raw: float, scale: float) -> float:
    return 1.0 - math.exp(-raw / scale)


def _keyword(m: re.Match[str]) -> str:
    return m.group(1) or m.group(2)


def keyword_scores(title: str, text: str, taxonomy: Taxonomy, ev: rel.Evidence) -> dict[str, float]:
    """Raw keyword score per topic (before squashing): title and body hits, distinct-keyword bonus, and the
    legal-instrument boost of legislation_rulemaking."""
    raw: defaultdict[str, float] = defaultdict(float)
    distinct: dict[str, set[str]] = {}
    titled_ai = bool(AI_CUE_RE.search(title or ""))
    for part, weight in ((title or "", TITLE_WEIGHT), (text or "", BODY_WEIGHT)):
        # A headline about AI sets the subject of every sentence below it ("Regulator blocks AI deal" ... "the
        # commission blocked the acquisition"); otherwise a "~" keyword needs an AI term in its own sentence.
        ai_sentences = part if titled_ai else " \n ".join(s for s in SENTENCE_RE.split(part) if AI_CUE_RE.search(s))
        for pattern, scope in ((taxonomy.plain, part), (taxonomy.near_ai, ai_sentences)):
            for m in pattern.finditer(scope.lower()):
                word = _keyword(m)
                for topic_id in taxonomy.owners[word]:
                    raw[topic_id] += weight
                    distinct.setdefault(topic_id, set()).add(word)
    for topic_id, words in distinct.items():
        raw[topic_id] += DISTINCT_BONUS * (len(words) - 1)
    governed = ev.governed_ai_sentences()
    lead = ev.body[:LEAD_SENTENCES] if ev.title.ai else ()
    if "legislation_rulemaking" in taxonomy.labels and (
            any(s.lawmaking for s in governed) or (ev.ai_total and ev.title.lawmaking)
            or any(s.lawmaking for s in lead)):
        raw["legislation_rulemaking"] += LAW_WEIGHT
    return dict(raw)


def family_keyword_scores(raw: dict[str, float], families: dict[str, list[str]]) -> list[float]:
    """Per family (in the mapping's order), the squashed keyword score of its best topic."""
    return [_squash(max((raw.get(t, 0.0) for t in ids), default=0.0), TOPIC_SCALE) for ids in families.values()]


def classify(title: str, text: str, taxonomy: Taxonomy, model: rel.RelevanceModel | None = None,
             lexicon: rel.Lexicon | None = None, evidence: rel.Evidence | None = None) -> TopicResult:
    """Topics and AI-governance relevance of a story.

    ``evidence`` is ``relevance.evidence(title, text, lexicon)`` when the caller has already computed it (the
    enrich pipeline does, to book its CPU apart from the topics').
    """
    ev = evidence if evidence is not None else rel.evidence(title, text, lexicon)
    m = model or rel.load_model()
    vector = m.vector(ev.text)
    relevance = round(rel.relevance(ev, m, vector), 4)
    raw = keyword_scores(title, (text or "")[:rel.EVIDENCE_CHARS], taxonomy, ev)  # the opening, as in training
    is_relevant = relevance >= DEFAULT_RELEVANCE_THRESHOLD
    if is_relevant:
        topics = _family_topics(m, vector, raw, taxonomy)
    else:  # not AI-governance: the keyword topics, for facets only
        ranked = sorted(raw.items(), key=lambda p: (-p[1], p[0]))
        scored = [TopicScore(t, taxonomy.labels[t], round(_squash(r, TOPIC_SCALE), 4)) for t, r in ranked]
        topics = [t for t in scored if t.score >= MIN_TOPIC_SCORE][:MAX_TOPICS]
    return TopicResult(topics, relevance, is_relevant)


def _family_topics(m: rel.RelevanceModel, vector: rel.Vector, raw: dict[str, float],
                   taxonomy: Taxonomy) -> list[TopicScore]:
    """A relevant story's topics: the families whose model or keyword evidence reaches its threshold (strongest
    first, at most MAX_TOPICS; the strongest family relative to its thresholds when none does, so every relevant
    story has a topic), each as its best keyword topic (plus its other topics whose keyword score reaches
    MIN_TOPIC_SCORE), or the family's most frequent topic when no keyword of it matched."""
    fams = m.families
    kw = family_keyword_scores(raw, {f.name: list(f.topics) for f in fams})
    probs = m.family_probabilities(vector, kw)
    strength = [f.strength(probs[k], kw[k]) for k, f in enumerate(fams)]
    passed = sorted((k for k in range(len(fams)) if strength[k] >= 1.0), key=lambda k: -strength[k])
    if not passed:
        passed = [max(range(len(fams)), key=lambda k: strength[k])]
    out: list[TopicScore] = []
    for k in passed:
        fam = fams[k]
        hits = sorted((t for t in fam.topics if raw.get(t, 0.0) > 0 and t in taxonomy.labels),
                      key=lambda t: (-raw[t], t))
        if not hits and fam.default_topic in taxonomy.labels:
            hits = [fam.default_topic]
        score = fam.score(probs[k], kw[k])
        for n, topic_id in enumerate(hits):
            if n and _squash(raw[topic_id], TOPIC_SCALE) < MIN_TOPIC_SCORE:
                break  # a second topic of the family needs keyword evidence of its own
            score = score if not n else min(score, _squash(raw[topic_id], TOPIC_SCALE))
            out.append(TopicScore(topic_id, taxonomy.labels[topic_id], round(score, 4)))
    return sorted(out, key=lambda t: -t.score)[:MAX_TOPICS]
