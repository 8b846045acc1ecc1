"""The gazetteer: packaged aliases of known entities and countries, compiled into an index, and its matches.

Matching rules (see data/gazetteer.yaml header and govwatch.enrich.entities): safe aliases match whole tokens,
ALL-CAPS and lower-case-initial aliases case-sensitively, other aliases case-insensitively but with the capitals
of the alias capitalised in the text ("The Hill", not "the hill" nor "The hill"); leftmost-longest wins;
demonyms do not count before a language/culture noun; an organisation alias inside a longer proper name is a
different organisation (embedded); an ambiguous alias counts only with support (supported).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from govwatch.enrich.name_lexicon import ORG_SUFFIXES, STOP_CAPS, TITLES

# A possessive "'s" is its own token so "Trump's" is "Trump" + "'s"; "O'Brien" stays one token. A slash joins
# only before an acronym or number ("ISO/IEC", "JTC 1/SC 42"), so a photo credit "Jane Doe/Getty Images" splits.
TOKEN_RE = re.compile(r"\w+(?:(?:[\-&.+]|/(?=[A-Z\d]+\b))\w+)*(?:'(?!s\b)\w+)*|'s\b|[^\w\s]")
CJK_RE = re.compile(r"[\u4e00-\u9fff]")
DEMONYM_BLOCKERS = frozenset({"language", "languages", "-language", "speaking", "speaker", "speakers",
                              "cuisine", "food", "fries", "toast", "restaurant", "dish", "dishes", "dressing",
                              "wine", "cheese", "ocean", "open", "grand"})
DEMONYM_PREFIX_BLOCKERS = frozenset({"native", "latin", "south", "north", "central", "anglo", "african"})
# Places in countries.yaml that are not sovereign countries: Hong Kong is a special administrative region of
# China. Its name still blocks the name patterns ("Hong Kong" is never a person) but it is not reported as a
# country; the type system has no place type, so it is not reported at all.
NOT_COUNTRIES = frozenset({"country.HK"})
# Jurisdictions too broad for the same-jurisdiction support rule.
NO_JURISDICTION_SUPPORT = frozenset({"INT", ""})


@dataclass(frozen=True)
class _Entry:
    key: str  # gazetteer id ("org.eu", "country.FR"); the public id may be a QID or ISO code instead
    public_id: str
    name: str
    type: str
    qid: str | None
    jurisdiction: str
    related: tuple[str, ...]


@dataclass(frozen=True)
class Alias:
    tokens: tuple[str, ...]  # lower-cased unless exact_case
    key: str
    ambiguous: bool
    exact_case: bool
    first_upper: bool | None  # required case of the first letter for case-insensitive aliases
    demonym: bool = False
    # words capitalised in the alias must be capitalised in the text too ("The Information", not "The information")
    capitals: tuple[bool, ...] = ()


@dataclass
class Gazetteer:
    """Compiled alias index; build with load_gazetteer()."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    index: dict[str, list[Alias]] = field(default_factory=lambda: defaultdict(list))
    cjk: list[tuple[str, str]] = field(default_factory=list)
    places: set[str] = field(default_factory=set)  # keys of countries.yaml places: block names, never reported
    # first token -> (capital's tokens, country key): a capital used for its government (metonymy.py)
    capitals: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    related: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, entry: _Entry, aliases: list[str], ambiguous: list[str], demonyms: list[str]) -> None:
        self.entries[entry.key] = entry
        for rel in entry.related:
            self.related[entry.key].add(rel)
            self.related[rel].add(entry.key)
        for forms, amb, dem in ((aliases, False, False), (ambiguous, True, False), (demonyms, False, True)):
            for form in forms:
                form = str(form).replace("\u2019", "'")
                if CJK_RE.search(form):
                    self.cjk.append((form, entry.key))
                    continue
                toks = tuple(TOKEN_RE.findall(form))
                if not toks:
                    continue
                letters = [c for c in form if c.isalpha()]
                exact = (len(letters) > 1 and all(c.isupper() for c in letters)) or form[:1].islower()
                first_upper = form[0].isupper() if form[0].isalpha() and not exact else None
                key_toks = toks if exact else tuple(t.lower() for t in toks)
                alias = Alias(key_toks, entry.key, amb, exact, first_upper, dem,
                              tuple(t[:1].isupper() for t in toks) if len(toks) > 1 else ())
                self.index[toks[0].lower()].append(alias)

    def finish(self) -> Gazetteer:
        for bucket in self.index.values():
            bucket.sort(key=lambda a: -len(a.tokens))  # longest first: leftmost-longest matching
        self.cjk.sort(key=lambda p: -len(p[0]))
        return self


def _data_text(name: str) -> str:
    return resources.files("govwatch.data").joinpath(name).read_text(encoding="utf-8")


def _build(gaz_doc: dict[str, Any], country_doc: dict[str, Any]) -> Gazetteer:
    gaz = Gazetteer()
    for e in gaz_doc["entities"]:
        empty = [key for key, value in e.items() if value is None]
        if empty:  # an unquoted comma inside {...} splits a value into a stray key with no value
            raise ValueError(f"gazetteer entry {e.get('id')!r}: keys without value {empty}; "
                             "quote values containing commas")
        qid = e.get("qid")  # never qid_candidate: unverified ids must not reach the index
        etype = str(e["type"]).lower()
        native = [f for lang in ("zh", "fr", "de") for f in e.get(lang, [])]
        entry = _Entry(e["id"], qid or e["id"], e["name"], etype, qid, str(e.get("jurisdiction", "")),
                       tuple(e.get("related", [])))
        gaz.add(entry, list(e.get("aliases", [])) + native, list(e.get("ambiguous_aliases", [])), [])
    for c in country_doc["countries"]:
        if not isinstance(c.get("code"), str):  # YAML 1.1 reads a bare NO as false (the "Norway problem")
            raise ValueError(f"countries.yaml: code {c.get('code')!r} of {c.get('name')!r} must be a quoted string")
        native = [f for lang in ("zh", "fr", "de") for f in c.get(lang, [])]
        entry = _Entry(f"country.{c['code']}", c["code"], c["name"], "country", c.get("qid"), c["code"], ())
        gaz.add(entry, list(c.get("aliases", [])) + native, [], list(c.get("demonyms", [])))
        capital = c.get("capital", [])
        for city in [capital] if isinstance(capital, str) else capital:
            toks = tuple(TOKEN_RE.findall(city))
            gaz.capitals.setdefault(toks[0], []).append((toks, entry.key))
    for c in country_doc.get("places", []):
        entry = _Entry(f"country.{c['code']}", c["code"], c["name"], "country", None, "", ())
        gaz.add(entry, list(c.get("aliases", [])), [], list(c.get("demonyms", [])))
        gaz.places.add(entry.key)
    return gaz.finish()


@lru_cache(maxsize=1)
def _default_gazetteer() -> Gazetteer:
    return _build(yaml.safe_load(_data_text("gazetteer.yaml")), yaml.safe_load(_data_text("countries.yaml")))


def load_gazetteer(path: str | Path | None = None, countries_path: str | Path | None = None) -> Gazetteer:
    """Load and compile the gazetteer; with no paths, the packaged data (cached)."""
    if path is None and countries_path is None:
        return _default_gazetteer()
    gaz_doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) if path else \
        yaml.safe_load(_data_text("gazetteer.yaml"))
    c_doc = yaml.safe_load(Path(countries_path).read_text(encoding="utf-8")) if countries_path else \
        yaml.safe_load(_data_text("countries.yaml"))
    return _build(gaz_doc, c_doc)


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Word/punctuation tokens with character offsets (curly apostrophes folded to ASCII)."""
    text = text.replace("\u2019", "'")
    return [(m.group(), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def _alias_matches(alias: Alias, tokens: list[tuple[str, int, int]], i: int) -> bool:
    n = len(alias.tokens)
    if i + n > len(tokens):
        return False
    window = [t[0] for t in tokens[i:i + n]]
    if alias.exact_case:
        return tuple(window) == alias.tokens
    if tuple(w.lower() for w in window) != alias.tokens:
        return False
    if any(cap and not w[:1].isupper() for w, cap in zip(window, alias.capitals, strict=False)):
        return False
    return alias.first_upper is None or window[0][0].isupper() == alias.first_upper


def _demonym_blocked(tokens: list[tuple[str, int, int]], i: int, n: int) -> bool:
    nxt = tokens[i + n][0].lower() if i + n < len(tokens) else ""
    prev = tokens[i - 1][0].lower() if i > 0 else ""
    return nxt in DEMONYM_BLOCKERS or prev in DEMONYM_PREFIX_BLOCKERS or (nxt == "-" and i + n + 1 < len(tokens)
                                                                          and tokens[i + n + 1][0] == "language")


def gazetteer_hits(tokens: list[tuple[str, int, int]], gaz: Gazetteer) -> list[tuple[Alias, int, int]]:
    hits: list[tuple[Alias, int, int]] = []
    i = 0
    while i < len(tokens):
        for alias in gaz.index.get(tokens[i][0].lower(), ()):
            if _alias_matches(alias, tokens, i):
                n = len(alias.tokens)
                if not (alias.demonym and _demonym_blocked(tokens, i, n)):
                    hits.append((alias, i, i + n))
                i += n
                break
        else:
            i += 1
    return hits


def embedded(alias: Alias, tokens: list[tuple[str, int, int]], a: int, b: int, starts: set[int],
              places: set[int]) -> bool:
    """Whether an organisation alias sits inside a longer proper name, which is then a different organisation.

    "Democratic Party" in "California Democratic Party" or "Democratic Party of Japan", "Conservative Party" in
    "Progressive Conservative Party of Canada", "Alphabet" in "International Phonetic Alphabet", "Toyota" in
    "Toyota Industries": left to the name patterns. A country code, acronym or another gazetteer name before it
    does not count ("UK Competition and Markets Authority"); a country or demonym does for generic names
    ("Israeli Labor Party" is not Australia's) but not for brands ("Chinese Alibaba"); a legal suffix after a
    brand is the same company ("Apple Inc").
    """
    generic = any(t.lower() in ORG_SUFFIXES_LOWER for t in alias.tokens) or alias.tokens in PARTY_PLURALS
    if a > 0 and (a - 1) not in starts and (generic or (a - 1) not in places) \
            and _proper_before(tokens, a - 1) and (generic or (a >= 2 and _proper_before(tokens, a - 2)
                                                               and not _line_break(tokens, a - 2, a))):
        # a brand needs two capitalised words before it on its line ("International Phonetic Alphabet"),
        # not one: headlines, German nouns and Italian articles are capitalised ("the Recent Anthropic
        # Settlement", "Start-up Mistral AI", "Il Garante")
        return True
    if alias.tokens in PARTY_PLURALS and a >= 2 and tokens[a - 1][0] in ("of", "and", "&") \
            and _proper_before(tokens, a - 2) and (a - 2) not in starts:
        return True  # "Party of Socialists and Democrats", "Pact of Democrats"; not "the White House and Democrats"
    if not generic:
        # a capitalised run right after the brand that ends in an organisation word: "Toyota Industries",
        # "IEEE Computer Society", "Microsoft Research"
        for k in range(b, min(b + BRAND_TAIL, len(tokens))):
            tok = tokens[k][0]
            if not _proper_before(tokens, k) or k in starts or (k + 1 < len(tokens) and tokens[k + 1][0] in TITLES):
                return False  # "White House Press Secretary X": a title follows, not an organisation
            if tok in ORG_SUFFIXES and tok not in LEGAL_SUFFIXES:
                return True
        return False
    if alias.tokens in PARTY_PLURALS and b < len(tokens) and tokens[b][0].isdigit():
        return True  # "Democrats 66"
    if alias.tokens in PARTY_PLURALS and b + 2 < len(tokens) and tokens[b][0] in ("of", "for") \
            and tokens[b + 1][0] in ("the", "a"):
        b += 1  # "Democrats of the Left", "Democrats for a Strong Bulgaria"
    return (alias.tokens[-1].lower() in ORG_SUFFIXES_LOWER or alias.tokens in PARTY_PLURALS) and b + 1 < len(tokens) \
        and tokens[b][0] in ("of", "for", "the") and tokens[b + 1][0][:1].isupper() and (b + 1) not in starts \
        and tokens[b + 1][0] not in STOP_CAPS


def _proper_before(tokens: list[tuple[str, int, int]], k: int) -> bool:
    tok = tokens[k][0]
    return tok[:1].isupper() and tok not in STOP_CAPS and not tok.isupper() and not tok.endswith(".")


def _line_break(tokens: list[tuple[str, int, int]], a: int, b: int) -> bool:
    """Whether a line break separates tokens a..b (offsets index the folded text, whose length is the same)."""
    return any(tokens[k + 1][1] - tokens[k][2] > 1 for k in range(a, b))


ORG_SUFFIXES_LOWER = frozenset(w.lower() for w in ORG_SUFFIXES)
BRAND_TAIL = 4  # words after a brand searched for an organisation word
# Party members named as a plural ("Democrats", "Republicans") are generic like an organisation word: inside a
# longer name they are another party ("Christian Democrats", "Australian Democrats", "Democrats of the Left").
PARTY_PLURALS = frozenset({("democrats",), ("republicans",)})
LEGAL_SUFFIXES = frozenset({"Inc", "Ltd", "Corp", "Corporation", "Co", "LLC", "LLP", "PLC", "plc", "GmbH", "AG",
                            "SA", "SAS", "NV", "BV", "Group", "Holdings"})


def supported(key: str, safe: set[str], gaz: Gazetteer) -> bool:
    if key in safe or gaz.related.get(key, set()) & safe:
        return True
    entry = gaz.entries[key]
    if entry.type not in ("org", "law") or entry.jurisdiction in NO_JURISDICTION_SUPPORT:
        return False
    return any(gaz.entries[k].type == "org" and gaz.entries[k].jurisdiction == entry.jurisdiction for k in safe)

