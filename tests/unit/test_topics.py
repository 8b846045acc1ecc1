"""Topic classification and AI-governance relevance."""

from __future__ import annotations

import pytest
from enrich_golden import all_stories, load_story

from govwatch.enrich import relevance as rel
from govwatch.enrich.textmodel import Family
from govwatch.enrich.topics import (
    DEFAULT_RELEVANCE_THRESHOLD,
    MAX_TOPICS,
    MIN_TOPIC_SCORE,
    TopicResult,
    classify,
    keyword_scores,
    load_taxonomy,
)


def _classify(name: str) -> TopicResult:
    story = load_story(name)
    return classify(story["title"], story["text"], load_taxonomy())


def test_phone_review_with_ai_camera_is_not_governance() -> None:
    """An AI feature in a product review has an AI signal but no governance signal, so it is not relevant."""
    res = _classify("hand-phone-review")
    assert not res.is_relevant and res.relevance < DEFAULT_RELEVANCE_THRESHOLD


def test_court_ruling_on_ai_copyright_is_relevant() -> None:
    """A court ruling on AI training and copyright is relevant and tagged copyright + litigation."""
    res = _classify("hand-court-ai-copyright")
    assert res.is_relevant
    assert {"copyright_ip", "liability_litigation"} <= {t.id for t in res.topics}


def test_real_senate_story_is_legislation() -> None:
    """The real Verge story on the state-AI-law moratorium is relevant with legislation as its top topic."""
    res = _classify("verge-senate-ai-moratorium")
    assert res.is_relevant and res.topics[0].id == "legislation_rulemaking"


def test_real_non_ai_stories_are_not_relevant() -> None:
    """Real stories without AI (Google Keep on Apple Watch, NFL violence) are not relevant."""
    assert not _classify("verge-google-keep-watch").is_relevant
    assert not _classify("zyte-wsj-football-violence").is_relevant


def _keywords(title: str, text: str) -> dict[str, float]:
    return keyword_scores(title, text, load_taxonomy(), rel.evidence(title, text))


def test_tilde_keyword_needs_ai_in_same_sentence() -> None:
    """"court" (a ~ keyword) counts for litigation only in a sentence that also names AI."""
    without = _keywords("", "The court heard the case. The court ruled. The court adjourned.")
    with_ai = _keywords("", "The court ruled on the AI system. The court fined the AI firm. The court acted on AI.")
    assert "liability_litigation" not in without
    assert with_ai["liability_litigation"] > 0


def test_title_outweighs_body() -> None:
    """The same keyword scores higher in the title than in the body."""
    in_title = _keywords("AI copyright row", "AI copyright row. Details follow.")
    in_body = _keywords("Details", "AI copyright row. AI copyright row. Details follow.")
    assert in_title["copyright_ip"] > in_body["copyright_ip"] > 0.0


def test_topic_bounds() -> None:
    """At most MAX_TOPICS topics, each scored in [0, 1], best first, each in one of the model's families, and
    relevance in [0, 1]."""
    res = _classify("verge-senate-ai-moratorium")
    assert 0 < len(res.topics) <= MAX_TOPICS
    scores = [t.score for t in res.topics]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert 0.0 <= res.relevance <= 1.0
    families = {f.name for f in rel.load_model().families for t in res.topics if t.id in f.topics}
    assert families and len(families) <= len(res.topics)


def test_relevant_stories_get_a_topic_and_irrelevant_ones_keep_keyword_topics() -> None:
    """A relevant story always has a topic; a story below the threshold keeps only keyword topics above
    MIN_TOPIC_SCORE."""
    tx = load_taxonomy()
    relevant = classify("Regulator fines chatbot maker", "The data protection authority fined the AI company.", tx)
    assert relevant.is_relevant and relevant.topics
    product = classify("Acme unveils its new AI model at its annual developer summit",
                       "The developer summit opened with a keynote on the new model and its copyright filter.", tx)
    assert not product.is_relevant and all(t.score >= MIN_TOPIC_SCORE for t in product.topics)


def test_family_holds_on_model_or_keyword_evidence() -> None:
    """A family holds when either its model probability or its keyword score reaches its own threshold (strength
    >= 1); evidence whose threshold is off never counts, and the score is the best evidence used."""
    both = Family("f", ("t",), model_threshold=0.4, keyword_threshold=0.5, default_topic="t")
    assert both.strength(0.2, 0.5) == pytest.approx(1.0) and both.strength(0.6, 0.0) == pytest.approx(1.5)
    assert both.strength(0.2, 0.25) < 1.0 and both.score(0.2, 0.25) == 0.25
    model_only = Family("f", ("t",), model_threshold=0.4, keyword_threshold=None, default_topic="t")
    assert model_only.strength(0.2, 0.99) == pytest.approx(0.5) and model_only.score(0.2, 0.99) == 0.2
    packaged = rel.load_model().families
    assert packaged and all(f.model_threshold is not None or f.keyword_threshold is not None for f in packaged)


@pytest.mark.parametrize("story", all_stories(), ids=lambda s: s["title"][:40] or s["source"].get("url", "")[-40:])
def test_golden_topics(story: dict) -> None:
    """Each golden story's topics and relevance decision match its expected file."""
    res = classify(story["title"], story["text"], load_taxonomy())
    exp = story["expected"]
    assert [t.id for t in res.topics] == exp["topics"]
    assert res.is_relevant == exp["is_relevant"]
    assert round(res.relevance, 2) == exp["relevance"]
