"""The entity CRF (govwatch.enrich.ner_model) and how extract_entities combines it with the rules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from govwatch.enrich import ner_model
from govwatch.enrich.entities import extract_entities
from govwatch.enrich.gazetteer import load_gazetteer, tokenize


class FakeTagger:
    """Tags the tokens whose surface is in `labels` (BIO label per word) with the given confidence."""

    def __init__(self, labels: dict[str, str], confidence: float = 0.99) -> None:
        self.labels = labels
        self.confidence = confidence

    def tag(self, xseq: Sequence[Sequence[str]]) -> list[str]:
        words = [next(f[2:] for f in feats if f.startswith("w=")) for feats in xseq]
        return [self.labels.get(w, "O") for w in words]

    def marginal(self, label: str, position: int) -> float:
        return self.confidence


@pytest.fixture
def fake() -> Iterator[type[FakeTagger]]:
    yield FakeTagger
    ner_model.use_tagger(None)


def _people(text: str) -> set[str]:
    return {e.name for e in extract_entities("", text, load_gazetteer()) if e.type == "person"}


def test_bio_labels_become_spans() -> None:
    """B-/I- runs become (label, i, j) spans from the window's offset; a stray I- starts a span of its own."""
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-PER", "O", "I-ORG"]
    assert ner_model.spans_from_labels(labels, 10) == [
        ("PER", 11, 13), ("ORG", 13, 14), ("PER", 14, 15), ("ORG", 16, 17)]


def test_only_windows_around_undecided_capitalised_words_are_tagged() -> None:
    """A capitalised word the rules took (blocked) or a sentence word ("The") opens no window; others open
    WINDOW tokens either side, merged where they touch."""
    tokens = tokenize("The committee met Ada Obi and then for a long time nobody spoke to the board of Acme in Lagos"
                      " today . The end")
    words = [t[0] for t in tokens]
    lagos, ada, acme, end = words.index("Lagos"), words.index("Ada"), words.index("Acme"), words.index("end")
    segs = ner_model.segments(tokens, [""] * len(tokens), blocked={lagos})
    assert segs == [(ada - 2, ada + 4), (acme - 2, acme + 3)]
    assert ner_model.WINDOW == 2 and end - acme > 5


def test_packaged_model_loads_and_adds_what_the_rules_missed() -> None:
    """The wheel's model is found, and on a news sentence it adds the company names without a legal suffix or
    cue word that the rules leave alone (the news-trained model, issue 26: fintech names of a news story)."""
    assert ner_model.tagger() is not None
    text = "Chime and Varo compete with GoBank for customers."
    orgs = {e.name for e in extract_entities("", text, load_gazetteer()) if e.type == "org"}
    assert {"Varo", "GoBank"} <= orgs


def test_model_vetoes_a_rule_organisation_it_calls_a_conference() -> None:
    """A learned society named as the venue of research ("the annual meeting of the Association for
    Computational Linguistics") is the conference, as CrossNER labels it, not an organisation facet."""
    text = "The paper appeared at the annual meeting of the Association for Computational Linguistics in 2018."
    assert not [e for e in extract_entities("", text, load_gazetteer()) if e.type == "org"]


def test_model_person_passes_the_rules_vetoes(fake: type[FakeTagger]) -> None:
    """A span the model calls a person is kept only without a place/role word, outside a list of brands, and a
    lone given name only when it is the given name of a full name in the story."""
    ner_model.use_tagger(fake({"hayes": "B-PER", "street": "I-PER", "zanele": "B-PER", "mokoena": "I-PER",
                               "inter": "B-PER", "milan": "I-PER", "david": "B-PER"}))
    assert _people("Hayes Street was closed.") == set()
    assert _people("He coached FC Porto, Inter Milan and others.") == set()
    assert _people("David is joined by colleagues.") == set()
    assert _people("The plan for Zanele Mokoena is late.") == {"Zanele Mokoena"}


def test_lone_given_name_merges_into_the_full_name(fake: type[FakeTagger]) -> None:
    """A lone given name the model tags counts as a mention of the full name found in the same story."""
    ner_model.use_tagger(fake({"ivan": "B-PER"}))
    text = "The firm hired Ivan Braiker as strategy chief. Ivan led that company for ten years."
    people = {e.name: e.mentions for e in extract_entities("", text, load_gazetteer()) if e.type == "person"}
    assert people == {"Ivan Braiker": 2}


def test_low_confidence_spans_are_not_used(fake: type[FakeTagger]) -> None:
    """A span below the label's MIN_CONFIDENCE is dropped: the rules alone decide."""
    text = "The plan for Nkiru Obadike is late."
    ner_model.use_tagger(fake({"nkiru": "B-PER", "obadike": "I-PER"}, confidence=0.95))
    assert _people(text) == {"Nkiru Obadike"}
    ner_model.use_tagger(fake({"nkiru": "B-PER", "obadike": "I-PER"}, confidence=0.3))
    assert _people(text) == set()


def test_a_comma_apposition_is_not_a_list(fake: type[FakeTagger]) -> None:
    """A lone surname before ", a businessman" is a person the model may keep; the same word between brands in a
    comma list ("Ford, Obadike, Kellogg's") is as often a brand and needs a listed person next to it."""
    ner_model.use_tagger(fake({"obadike": "B-PER"}))
    assert _people("Obadike, a businessman, ran for the seat.") == {"Obadike"}
    assert _people("Shares of Ford, Obadike, Kellogg's and others fell.") == set()


def test_a_word_after_an_organisation_is_its_product_not_a_person(fake: type[FakeTagger]) -> None:
    """"Google Keep ... Keep is still available": the lone word the model calls a person names the company's
    product elsewhere in the story."""
    ner_model.use_tagger(fake({"keep": "B-PER"}))
    assert _people("Google Keep lost its watch app. Keep is still available on phones.") == set()
    assert _people("Keep is still available on phones.") == {"Keep"}  # the model alone decides without that clue
