"""Near-duplicate detection (MinHash + LSH) on real stories."""

from __future__ import annotations

import itertools

from enrich_golden import all_stories, load_story

from govwatch.enrich.neardup import (
    BANDS,
    NEAR_DUP_THRESHOLD,
    NUM_PERM,
    is_near_duplicate,
    lsh_keys,
    signature,
    similarity,
)

FOOTER = ("\n\nCopyright 2025 Example Wire. All rights reserved. This article may not be republished. "
          "Sign up for our daily newsletter to get the latest politics news in your inbox.")


def _light_rewrite(text: str) -> str:
    """A wire copy as another outlet runs it: new headline line, one paragraph sentence dropped, footer."""
    sentences = text.split(". ")
    del sentences[len(sentences) // 2]
    return "SENATE VOTES 99-1 TO STRIP AI PROVISION\n\n" + ". ".join(sentences) + FOOTER


def _real_texts() -> list[str]:
    return [s["text"] for s in all_stories() if not s["source"]["corpus"].startswith("hand") and len(s["text"]) > 500]


def test_light_rewrite_of_real_story_is_detected() -> None:
    """A real Verge story and its light rewrite (headline, dropped sentence, footer) are near-duplicates."""
    text = load_story("verge-senate-ai-moratorium")["text"]
    a, b = signature(text), signature(_light_rewrite(text))
    assert is_near_duplicate(a, b)
    assert similarity(a, b) > 0.7


def test_rewrite_shares_lsh_band() -> None:
    """A near-duplicate pair shares at least one LSH key, so a terms query retrieves it."""
    text = load_story("verge-cloudflare-ai-crawlers")["text"]
    assert set(lsh_keys(signature(text))) & set(lsh_keys(signature(_light_rewrite(text))))


def test_different_real_stories_are_not_duplicates() -> None:
    """No pair of different real golden stories, including two AI-policy stories, reaches the threshold."""
    sigs = [signature(t) for t in _real_texts()]
    assert len(sigs) >= 6
    for a, b in itertools.combinations(sigs, 2):
        assert similarity(a, b) < NEAR_DUP_THRESHOLD / 2
        assert not is_near_duplicate(a, b)


def test_signature_is_stable_and_normalised() -> None:
    """Signatures are deterministic and ignore case, accents and punctuation."""
    assert signature("Le Président a signé la loi, hier.") == signature("le president a signe la loi hier")
    assert signature("x y z") == signature("x y z")
    assert len(signature("short")) == NUM_PERM


def test_lsh_keys_shape() -> None:
    """lsh_keys returns one short distinct string per band."""
    keys = lsh_keys(signature(load_story("verge-senate-ai-moratorium")["text"]))
    assert len(keys) == BANDS == len(set(keys))
    assert all(len(k) <= 16 for k in keys)


def test_empty_text_duplicates_nothing() -> None:
    """An empty text is not a near-duplicate of another empty text."""
    assert similarity(signature(""), signature("")) == 0.0
