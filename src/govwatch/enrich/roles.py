"""Whether an organisation mention only cites the origin of information (role "source") or is an actor ("subject").

An analyst filtering on organisations wants the companies and agencies a story is about, not the outlets it
quotes (issue 26; docs/entity-guidelines.md section 4). A mention is a citation when its context says so:

* before it: "according to (the|a new)", "told (the)", "telling", "said in a statement (emailed) to", "spoke to",
  "tells", "per (the)", "reports for", "in an interview with (the)", "credit:", "data/figures/survey/report ... from|by
  (the)", "obtained by", "published by", "reported by", "investigation by";
* after it: "reported" / "reports" / "report" (not "reported earnings", "reported a loss": a company's own
  results make it the subject), "calculations", "poll";
* a wire credit: the name in brackets right after a dateline or at the start of a line, "NEW YORK (Reuters) -",
  "(AP) —", "(CNN)".

An entity is a source when every one of its mentions in the story is a citation; one mention as an actor makes
it a subject ("The New York Times sued OpenAI ... the Times reported").
"""

from __future__ import annotations

Token = tuple[str, int, int]

# one or two words right before the name (after an optional "the"/"a"/"a new")
_BEFORE_ONE = frozenset({"told", "tells", "telling", "per", "via", "credit", "obtained by", "published by",
                         "reported by", "investigation by", "report by", "reports for", "wrote for", "writes for",
                         "spoke to", "speaking to", "statement to", "interview with", "according to", "data from",
                         "figures from", "survey from", "survey by", "poll by", "report from", "study by",
                         "guidance from", "estimates from", "data by", "emailed to", "cited by", "sources told",
                         "reports", "reported"})
_LEADERS = frozenset({"the", "a", "an", "new", "recent", ":"})
_AFTER = frozenset({"reported", "reports", "report", "calculations", "poll", "survey", "reporting", "journalist",
                    "reporter", "correspondent", "photographer", "columnist"})
# "Microsoft reported earnings": a company's own results, not a citation
_OWN_RESULTS = frozenset({"earnings", "revenue", "revenues", "profit", "profits", "sales", "a", "an", "its", "their",
                          "net", "record", "quarterly", "loss", "losses", "income", "results", "growth"})
MAX_BYLINE_WORDS = 3  # a reporter's name between an outlet and its cue: "Axios' Kaveh Waddell reports"
_DASHES = frozenset({"-", "\u2014", "\u2013", "--"})


def _before(tokens: list[Token], a: int) -> bool:
    k = a - 1
    if k >= 1 and tokens[k][0] == "the" and tokens[k - 1][0] == "of":
        k -= 2  # "according to Sui-Lee Wee of the New York Times": the reporter's outlet
        start = k
        while k >= 0 and start - k < MAX_BYLINE_WORDS and tokens[k][0][:1].isupper():
            k -= 1
        if k == start:
            return False
        a = k + 1
        k = a - 1
    while k >= 0 and tokens[k][0].lower() in _LEADERS and tokens[k][0] != ":":
        k -= 1  # "according to the", "according to a new"
    if k >= 0 and tokens[k][0] == ":":
        k -= 1  # "Main image credit: Getty"
    if k < 0:
        return False
    one = tokens[k][0].lower()
    two = f"{tokens[k - 1][0].lower()} {one}" if k >= 1 else ""
    return one in _BEFORE_ONE or two in _BEFORE_ONE


def _after(tokens: list[Token], b: int) -> bool:
    if b < len(tokens) and tokens[b][0] in ("'s", "'"):
        b += 1  # "Reuters' calculations", "CNN's chief medical correspondent", "Axios' Kaveh Waddell reports"
        k = b
        while k < len(tokens) and k - b < MAX_BYLINE_WORDS and (tokens[k][0][:1].isupper()
                                                                or tokens[k][0] in ("chief", "medical")):
            k += 1
        if k > b and k < len(tokens) and tokens[k][0].lower() in _AFTER:
            return True
    if b >= len(tokens) or tokens[b][0].lower() not in _AFTER:
        return False
    nxt = tokens[b + 1][0].lower() if b + 1 < len(tokens) else ""
    return tokens[b][0].lower() != "reported" or nxt not in _OWN_RESULTS


def _wire_credit(tokens: list[Token], a: int, b: int, text: str) -> bool:
    """"WASHINGTON (AP) —", "(Reuters) -", "Hong Kong (CNN Business) A ...": the name alone in brackets, after
    nothing but a dateline on its line, or followed by a dash."""
    if a == 0 or tokens[a - 1][0] != "(" or b >= len(tokens) or tokens[b][0] != ")":
        return False
    if b + 1 < len(tokens) and tokens[b + 1][0] in _DASHES:
        return True
    k = a - 2  # walk back over the dateline's capitalised words and commas, on the same line
    while k >= 0 and (tokens[k][0][:1].isupper() or tokens[k][0] in (",", ".")) \
            and "\n" not in text[tokens[k][2]:tokens[k + 1][1]]:
        k -= 1
    return k < 0 or "\n" in text[tokens[k][2]:tokens[k + 1][1]]


def is_citation(tokens: list[Token], a: int, b: int, text: str) -> bool:
    """Whether the mention tokens[a:b] only cites the origin of information (`text`: what tokens index)."""
    return _wire_credit(tokens, a, b, text) or _before(tokens, a) or _after(tokens, b)


def entity_role(tokens: list[Token], spans: list[tuple[int, int]], text: str) -> str:
    """ "source" when the entity has mentions and every one is a citation, else "subject"."""
    if spans and all(is_citation(tokens, a, b, text) for a, b in spans):
        return "source"
    return "subject"
