"""Company names without a legal suffix, known by the words news puts around them (issue 26).

Business news names a company bare ("Micron Technology", "Burisma", "Lenoge") and says what it is in the same
sentence; those words are the cue, as a title is for a person:

* an apposition that ends in a company noun: "Micron Technology, one of America's largest memory chip makers",
  "Burisma, the Ukrainian gas company", "Lenoge, a Hong Kong-based startup";
* a company noun or a deal word right before it: "chipmaker Micron", "retailer Costco", "shares of Valve",
  "a stake in Burisma";
* its stock right after it: "Micron shares fell", "Valve's stock".

The apposition must reach its noun within APPOSITION_WORDS words, before the clause ends and before any role of
a person ("Jane Doe, a spokesperson for the agency"), and the noun must end it ("Smith, the company's chief
executive" and "Michigan, the company had" are not companies).
"""

from __future__ import annotations

from govwatch.enrich.name_lexicon import APPOSITIVE_ROLES

Token = tuple[str, int, int]

COMPANY_NOUNS = frozenset({
    "company", "companies", "firm", "firms", "maker", "makers", "manufacturer", "manufacturers", "giant", "giants",
    "startup", "start-up", "startups", "retailer", "retailers", "chain", "carrier", "airline", "automaker",
    "carmaker", "chipmaker", "chipmakers", "conglomerate", "corporation", "bank", "lender", "insurer",
    "publisher", "broadcaster", "developer", "operator", "provider", "supplier", "distributor", "brand", "label",
    "studio", "utility", "producer", "subsidiary", "unit", "fund", "investor", "platform", "app-maker", "outlet",
    "network", "exchange", "marketplace", "consultancy", "agency"})
# words before a bare name that say it is a company ("chipmaker Micron", "shares of Valve")
COMPANY_BEFORE = frozenset({"automaker", "carmaker", "chipmaker", "retailer", "startup", "start-up", "rival",
                            "conglomerate", "insurer", "lender", "airline", "broadcaster", "publisher", "subsidiary",
                            "e-commerce", "app-maker", "developer", "manufacturer"})
COMPANY_BEFORE_TWO = frozenset({"shares of", "stake in", "shares in", "stock of", "acquisition of", "merger with",
                                "spokesperson for", "spokesman for", "spokeswoman for", "parent company",
                                "tech company", "tech giant"})
STOCK_AFTER = frozenset({"shares", "stock", "stocks"})
ADJECTIVE_ENDINGS = ("an", "ese", "ish", "ic")  # "European shares", "Japanese stocks": markets, not companies
APPOSITION_WORDS = 9
# what may follow the company noun of an apposition: the apposition ends or a complement follows
NOUN_PHRASE_ENDS = frozenset({"", ",", ".", ";", ")", "\u2014", "that", "which", "whose", "said", "says", "in",
                              "of", "based", "with", "and", "known", "owned", "backed", "founded", "behind"})
PLACE_BEFORE = frozenset({"in", "at", "near", "from", "to", "outside"})
# "Peninsular Malaysia shares a border": "shares" is a verb when a determiner follows
DETERMINERS = frozenset({"a", "an", "the", "its", "their", "his", "her", "many", "some", "this", "that"})
_CLAUSE_ENDS = frozenset({",", ".", ";", ":", "(", ")", "\u2014", "-", "\n", "and", "who", "which", "that"})


def _apposition(tokens: list[Token], i: int, j: int) -> bool:
    if j + 1 >= len(tokens) or tokens[j][0] != "," or (i > 0 and tokens[i - 1][0] in PLACE_BEFORE):
        return False  # "Headquartered in Rochester Hills, Michigan, the company ...": a place
    k = j + 1
    words = [t[0].lower() for t in tokens[k:k + APPOSITION_WORDS]]
    if not words or words[0] not in ("the", "a", "an", "one", "its", "another"):
        return False
    for n, w in enumerate(words[1:], start=1):
        if (w in _CLAUSE_ENDS and not (w == "-" and n + 1 < len(words))) or w in APPOSITIVE_ROLES:
            return False  # "Jane Doe, a spokesperson for the agency": a person's role comes first
        if w in COMPANY_NOUNS:
            nxt = words[n + 1] if n + 1 < len(words) else ""
            return nxt in NOUN_PHRASE_ENDS  # "..., the Ukrainian gas company, said"; not "..., the company had"
    return False


def company_cue(tokens: list[Token], i: int, j: int) -> bool:
    """Whether the capitalised run tokens[i:j] is a company by the words around it."""
    prev = tokens[i - 1][0].lower() if i > 0 else ""
    prev2 = f"{tokens[i - 2][0].lower()} {prev}" if i > 1 else ""
    if prev in COMPANY_BEFORE or prev2 in COMPANY_BEFORE_TWO:
        return True
    nxt = tokens[j][0].lower() if j < len(tokens) else ""
    words = [t[0] for t in tokens[i:j]]
    after = tokens[j + 1][0].lower() if j + 1 < len(tokens) else ""
    if nxt in STOCK_AFTER and after not in DETERMINERS \
            and not any("-" in w or w.endswith(ADJECTIVE_ENDINGS) for w in words):
        return True  # "Micron shares", not "European shares", "Asia-Pacific shares", "New York-listed shares"
    if (nxt == "'s" and j + 1 < len(tokens) and tokens[j + 1][0].lower() in STOCK_AFTER):
        return True
    return _apposition(tokens, i, j)
