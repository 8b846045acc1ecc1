"""Language identification."""

from __future__ import annotations

from enrich_golden import load_story

from govwatch.enrich.language import detect_language


def test_detects_english_real_story() -> None:
    """A real English news story is "en"."""
    story = load_story("verge-senate-ai-moratorium")
    assert detect_language(story["text"]) == "en"


def test_detects_german_french_chinese() -> None:
    """German, French and Chinese sentences get their ISO 639-1 codes."""
    assert detect_language("Die Europäische Kommission hat heute neue Regeln für künstliche Intelligenz "
                           "vorgestellt.") == "de"
    assert detect_language("La Commission européenne a présenté aujourd'hui de nouvelles règles sur "
                           "l'intelligence artificielle.") == "fr"
    assert detect_language(load_story("hand-xinhua-zh")["text"]) == "zh"


def test_too_little_text_is_none() -> None:
    """Empty text, numbers and a two-word fragment give None rather than a guess."""
    assert detect_language("") is None
    assert detect_language("2025 - 12 - 01") is None
    assert detect_language("AI Act") is None
