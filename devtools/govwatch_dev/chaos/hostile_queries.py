"""The hostile-input suite's save-time cases: hostile subscription queries offered through the same validation the
CLI and the web app use; each must be refused with a reason, or accepted because it is bounded."""

from __future__ import annotations

import time

from elasticsearch import Elasticsearch

from govwatch.alerts.subscriptions import Filters
from govwatch_dev.chaos.hostile_report import Row

DEEP_QUERY = "(" * 1000 + "AI" + ")" * 1000  # 2,002 characters: the query of the first defect
HUGE_OR_QUERY = "AI OR " + " OR ".join(f"w{i}" for i in range(20_000))  # over any max_clause_count
SAVE_TIME_QUERIES = {  # hostile subscriptions offered through validation: each must be refused with a reason
    "1,000-deep nesting": DEEP_QUERY,
    "20,001 clauses": HUGE_OR_QUERY,
    "regex after a term": "a/.*/",
    "regex after NOT": "NOT/.*/",
    "regex in a field": "title:a/.*/",
    "leading wildcard": "*regulation",
    "very long query": "policy " * 2000,
}
# Accepted on purpose: a fuzzy term walks a two-edit automaton and keeps the best 50 terms (bounded, unlike a regex).
SAVE_TIME_ACCEPTED = {"fuzzy term": "regulation~2"}


def save_time_rows(es: Elasticsearch, stories_index: str) -> list[Row]:
    """One row per query of :data:`SAVE_TIME_QUERIES` (refused, timed) and :data:`SAVE_TIME_ACCEPTED` (accepted)."""
    from govwatch.alerts.query import validate
    from govwatch.errors import InvalidQuery

    rows: list[Row] = []
    for label, query in SAVE_TIME_QUERIES.items():
        started = time.monotonic()
        try:
            validate(es, stories_index, query, Filters())
            outcome, ok = "accepted", False
        except InvalidQuery as exc:
            outcome, ok = f"refused: {str(exc)[:110]}", True
        rows.append(Row("query at save", label, outcome, "-",
                        f"{(time.monotonic() - started) * 1000:.0f} ms", "clear refusal", ok))
    for label, query in SAVE_TIME_ACCEPTED.items():
        try:
            validate(es, stories_index, query, Filters())
            outcome, ok = "accepted (bounded: 2 edits, 50 expansions)", True
        except InvalidQuery as exc:
            outcome, ok = f"refused: {str(exc)[:110]}", False
        rows.append(Row("query at save", label, outcome, "-", "", "accepted", ok))
    return rows
