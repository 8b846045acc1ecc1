"""Alert queries: the Elasticsearch request a subscription stands for, and its validation.

The query is the user's Lucene query string exactly as typed, run by ``query_string`` with no explicit
fields, so the stories index's ``index.query.default_field`` applies (the same fields Kibana searches)
and ``default_operator`` is OR, as in Kibana's Lucene mode. Elasticsearch is the judge of syntax:
``validate`` asks ``_validate/query`` and turns Lucene's parser message into plain words. Our own
check refuses the expensive forms (leading wildcards scan the whole term dictionary; regular
expressions compile an automaton per shard per search) unless the subscription allows them.
"""

from __future__ import annotations

import re
from typing import Any

from elasticsearch import Elasticsearch

from govwatch import es_io
from govwatch.alerts.subscriptions import Filters
from govwatch.errors import InvalidQuery

# Query-string operators that may precede a term without a space.
_PREFIX_CHARS = "+-!("


def query_string_clause(query: str, allow_expensive: bool = False) -> dict[str, Any]:
    """The ``query_string`` clause for a subscription query (no fields: the index default applies)."""
    return {"query_string": {"query": query, "default_operator": "OR", "analyze_wildcard": True,
                             "allow_leading_wildcard": allow_expensive}}


def filter_clauses(filters: Filters) -> list[dict[str, Any]]:
    """``bool.filter`` clauses for the structured filters (non-scoring, cached by Elasticsearch)."""
    out: list[dict[str, Any]] = []
    for field, values in (("topics", filters.topics), ("entity_ids", filters.entity_ids),
                          ("countries", filters.countries), ("source", filters.sources),
                          ("language", filters.languages)):
        if values:
            out.append({"terms": {field: list(values)}})
    if filters.min_relevance is not None:
        out.append({"range": {"relevance": {"gte": filters.min_relevance}}})
    return out


def subscription_query(query: str, filters: Filters, allow_expensive: bool = False,
                       ids: list[str] | None = None) -> dict[str, Any]:
    """The full query of a subscription, optionally restricted to some story ids."""
    flt = filter_clauses(filters)
    if ids is not None:
        flt.append({"ids": {"values": list(ids)}})
    return {"bool": {"must": [query_string_clause(query, allow_expensive)], "filter": flt}}


def _scan(query: str) -> list[tuple[int, str]]:
    """Bare terms (outside quotes) with their 0-based positions; escapes (\\x) are kept in the term."""
    terms: list[tuple[int, str]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch == '"':  # a phrase: nothing inside is a wildcard or regex
            i += 1
            while i < n and query[i] != '"':
                i += 2 if query[i] == "\\" else 1
            i += 1
        elif ch.isspace() or ch in "()":
            i += 1
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in '()"':
                i += 2 if query[i] == "\\" else 1
            terms.append((start, query[start:i]))
    return terms


def cost_problems(query: str) -> list[str]:
    """Plain-words reasons the query is expensive (leading wildcard, regular expression); [] when cheap."""
    problems: list[str] = []
    for pos, term in _scan(query):
        value = term.lstrip(_PREFIX_CHARS)
        offset = len(term) - len(value)
        if ":" in value and not value.startswith("\\"):  # field:value, check the value part
            field, _, rest = value.partition(":")
            offset += len(field) + 1
            value = rest.lstrip(_PREFIX_CHARS)
        if value.startswith("/"):
            problems.append(f"regular expression {value!r} at column {pos + offset}: regexes are compiled and "
                            "run against every term in the index; use plain words or phrases")
        elif value[:1] in ("*", "?") and value not in ("*",):
            problems.append(f"leading wildcard {value!r} at column {pos + offset}: it scans every term in the "
                            "index; put the wildcard at the end (e.g. 'regulat*') or list the words")
    return problems


_CANNOT_PARSE = re.compile(r"Cannot parse '(?P<q>.*?)': (?P<why>.*)", re.S)
_ENCOUNTERED = re.compile(r'Encountered "?\s*(?P<tok>.*?)"? at line (?P<line>\d+), column (?P<col>\d+)', re.S)
_LEXICAL = re.compile(r"Lexical error at line (?P<line>\d+), column (?P<col>\d+)\.\s+Encountered: (?P<tok>\S+)")


def plain_words(es_error: str) -> str:
    """Turn a Lucene ParseException message into a short explanation with the column and a fix."""
    match = _CANNOT_PARSE.search(es_error)
    why = match.group("why").strip() if match else es_error.strip()
    first_line = why.splitlines()[0] if why else ""
    if (lex := _LEXICAL.search(why)) is not None:
        col = lex.group("col")
        if lex.group("tok") == "<EOF>":
            return (f"query is incomplete at column {col}: a quote is not closed ({first_line}); "
                    'close the phrase with a second "')
        return f"query has an unexpected character at column {col} ({first_line}); escape it with \\"
    if (enc := _ENCOUNTERED.search(why)) is not None:
        col, token = enc.group("col"), enc.group("tok").strip().strip('"').strip()
        if "<EOF>" in token:
            return (f"query is incomplete at column {col}: {first_line}; close every '(' and quote, and give "
                    "AND/OR/NOT something on both sides")
        shown = token.split('"')[-1].strip() or token
        return (f"query has an unexpected {shown!r} at column {col}: {first_line}; check parentheses and "
                "operators, or escape the character with \\ (or put the words in quotes)")
    if "not allowed as first character" in why:
        return (f"query starts a word with a wildcard ({first_line}); leading wildcards are refused as too "
                "expensive: put the wildcard at the end or pass --allow-expensive")
    return f"query rejected by Elasticsearch: {first_line[:300]}"


def validate(es: Elasticsearch, alias: str, query: str, filters: Filters, allow_expensive: bool = False) -> None:
    """Raise InvalidQuery (with position, reason and fix) unless the query is cheap and Elasticsearch accepts it."""
    if not allow_expensive:
        problems = cost_problems(query)
        if problems:
            raise InvalidQuery("query refused as too expensive: " + "; ".join(problems)
                               + " (or pass --allow-expensive if you accept the cost)")
    body = subscription_query(query, filters, allow_expensive)
    try:
        resp = es.indices.validate_query(index=alias, query=body, explain=True)
    except Exception as exc:  # noqa: BLE001 - translated at the edge
        raise es_io.translate(exc, "query validation") from exc
    if resp.get("valid"):
        return
    errors = [e.get("error", "") for e in resp.get("explanations", []) if not e.get("valid", True)]
    raise InvalidQuery(plain_words(errors[0] if errors else str(resp.get("error", "unknown error"))))
