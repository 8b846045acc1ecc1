"""Entity extraction: gazetteer aliases, countries, and cue-based people/organisations (pure, offline).

Matching rules (see data/gazetteer.yaml header):

* safe aliases match whole tokens case-insensitively, except ALL-CAPS acronyms ("EU", "CAC") and aliases that
  start with a lower-case letter ("xAI", "iFlytek"), which match case-sensitively. A case-insensitive alias
  must still agree with the case of its first letter, so "open AI models" is not "Open AI" and
  "access now" is not the NGO "Access Now" (a precision refinement of the gazetteer's rule).
* ambiguous aliases ("Commission", "AI Act", "Trump") count only with support in the same story: a safe alias
  of the same entity, a safe alias of an entity in its `related` list (either direction), or - for
  organisations and laws - a safe mention of an organisation of the same national/EU jurisdiction
  ("The European Commission fined X under the AI Act").
* native-language forms: Chinese forms are found by substring search (no spaces to tokenise on); French and
  German forms are ordinary aliases.
* countries (data/countries.yaml): id = ISO 3166-1 alpha-2. Demonyms ("French", "Chinese") count: in
  governance news "Chinese regulators" or "the French presidency" is about the country, and dropping them
  loses most country signal of wire copy. They do not count before a language/culture noun ("French fries",
  "Chinese-language") nor inside an organisation name found by pattern ("American Civil Liberties Union").
* leftmost-longest wins, so "Federal Trade Commission" is never also "Commission".
* an organisation alias inside a longer proper name is a different organisation, left to the name patterns:
  "Democratic Party" in "California Democratic Party" / "Democratic Party of Japan", "Toyota" in "Toyota
  Industries" (see _embedded). An unsupported ambiguous alias with a generic head ("the AI Office" with no EU
  institution in the story) is reported by the patterns under its own name, not the gazetteer id.
* Hong Kong is not a country (a special administrative region of China): it blocks the name patterns but is not
  reported (the type system has no place type).
* a statistical tagger proposes, the rules confirm (issue 11): after the gazetteer and the name rules, the CRF of
  ner_model.py tags the capitalised words they left undecided; a confident PER/ORG span that touches no decided
  token, passes the rules' vetoes (no leading "The", no place/role word or acronym in a person, a lone word only
  as the given name/surname of a full name in the story or as a confident call in no list of brands) becomes a
  "pattern" entity with a normalised id, merged with the rules' names. The CRF may also veto a rule organisation
  it calls a conference. With no model packaged, the rules alone decide.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from govwatch.enrich.name_lexicon import (
    EVENT_HEADS, MAX_PERSON_TOKENS, NON_PERSON_WORDS, NOT_ORGS, ORG_SUFFIXES, ROLE_WORDS, STOP_CAPS, TITLES,
)
from govwatch.enrich import ner_model
from govwatch.enrich.name_lexicon import first_names
from govwatch.enrich.names import NameHit, _acronym, _join, _name_shaped, find_names, slug

ENTITY_TYPES = ("person", "org", "country", "law", "event", "product")
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
class Entity:
    """One entity found in a story."""

    id: str
    name: str
    type: str
    qid: str | None
    mentions: int
    source: str  # "gazetteer" | "pattern"


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
class _Alias:
    tokens: tuple[str, ...]  # lower-cased unless exact_case
    key: str
    ambiguous: bool
    exact_case: bool
    first_upper: bool | None  # required case of the first letter for case-insensitive aliases
    demonym: bool = False


@dataclass
class Gazetteer:
    """Compiled alias index; build with load_gazetteer()."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    index: dict[str, list[_Alias]] = field(default_factory=lambda: defaultdict(list))
    cjk: list[tuple[str, str]] = field(default_factory=list)
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
                alias = _Alias(key_toks, entry.key, amb, exact, first_upper, dem)
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
            raise ValueError(f"gazetteer entry {e.get('id')!r}: keys without value {empty}; quote values containing commas")
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
        entry = _Entry(f"country.{c['code']}", c["code"], c["name"], "country", None, c["code"], ())
        gaz.add(entry, list(c.get("aliases", [])) + native, [], list(c.get("demonyms", [])))
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


def _alias_matches(alias: _Alias, tokens: list[tuple[str, int, int]], i: int) -> bool:
    n = len(alias.tokens)
    if i + n > len(tokens):
        return False
    window = [t[0] for t in tokens[i:i + n]]
    if alias.exact_case:
        return tuple(window) == alias.tokens
    if tuple(w.lower() for w in window) != alias.tokens:
        return False
    return alias.first_upper is None or window[0][0].isupper() == alias.first_upper


def _demonym_blocked(tokens: list[tuple[str, int, int]], i: int, n: int) -> bool:
    nxt = tokens[i + n][0].lower() if i + n < len(tokens) else ""
    prev = tokens[i - 1][0].lower() if i > 0 else ""
    return nxt in DEMONYM_BLOCKERS or prev in DEMONYM_PREFIX_BLOCKERS or (nxt == "-" and i + n + 1 < len(tokens)
                                                                          and tokens[i + n + 1][0] == "language")


def _gazetteer_hits(tokens: list[tuple[str, int, int]], gaz: Gazetteer) -> list[tuple[_Alias, int, int]]:
    hits: list[tuple[_Alias, int, int]] = []
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


def _embedded(alias: _Alias, tokens: list[tuple[str, int, int]], a: int, b: int, starts: set[int],
              places: set[int]) -> bool:
    """Whether an organisation alias sits inside a longer proper name, which is then a different organisation.

    "Democratic Party" in "California Democratic Party" or "Democratic Party of Japan", "Conservative Party" in
    "Progressive Conservative Party of Canada", "Alphabet" in "International Phonetic Alphabet", "Toyota" in
    "Toyota Industries": left to the name patterns. A country code, acronym or another gazetteer name before it
    does not count ("UK Competition and Markets Authority"); a country or demonym does for generic names
    ("Israeli Labor Party" is not Australia's) but not for brands ("Chinese Alibaba"); a legal suffix after a
    brand is the same company ("Apple Inc").
    """
    generic = any(t.lower() in _SUFFIXES_LOWER for t in alias.tokens)
    if a > 0 and (a - 1) not in starts and (generic or (a - 1) not in places):
        if _proper_before(tokens, a - 1) and (generic or (a >= 2 and _proper_before(tokens, a - 2)
                                                           and not _line_break(tokens, a - 2, a))):
            # a brand needs two capitalised words before it on its line ("International Phonetic Alphabet"),
            # not one: headlines, German nouns and Italian articles are capitalised ("the Recent Anthropic
            # Settlement", "Start-up Mistral AI", "Il Garante")
            return True
    if not generic:
        # a capitalised run right after the brand that ends in an organisation word: "Toyota Industries",
        # "IEEE Computer Society", "Microsoft Research"
        for k in range(b, min(b + BRAND_TAIL, len(tokens))):
            tok = tokens[k][0]
            if not _proper_before(tokens, k) or k in starts:
                return False
            if tok in ORG_SUFFIXES and tok not in LEGAL_SUFFIXES:
                return True
        return False
    if alias.tokens[-1].lower() in _SUFFIXES_LOWER and b + 1 < len(tokens) and tokens[b][0] in ("of", "for") \
            and tokens[b + 1][0][:1].isupper() \
            and (b + 1) not in starts and tokens[b + 1][0] not in STOP_CAPS:
        return True
    return False


def _proper_before(tokens: list[tuple[str, int, int]], k: int) -> bool:
    tok = tokens[k][0]
    return tok[:1].isupper() and tok not in STOP_CAPS and not tok.isupper() and not tok.endswith(".")


def _line_break(tokens: list[tuple[str, int, int]], a: int, b: int) -> bool:
    """Whether a line break separates tokens a..b (offsets index the folded text, whose length is the same)."""
    return any(tokens[k + 1][1] - tokens[k][2] > 1 for k in range(a, b))


_SUFFIXES_LOWER = frozenset(w.lower() for w in ORG_SUFFIXES)
BRAND_TAIL = 4  # words after a brand searched for an organisation word
LEGAL_SUFFIXES = frozenset({"Inc", "Ltd", "Corp", "Corporation", "Co", "LLC", "LLP", "PLC", "plc", "GmbH", "AG",
                            "SA", "SAS", "NV", "BV", "Group", "Holdings"})


def _supported(key: str, safe: set[str], gaz: Gazetteer) -> bool:
    if key in safe or gaz.related.get(key, set()) & safe:
        return True
    entry = gaz.entries[key]
    if entry.type not in ("org", "law") or entry.jurisdiction in NO_JURISDICTION_SUPPORT:
        return False
    return any(gaz.entries[k].type == "org" and gaz.entries[k].jurisdiction == entry.jurisdiction for k in safe)


@dataclass
class _RuleView:
    """What the gazetteer and the name rules decided for one story; the statistical tagger reads `tags`."""

    tokens: list[tuple[str, int, int]]
    hits: list[tuple[_Alias, int, int]]
    names: list[NameHit]
    blocked: set[int]  # tokens a model span may not touch: gazetteer matches and pattern names
    places: set[int]
    tags: list[str]  # per token: "gP"/"gO"/"gC"/"gX" gazetteer type, "nP"/"nO" pattern person/org, "" none


_GAZ_TAGS = {"person": "gP", "org": "gO", "country": "gC"}


def rule_view(full: str, gazetteer: Gazetteer) -> _RuleView:
    """Run the gazetteer and the name rules over a story text (title and body joined)."""
    tokens = tokenize(full)
    hits = _gazetteer_hits(tokens, gazetteer)
    inside = {k for alias, a, b in hits if not alias.key.startswith("country.") for k in range(a, b)}
    places = {k for alias, a, b in hits if alias.key.startswith("country.") for k in range(a, b)}
    hits = [h for h in hits
            if gazetteer.entries[h[0].key].type != "org" or not _embedded(h[0], tokens, h[1], h[2], inside, places)]
    # An ambiguous organisation alias with a generic head word and no support ("the AI Office" in a story with no
    # EU institution) is left to the name patterns, which report it under its own name, not the EU office's id.
    pre_safe = {alias.key for alias, _, _ in hits if not alias.ambiguous}
    hits = [h for h in hits if not (h[0].ambiguous and gazetteer.entries[h[0].key].type == "org"
                                    and any(t.lower() in _SUFFIXES_LOWER for t in h[0].tokens)
                                    and not _supported(h[0].key, pre_safe, gazetteer))]
    covered = {k for alias, a, b in hits if not alias.key.startswith("country.") for k in range(a, b)}
    people = {gazetteer.entries[a.key].name for a, _, _ in hits if gazetteer.entries[a.key].type == "person"}
    spans = {t: [(a, b) for alias, a, b in hits if gazetteer.entries[alias.key].type == t and not alias.ambiguous]
             for t in ("person", "org")}
    runs: dict[str, list[tuple[int, int]]] = {}
    names, used = find_names(tokens, covered, people, places, spans["person"], spans["org"], spans_out=runs)
    tags = [""] * len(tokens)
    for kind, tag in (("person", "nP"), ("org", "nO")):
        for a, b in runs.get(kind, ()):
            tags[a:b] = [tag] * (b - a)
    for alias, a, b in hits:
        tags[a:b] = [_GAZ_TAGS.get(gazetteer.entries[alias.key].type, "gX")] * (b - a)
    return _RuleView(tokens, hits, names, covered | used, places, tags)


def _model_names(view: _RuleView, known_people: set[str]) -> tuple[list[NameHit], set[int], set[int]]:
    """Person and organisation spans the CRF proposes where the rules decided nothing, after the rules' vetoes:
    no token already taken, no leading sentence word ("The"), at least one proper capitalised word, not a lone
    title, organisation word or place; a person holds no place/building/role word and no acronym. Also returns
    the tokens used and the rule organisations' tokens the model vetoed."""
    tokens = view.tokens
    people: Counter[str] = Counter()
    orgs: Counter[str] = Counter()
    singles: list[tuple[str, float]] = []
    taken: set[int] = set()
    proposed, vetoed = ner_model.propose(tokens, view.tags, view.blocked)
    persons = {k for label, i, j, _ in proposed if label == "PER" for k in range(i, j)}
    for label, i, j, conf in proposed:
        if view.blocked.intersection(range(i, j)):
            continue
        while i < j and (tokens[i][0] in STOP_CAPS or not tokens[i][0][:1].isalnum()):
            i += 1
        while j > i and not tokens[j - 1][0][:1].isalnum():
            j -= 1
        words = [t[0] for t in tokens[i:j]]
        proper = [w for w in words if w[:1].isupper() and w not in STOP_CAPS]
        if not proper or all(k in view.places for k in range(i, j)):
            continue
        if len(words) == 1 and (words[0] in TITLES or words[0] in ORG_SUFFIXES):
            continue
        if label == "PER" and (len(proper) > MAX_PERSON_TOKENS or any(
                w in NON_PERSON_WORDS or w in ROLE_WORDS or _acronym(w, k) for k, w in enumerate(proper))):
            continue  # "Hayes Street", "Chief Strategy Officer", "NBC"
        if label == "ORG" and (words[0] in EVENT_HEADS or " ".join(words) in NOT_ORGS
                               or any(a == "Journal" and b == "of" for a, b in zip(words, words[1:]))):
            continue  # as the rules: "Conference on ...", "Journal of ...", "Soviet Union"
        if label == "PER" and len(words) > 1 and _in_list(tokens, i, j) \
                and not (words[0] in first_names() or _name_shaped(words)):
            continue  # "FC Porto, Inter Milan, Real Madrid": a listed name needs a given name or a name shape
        name = _join(words)
        taken.update(range(i, j))
        if label == "PER":
            if len(words) == 1:
                # a lone word in a comma list is as often a brand ("Ford, Macy's, Kellogg's"): merge it only
                listed = _in_list(tokens, i, j) and not _person_listed(view.tags, persons, tokens, i, j)
                singles.append((name, 0.0 if listed else conf))
            else:
                people[name] += 1
        else:
            orgs[name] += 1
    # a lone given name or surname is the full name found in the same story ("Altman" after "Sam Altman", "Ivan
    # served" after "Ivan Braiker"); otherwise it must be a confident call and not a bare given name, which names
    # nobody an analyst could filter on
    full = {part: n for n in list(known_people) + list(people) if " " in n for part in (n.split()[0], n.split()[-1])}
    # a word that follows an organisation's name somewhere in the story is that organisation's product ("Google
    # Keep ... Keep is still available"), not a person
    products = {tokens[k][0] for k in range(1, len(tokens))
                if view.tags[k - 1] in ("gO", "nO") and not view.tags[k]} if singles else set()
    for s, conf in singles:
        if s in full:
            people[full[s]] += 1
        elif conf >= ner_model.LONE_PERSON_CONFIDENCE and s not in first_names() and s not in products:
            people[s] += 1  # not "David is joined by"
    hits = [NameHit("person", n, c) for n, c in people.items()] + [NameHit("org", n, c) for n, c in orgs.items()]
    return hits, taken, vetoed


def _in_list(tokens: list[tuple[str, int, int]], i: int, j: int) -> bool:
    """Whether run [i, j) sits in a comma list (a possessive "'s" allowed after it)."""
    right = j + 1 if j < len(tokens) and tokens[j][0] == "'s" else j
    left = i > 1 and tokens[i - 1][0] == "," and _item(tokens[i - 2][0])
    after = right + 1 < len(tokens) and tokens[right][0] == "," and _item(tokens[right + 1][0])
    return left or after


def _item(tok: str) -> bool:
    """Whether a word next to a comma can end or start another item of a list of names (not "Guy Millner, a
    businessman")."""
    return tok[:1].isupper() or tok in ("and", ")")


def _person_listed(tags: list[str], persons: set[int], tokens: list[tuple[str, int, int]], i: int, j: int) -> bool:
    """Whether the list neighbour of run [i, j) is a person (the rules' or the model's): "Ramki and Sanghavi,
    with Manivannan, Raadhika" lists people, "Ford, Macy's, Kellogg's" does not."""
    right = j + 1 if j < len(tokens) and tokens[j][0] == "'s" else j
    for k in (i - 2, right + 1):
        if 0 <= k < len(tokens) and tokens[(i - 1) if k < i else right][0] in (",", "and") \
                and (tags[k] in ("nP", "gP") or k in persons):
            return True
    return False


def _drop_vetoed(names: list[NameHit], view: _RuleView, vetoed: set[int]) -> list[NameHit]:
    """Pattern organisations minus the mentions whose every token the model vetoed."""
    drop: Counter[str] = Counter()
    k, n = 0, len(view.tokens)
    while k < n:
        if k in vetoed and view.tags[k] == "nO":
            j = k
            while j < n and j in vetoed and view.tags[j] == "nO":
                j += 1
            drop[_join([t[0] for t in view.tokens[k:j]]).replace(" ,", ",")] += 1
            k = j
        else:
            k += 1
    out = []
    for h in names:
        left = h.mentions - drop[h.name] if h.type == "org" else h.mentions
        if left > 0:
            out.append(replace(h, mentions=left))
    return out


def extract_entities(title: str, text: str, gazetteer: Gazetteer) -> list[Entity]:
    """Entities of a story (title + body), most-mentioned first."""
    full = f"{title}\n\n{text}" if title else text
    view = rule_view(full, gazetteer)
    tokens, hits, names = view.tokens, view.hits, view.names
    used = set(view.blocked)  # pattern names and gazetteer matches
    known_people = {gazetteer.entries[a.key].name for a, _, _ in hits if gazetteer.entries[a.key].type == "person"}
    known_people |= {h.name for h in names if h.type == "person"}
    model_hits, model_used, vetoed = _model_names(view, known_people)
    if vetoed:  # organisations the model calls conferences ("presented at AAAI")
        hits = [h for h in hits
                if not (gazetteer.entries[h[0].key].type == "org" and vetoed.issuperset(range(h[1], h[2])))]
        names = _drop_vetoed(names, view, vetoed)
    covered = {k for alias, a, b in hits if not alias.key.startswith("country.") for k in range(a, b)}
    used = (used - covered) | model_used
    merged: Counter[tuple[str, str]] = Counter()
    for hit in names + model_hits:  # the model may find again a name the rules found elsewhere in the story
        merged[(hit.type, hit.name)] += hit.mentions
    names = [NameHit(t, n, c) for (t, n), c in merged.items()]
    # A country or demonym inside a pattern organisation ("Bank of England") belongs to that name.
    hits = [h for h in hits if not (h[0].key.startswith("country.") and used.intersection(range(h[1], h[2])))]
    counts: Counter[str] = Counter()
    # A legal suffix right after an ambiguous company name settles it ("Apple Inc").
    safe = {alias.key for alias, _, b in hits
            if not alias.ambiguous or (b < len(tokens) and tokens[b][0] in LEGAL_SUFFIXES)}
    for alias, _, _ in hits:
        if alias.key in NOT_COUNTRIES:
            continue
        if not alias.ambiguous or _supported(alias.key, safe, gazetteer):
            counts[alias.key] += 1
    if CJK_RE.search(full):
        rest = full
        for form, key in gazetteer.cjk:  # longest first; blank out matches so sub-forms don't recount
            n = rest.count(form)
            if n and key not in NOT_COUNTRIES:
                counts[key] += n
                rest = rest.replace(form, " ")
    out = [Entity(e.public_id, e.name, e.type, e.qid, n, "gazetteer")
           for e, n in ((gazetteer.entries[k], n) for k, n in counts.items())]
    known = {e.name.lower(): k for k, e in enumerate(out)}
    for hit in names:
        if hit.name.lower() in known:  # a later surname mention of a gazetteer person ("Cruz's")
            k = known[hit.name.lower()]
            out[k] = replace(out[k], mentions=out[k].mentions + hit.mentions)
        else:
            prefix = "person" if hit.type == "person" else "org"
            out.append(Entity(f"{prefix}.{slug(hit.name)}", hit.name, hit.type, None, hit.mentions, "pattern"))
    out.sort(key=lambda e: (-e.mentions, e.type, e.name))
    return out
