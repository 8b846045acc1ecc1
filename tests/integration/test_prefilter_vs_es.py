"""Property-based (hypothesis) on the real node: the pre-filter never drops a story Elasticsearch would match.

Small queries (words, phrases with and without slop, prefixes, fuzzy terms, boosts, fields, hyphenated words,
AND/OR/NOT/+/-/&&/||, groups) and small documents are generated from a limited vocabulary; the documents are
indexed into a private index made from the stories template (same analyzers, same default fields), and every
story Elasticsearch returns for the subscription's own ``query_string`` must be among the pre-filter's
candidates and woken by the candidate index. Deterministic (``derandomize=True``) and modest (150 examples).
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from govwatch.adapters.es_io import load_schema, make_client
from govwatch.alerts.candidates import CandidateIndex
from govwatch.alerts.prefilter import BatchIndex, StoryFacts, candidates_indexed, requirement, story_tokens
from govwatch.alerts.query import query_string_clause
from govwatch.alerts.subscriptions import Filters

VOCAB = ["ai", "act", "fine", "fines", "ofcom", "nist", "eu", "risk", "x1", "2024", "régulation", "AI", "Act"]
FILLER = ["the", "of", "-", ",", ".", "'s", "/", "AI-Act", "e.u.", "ofcom's"]

word = st.sampled_from(VOCAB)
leaf = st.one_of(
    word,
    word.map(lambda w: f"{w[:2]}*"),
    word.map(lambda w: f"{w}~1"),
    word.map(lambda w: f"{w}^2"),
    word.map(lambda w: f"title:{w}"),
    st.tuples(word, word).map(lambda p: f"{p[0]}-{p[1]}"),
    st.lists(word, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.lists(word, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"~2'),
)
OPERATORS = [" ", " AND ", " OR ", " && ", " || ", " AND NOT ", " -", " +"]


def _join(parts: tuple[str, str, str]) -> str:
    left, op, right = parts
    # one modifier per clause: after -, + or NOT the right side is a group (Lucene refuses "a -+b", "NOT +b")
    return f"{left}{op}({right})" if op.strip() in ("-", "+", "AND NOT") else f"{left}{op}{right}"


query = st.recursive(leaf, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(OPERATORS), inner).map(_join),
    inner.map(lambda q: f"({q})"),
    inner.map(lambda q: f"+({q})"),
    inner.map(lambda q: f"-({q}) ai"),
    inner.map(lambda q: f"NOT ({q})"),
), max_leaves=6)
text = st.lists(st.one_of(word, st.sampled_from(FILLER)), max_size=12).map(" ".join)
document = st.fixed_dictionaries({"title": text, "text": text, "source": st.sampled_from(["Ofcom", "NIST news", "x"])})


def test_prefilter_never_drops_what_elasticsearch_matches(settings) -> None:  # noqa: ANN001
    """For generated queries and documents, every story ES matches is a pre-filter candidate and woken by the index."""
    es = make_client(settings.es_url)
    index = f"{settings.index_prefix}-stories-prefilter-props"
    template = load_schema("stories.template.json", settings.index_prefix)["template"]
    es.indices.create(index=index, settings=template["settings"], mappings=template["mappings"])
    ids = itertools.count()
    checked = {"examples": 0, "matched": 0}

    @hsettings(max_examples=150, derandomize=True, database=None, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(q=query, docs=st.lists(document, min_size=1, max_size=4))
    def check(q: str, docs: list[dict[str, str]]) -> None:
        batch = {f"d{next(ids)}": doc for doc in docs}
        ops = [line for sid, doc in batch.items() for line in ({"index": {"_index": index, "_id": sid}}, doc)]
        assert not es.bulk(operations=ops, refresh=True)["errors"]
        resp = es.options(ignore_status=400).search(
            index=index, size=len(batch), _source=False,
            query={"bool": {"must": [query_string_clause(q, allow_expensive=True)],
                            "filter": [{"ids": {"values": list(batch)}}]}})
        assert resp.meta.status == 200, (q, resp.body)  # the grammar only makes valid queries
        matched = {hit["_id"] for hit in resp["hits"]["hits"]}
        req = requirement(q)
        stories = [StoryFacts.from_document(sid, doc) for sid, doc in batch.items()]
        kept = set(candidates_indexed(req, Filters(), BatchIndex.of(stories)))
        assert matched <= kept, (q, {sid: batch[sid] for sid in matched - kept}, req)
        if matched:  # the candidate index wakes the subscription for this batch
            batch_tokens = frozenset().union(*(story_tokens(doc) for doc in batch.values()))
            assert CandidateIndex.of([req]).woken(batch_tokens) == [0], (q, req)
        checked["examples"] += 1
        checked["matched"] += bool(matched)

    try:
        check()
    finally:
        es.indices.delete(index=index, ignore_unavailable=True)
    # the property was exercised on real matches, not only on empty answers
    assert checked["examples"] >= 100 and checked["matched"] >= 20, checked
