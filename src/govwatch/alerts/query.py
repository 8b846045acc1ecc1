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
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.subscriptions import Filters
from govwatch.errors import InvalidQuery


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


@dataclass(frozen=True)
class QueryLimits:
    """Save-time bounds on a query (settings ``alert_query_max_*``); the alert stage applies them again."""

    max_chars: int = 2000
    max_depth: int = 20
    max_clauses: int = 150


def query_limits(settings: Any) -> QueryLimits:  # noqa: ANN401 - govwatch.settings.Settings (not imported here)
    """The limits configured in the settings (``alert_query_max_*``)."""
    return QueryLimits(settings.alert_query_max_chars, settings.alert_query_max_depth,
                       settings.alert_query_max_clauses)


# Characters that end a term in Lucene's classic query parser (QueryParser.jj, _TERM_START_CHAR's exclusions, less
# '-' and '+', which may continue a term once started). '*' and '?' continue a term as wildcards.
_TERM_BREAK = frozenset(' \t\n\r\u3000!():^[]"{}~/')
_OPERATOR_WORDS = frozenset({"AND", "OR", "NOT", "&&", "||"})


@dataclass(frozen=True)
class Lexeme:
    """One token of a query as Lucene's classic parser cuts it: kind is term, phrase, regex, range, open, close, op."""

    kind: str
    text: str
    column: int  # 0-based position in the query (what the web form's cursor placement expects)


def lex(query: str) -> list[Lexeme]:
    """The query's tokens, following the classic parser's lexer (iterative; never raises).

    What matters for cost: an unescaped ``/`` outside a phrase or range *always* starts a regular
    expression, wherever it stands (``a/.*/``, ``NOT/.*/``, ``title:a/.*/``, ``(/x/)``): '/' is not a term
    character, so it ends the term before it. A term starting with ``*`` or ``?`` is a leading wildcard
    after whatever ends the previous token (space, operator, ``field:``, parenthesis).
    """
    out: list[Lexeme] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            j = i + 1
            while j < n and query[j] != '"':
                j += 2 if query[j] == "\\" else 1
            out.append(Lexeme("phrase", query[i:j + 1], i))
            i = j + 1
        elif ch == "/":  # a regex runs to the next unescaped '/' (or, unclosed, to the end: ES refuses it anyway)
            j = i + 1
            while j < n and query[j] != "/":
                j += 2 if query[j] == "\\" else 1
            out.append(Lexeme("regex", query[i:j + 1], i))
            i = j + 1
        elif ch in "[{":  # a range: '*' and '/' inside are bounds, not wildcards or regexes
            j = i + 1
            while j < n and query[j] not in "]}":
                if query[j] == '"':
                    j += 1
                    while j < n and query[j] != '"':
                        j += 2 if query[j] == "\\" else 1
                j += 2 if j < n and query[j] == "\\" else 1
            out.append(Lexeme("range", query[i:j + 1], i))
            i = j + 1
        elif ch == "(":
            out.append(Lexeme("open", ch, i))
            i += 1
        elif ch == ")":
            out.append(Lexeme("close", ch, i))
            i += 1
        elif ch in "+-!:^~]}":
            out.append(Lexeme("op", ch, i))
            i += 1
            if ch in "^~":  # a boost or a fuzziness/slop: a number, not a term
                while i < n and (query[i].isdigit() or query[i] == "."):
                    i += 1
        else:
            j = i
            while j < n and (j == i or query[j] not in _TERM_BREAK):
                j += 2 if query[j] == "\\" else 1
            text = query[i:j]
            out.append(Lexeme("op" if text in _OPERATOR_WORDS else "term", text, i))
            i = j
    return out


def cost_problems(query: str) -> list[str]:
    """Plain-words reasons the query is expensive (leading wildcard, regular expression); [] when cheap.

    Fuzzy terms (``word~``) are allowed: Lucene intersects a Levenshtein automaton of at most two edits with
    the term dictionary and keeps the best ``fuzzy_max_expansions`` (50) terms, so one costs a bounded walk,
    not a scan of every term as ``*word`` or ``/.*x/`` does; the clause limit and the search timeout bound them.
    """
    problems: list[str] = []
    for tok in lex(query):
        if tok.kind == "regex":
            problems.append(f"regular expression {tok.text!r} at column {tok.column}: regexes are compiled and "
                            "run against every term in the index (any '/' outside quotes starts one); use plain "
                            "words or phrases, or escape the slash as \\/")
        elif tok.kind == "term" and tok.text[:1] in ("*", "?") and tok.text != "*":
            problems.append(f"leading wildcard {tok.text!r} at column {tok.column}: it scans every term in the "
                            "index; put the wildcard at the end (e.g. 'regulat*') or list the words")
    return problems


def limit_problems(query: str, limits: QueryLimits) -> list[str]:
    """Plain-words reasons the query is over the size limits (length, nesting depth, clauses); [] when within."""
    problems: list[str] = []
    if len(query) > limits.max_chars:
        problems.append(f"query is {len(query)} characters long, over the limit of {limits.max_chars}: split it "
                        "into several subscriptions or use filters (topics, entities, countries)")
    toks = lex(query)
    depth = deepest = 0
    for tok in toks:
        if tok.kind == "open":
            depth += 1
            deepest = max(deepest, depth)
        elif tok.kind == "close":
            depth -= 1
    if deepest > limits.max_depth:
        problems.append(f"parentheses are nested {deepest} deep, over the limit of {limits.max_depth}: remove "
                        "the redundant ones (a group of one clause needs none)")
    clauses = sum(1 for tok in toks if tok.kind in ("term", "phrase", "regex", "range"))
    if clauses > limits.max_clauses:
        problems.append(f"query has {clauses} terms, over the limit of {limits.max_clauses} (each is searched in "
                        "every default field): split it into several subscriptions or use filters")
    return problems


# Characters each of which may start a token of its own: a bound on the token count without lexing.
_SPLITTERS = '()"/[]{}:+-!^~'


def _surely_fine(query: str, allow_expensive: bool, limits: QueryLimits) -> bool:
    """A quick answer for most queries (the alert stage checks every stored one on each re-read): within every limit
    by upper bounds (depth <= count of '(', tokens <= words + splitter characters), and no character that could
    start a regex or a wildcard."""
    if len(query) > limits.max_chars or query.count("(") > limits.max_depth:
        return False
    if len(query.split()) + sum(query.count(c) for c in _SPLITTERS) > limits.max_clauses:
        return False
    return allow_expensive or not any(c in query for c in "/*?")


def policy_problems(query: str, allow_expensive: bool, limits: QueryLimits) -> list[str]:
    """Everything our own policy refuses in a query (limits, then cost unless allowed); [] when acceptable."""
    if _surely_fine(query, allow_expensive, limits):
        return []
    problems = limit_problems(query, limits)
    if not allow_expensive:
        problems += cost_problems(query)
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


# How to lift the cost refusal, by who asks: an operator at the CLI, or a web/API user (only an admin may).
HINT_CLI = "or pass --allow-expensive if you accept the cost"
HINT_ADMIN = "or tick \"allow expensive\" if you accept the cost"
HINT_USER = "only an administrator can allow an expensive query"


def validate(es: Elasticsearch, alias: str, query: str, filters: Filters, allow_expensive: bool = False,
             limits: QueryLimits | None = None, hint: str = HINT_CLI, timeout_s: float | None = None) -> None:
    """Raise InvalidQuery (with position, reason and fix) unless the query is within the limits, cheap (or allowed
    to be expensive) and Elasticsearch accepts it. Our checks run first: they are local and bounded."""
    too_big = limit_problems(query, limits or QueryLimits())
    if too_big:
        raise InvalidQuery("query refused: " + "; ".join(too_big))
    if not allow_expensive:
        problems = cost_problems(query)
        if problems:
            raise InvalidQuery("query refused as too expensive: " + "; ".join(problems) + f" ({hint})")
    body = subscription_query(query, filters, allow_expensive)
    client = es.options(request_timeout=timeout_s) if timeout_s else es
    try:
        resp = client.indices.validate_query(index=alias, query=body, explain=True)
    except Exception as exc:  # translated at the edge
        raise es_io.translate(exc, "query validation") from exc
    if resp.get("valid"):
        return
    errors = [e.get("error", "") for e in resp.get("explanations", []) if not e.get("valid", True)]
    raise InvalidQuery(plain_words(errors[0] if errors else str(resp.get("error", "unknown error"))))
