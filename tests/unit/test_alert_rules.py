"""Pure parts of alerting: query cost policy, plain-words parse errors, filters, ledger keys, pre-filter."""

from __future__ import annotations

import hashlib

import pytest

from govwatch.alerts.ledger import alert_id
from govwatch.alerts.prefilter import StoryFacts, candidates, requirement, satisfied, story_tokens
from govwatch.alerts.query import cost_problems, filter_clauses, plain_words, subscription_query
from govwatch.alerts.subscriptions import Destination, Filters, Subscription


@pytest.mark.parametrize("query", ["*act", "?ct", "title:*act", "foo AND -*bar", "(*ai)", "/ai.*/", "title:/ai.*/"])
def test_expensive_forms_are_refused(query: str) -> None:
    """Leading wildcards and regular expressions, bare or fielded, are reported with their column."""
    problems = cost_problems(query)
    assert len(problems) == 1
    assert "column" in problems[0]


@pytest.mark.parametrize("query", ['"AI Act" AND (fine OR enforcement)', "regulat*", '"*act"', "a\\*b", "*", "GPT-4o"])
def test_cheap_forms_pass(query: str) -> None:
    """Trailing wildcards, wildcards inside phrases, escaped stars and match-all are not flagged."""
    assert cost_problems(query) == []


def test_parse_error_in_plain_words() -> None:
    """Lucene's EOF parse error becomes 'query is incomplete at column N' with the original reason kept."""
    es_msg = ("org.elasticsearch.index.query.QueryShardException: Failed to parse query [\"AI Act\" AND (]; "
              "org.apache.lucene.queryparser.classic.ParseException: Cannot parse '\"AI Act\" AND (': "
              "Encountered \"<EOF>\" at line 1, column 14.\nWas expecting one of:\n    <NOT> ...")
    text = plain_words(es_msg)
    assert text.startswith("query is incomplete at column 14")
    assert 'Encountered "<EOF>" at line 1, column 14' in text


def test_unclosed_quote_in_plain_words() -> None:
    """A lexical EOF error (unterminated phrase) tells the user to close the quote."""
    es_msg = ("ParseException: Cannot parse '\"AI Act': Lexical error at line 1, column 8.  "
              "Encountered: <EOF> after prefix \"\\\"AI Act\" (in lexical state 2)")
    assert "quote is not closed" in plain_words(es_msg)


def test_filters_become_bool_filter_clauses() -> None:
    """Each non-empty filter is one terms/range clause; the query string has no fields and OR default."""
    f = Filters(topics=["compliance_enforcement"], countries=["FR", "DE"], sources=["Reuters"], min_relevance=0.5)
    assert filter_clauses(f) == [{"terms": {"topics": ["compliance_enforcement"]}},
                                 {"terms": {"countries": ["FR", "DE"]}}, {"terms": {"source": ["Reuters"]}},
                                 {"range": {"relevance": {"gte": 0.5}}}]
    q = subscription_query("x", Filters(), ids=["a"])["bool"]
    assert "fields" not in q["must"][0]["query_string"] and "default_field" not in q["must"][0]["query_string"]
    assert q["must"][0]["query_string"]["default_operator"] == "OR"
    assert q["filter"] == [{"ids": {"values": ["a"]}}]


def test_alert_id_is_sha256_of_subscription_and_cluster() -> None:
    """The ledger key is sha256(subscription_id + newline + cluster_id), stable across processes."""
    assert alert_id("sub-1", "c" * 64) == hashlib.sha256(("sub-1\n" + "c" * 64).encode()).hexdigest()
    assert alert_id("sub-1", "x") != alert_id("sub-2", "x")


def test_secrets_never_in_public_view_or_repr() -> None:
    """The webhook URL's secret path appears in the stored document only, never in repr or the public view."""
    sub = Subscription(name="n", query="ai", destination=Destination(
        kind="webhook", webhook_url="https://hooks.slack.com/services/T0/B0/SECRETXYZ"))
    assert "SECRETXYZ" not in repr(sub) and "SECRETXYZ" not in str(sub.public_view())
    assert sub.storage_document()["destination"]["webhook_url"].endswith("SECRETXYZ")


@pytest.mark.parametrize(("query", "tokens", "may_match"), [
    ('"AI Act" AND (fine OR enforcement)', {"ai", "act", "ai act", "fine"}, True),
    ('"AI Act" AND (fine OR enforcement)', {"ai", "act"}, False),
    ('"AI Act" AND (fine OR enforcement)', {"act", "fine"}, False),
    ("Ofcom OR NIST", {"nist"}, True),
    ("Ofcom OR NIST", {"ai"}, False),
    ("Ofcom OR regulat*", {"ai"}, True),           # a wildcard branch may match anything
    ("a AND b OR c", {"a", "b"}, True),            # Lucene: +a +b c
    ("a AND b OR c", {"c"}, False),
    ("a OR b AND c", {"b", "c"}, True),            # Lucene: a +b +c
    ("a OR b AND c", {"a"}, False),
    ("-ofcom", set(), True),                       # prohibited-only: cannot reason, keep it
    ("ofcom NOT nist", {"ofcom"}, True),
    ("title:ofcom", set(), True),                  # fielded: keep it
    ('"U.S. AI"', {"ai"}, True),                   # unknown word dropped, known word still required
    ('"U.S. AI"', {"us"}, False),
    ("AI-Act", set(), True),                       # hyphenated bare term: analysed into several tokens, keep
    ("date:[2020 TO 2021]", set(), True),          # ranges: give up on the whole query
])
def test_prefilter_requirement(query: str, tokens: set[str], may_match: bool) -> None:
    """The pre-filter's necessary condition follows Lucene's clause rules and only skips provable misses."""
    assert satisfied(requirement(query), tokens) is may_match


def test_story_tokens_cover_keyword_values_and_text() -> None:
    """Tokens come from every string field, lower-cased ASCII runs, so keyword values like the source are covered."""
    toks = story_tokens({"title": "EU's AI-Act: Fines", "source": "Reuters", "entity_names": ["G7"]})
    assert {"eu", "s", "ai", "act", "fines", "reuters", "g7"} <= toks


def test_candidates_respect_filters_exactly() -> None:
    """A story outside the subscription's country filter is not a candidate; relevance keeps float slack."""
    doc = {"title": "Ofcom fines", "countries": ["GB"], "relevance": 0.5, "topics": [], "entity_ids": []}
    facts = [StoryFacts.from_document("s1", doc)]
    toks = facts[0].tokens
    assert candidates(requirement("ofcom"), Filters(countries=["GB"]), facts, toks) == ["s1"]
    assert candidates(requirement("ofcom"), Filters(countries=["FR"]), facts, toks) == []
    assert candidates(requirement("ofcom"), Filters(min_relevance=0.5), facts, toks) == ["s1"]


def test_indexed_candidates_equal_per_story_check() -> None:
    """The inverted-index pre-filter gives exactly the per-story ``candidates`` list, in batch order, on random
    batches."""
    import random

    from govwatch.alerts.prefilter import BatchIndex, candidates_indexed

    rng = random.Random(3)
    words = [f"w{i}" for i in range(12)]
    queries = ['"w1 w2" AND (w3 OR w4)', "w1 OR w5", "w6 AND w7 -w8", "(w9 OR w10) AND w11", "w0", "title:w1 OR w2",
               "w1 AND w2 AND w3", "regul* OR w4", "-w1"]
    for _ in range(50):
        docs = {f"s{j}": {"title": " ".join(rng.sample(words, 4)), "countries": [rng.choice(["GB", "FR"])],
                          "relevance": rng.random(), "topics": [], "entity_ids": []} for j in range(8)}
        facts = [StoryFacts.from_document(i, d) for i, d in docs.items()]
        batch = frozenset().union(*(f.tokens for f in facts))
        index = BatchIndex.of(facts)
        for q in queries:
            for f in (Filters(), Filters(countries=["GB"]), Filters(min_relevance=0.5)):
                assert (candidates_indexed(requirement(q), f, index)
                        == candidates(requirement(q), f, facts, batch)), (q, f)


def test_combined_search_names_each_subscription_query() -> None:
    """A combined search holds each subscription's own query, named by its id, restricted to its candidates only
    when the pre-filter narrowed them; the search covers the union of candidates and reads no source or highlight."""
    from govwatch.alerts.match_bodies import combined_body

    def mk(i: str, q: str, f: Filters | None = None) -> Subscription:
        return Subscription(id=i, name=i, query=q, filters=f or Filters(), destination=Destination(
            kind="webhook", webhook_url="https://hooks.slack.com/services/T0/B0/X"))

    a, b = mk("a", '"AI Act" AND fine', Filters(countries=["FR"])), mk("b", "Ofcom")
    body = combined_body([(a, ["s2"]), (b, ["s1", "s2", "s3"])], ["s1", "s2", "s3"])
    outer = body["query"]["bool"]["filter"]
    assert outer[0] == {"ids": {"values": ["s1", "s2", "s3"]}}
    inner = outer[1]["bool"]
    assert inner["minimum_should_match"] == 1
    expected_a = subscription_query(a.query, a.filters, ids=["s2"])
    expected_a["bool"]["_name"] = "a"
    expected_b = subscription_query(b.query, b.filters)
    expected_b["bool"]["_name"] = "b"
    assert inner["should"] == [expected_a, expected_b]
    assert body["size"] == 3 and body["_source"] is False and "highlight" not in body
