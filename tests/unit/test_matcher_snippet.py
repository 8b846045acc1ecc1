"""Local alert snippets have the shape of the Elasticsearch highlight the matcher used to request."""

from __future__ import annotations

from govwatch.alerts.snippet import query_terms, snippet


def test_terms_of_a_query() -> None:
    """Positive words, phrases and trailing-* prefixes are highlighted; prohibited clauses and field names are not."""
    terms = query_terms('"AI Act" AND (fine OR title:enforcement) -Ofcom NOT (NIST OR summit) regulat* x^2')
    assert terms.words == {"fine", "enforcement", "x"}
    assert terms.phrases == (("ai", "act"),) and terms.prefixes == ("regulat",)


def test_sentences_and_tags_as_elasticsearch_gives_them() -> None:
    """Sentences that fit in 160 characters around the best hit, each token in its own <em> (seen from ES 8.19)."""
    text = ("The AI Act enforcement began with a fine in Brussels. Then other things happened that are long enough "
            "to matter for the sentence. And yet another sentence about Ofcom here.")
    assert snippet({"text": text}, '"AI Act" AND (fine OR enforcement)') == (
        "The <em>AI</em> <em>Act</em> <em>enforcement</em> began with a <em>fine</em> in Brussels. Then other things "
        "happened that are long enough to matter for the sentence.")
    assert snippet({"text": text}, "Ofcom") == "And yet another sentence about <em>Ofcom</em> here."


def test_phrase_words_only_where_the_phrase_is() -> None:
    """A phrase's words are highlighted where the phrase occurs, not elsewhere."""
    assert snippet({"text": "An act on AI. The AI Act."}, '"AI Act"') == "The <em>AI</em> <em>Act</em>."


def test_long_sentence_is_cut_at_words_ending_at_the_hit() -> None:
    """A sentence longer than the fragment: 160 characters back from a late hit, ending with it (as ES 8.19 gave);
    from the sentence start and forward with the rest of the 160 for an early hit."""
    text = " ".join(["filler"] * 60) + " Ofcom " + " ".join(["tail"] * 40)
    got = snippet({"text": text}, "ofcom")
    assert got.endswith("<em>Ofcom</em>") and got.startswith("filler")
    assert len(got.replace("<em>", "").replace("</em>", "")) <= 160 + len(" Ofcom")
    early = snippet({"text": "intro words here Ofcom " + " ".join(["tail"] * 80)}, "ofcom")
    assert early.startswith("intro words here <em>Ofcom</em> tail") and 155 <= len(early) - 9 <= 165


def test_field_order_and_no_match() -> None:
    """Text first (its opening words when no term is in it), then summary, then the title only when highlighted."""
    long_text = "Nothing relevant here at all in the body text which is quite long and keeps going on and on " * 3
    got = snippet({"title": "Ofcom opens probe", "text": long_text}, "Ofcom")
    assert "<em>" not in got and long_text.startswith(got) and 160 <= len(got) < 170
    assert snippet({"title": "Ofcom opens probe", "summary": "Ofcom said so."}, "ofcom") == "<em>Ofcom</em> said so."
    assert snippet({"title": "Ofcom opens probe"}, "ofcom") == "<em>Ofcom</em> opens probe"
    assert snippet({"title": "Ofcom opens probe"}, "NIST") == ""
