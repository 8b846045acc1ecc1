"""Property-based (hypothesis): the query pre-filter and the query checks never raise, whatever the text.

Deterministic (``derandomize=True``, no example database) so CI sees the same examples every run.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from govwatch.alerts.candidates import CandidateIndex, key_set
from govwatch.alerts.prefilter import BatchIndex, StoryFacts, requirement, satisfied, stories_satisfying
from govwatch.alerts.query import QueryLimits, cost_problems, lex, limit_problems, policy_problems

# Characters that mean something to Lucene's query syntax, weighted in so that the text is mostly syntax.
SYNTAX = [*list('()"\\/*?~^:+-![]{}&| '), "AND ", "OR ", "NOT ", "title:", "ai", "act", "fine", "é", "\u3000", "\n"]
HOSTILE_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(SYNTAX), max_size=200).map("".join),
    st.integers(min_value=0, max_value=3000).map(lambda n: "(" * n + "ai" + ")" * n),
    st.integers(min_value=0, max_value=3000).map(lambda n: "(" * n),
    st.integers(min_value=0, max_value=500).map(lambda n: '"' * n + "/" * n),
)
PROPS = hsettings(max_examples=200, derandomize=True, database=None, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(HOSTILE_TEXT)
def test_prefilter_never_raises(query: str) -> None:
    """Any text: a requirement or None, and every walk of it (key set, per-story and batch checks) answers."""
    req = requirement(query)
    key_set(req)
    CandidateIndex.of([req]).woken({"ai", "act"})
    story = StoryFacts.from_document("s", {"title": query[:200], "text": "ai act fine"})
    satisfied(req, story.tokens)
    stories_satisfying(req, BatchIndex.of([story]))


@PROPS
@given(HOSTILE_TEXT)
def test_query_checks_never_raise(query: str) -> None:
    """Any text: the lexer, the cost check and the limit check answer with lists (of plain-words reasons)."""
    assert all(0 <= tok.column < max(1, len(query)) for tok in lex(query))
    assert isinstance(cost_problems(query), list)
    assert isinstance(limit_problems(query, QueryLimits()), list)


@PROPS
@given(HOSTILE_TEXT, st.booleans())
def test_quick_policy_answer_agrees_with_the_full_check(query: str, allow_expensive: bool) -> None:
    """The alert stage's quick path never lets through a query the full lexing check would refuse."""
    limits = QueryLimits(max_chars=200, max_depth=3, max_clauses=8)
    full = limit_problems(query, limits) + ([] if allow_expensive else cost_problems(query))
    assert policy_problems(query, allow_expensive, limits) == full
