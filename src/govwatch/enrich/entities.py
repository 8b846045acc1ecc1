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
* countries (data/countries.yaml): id = ISO 3166-1 alpha-2, qid from rigour. A country is reported only when
  it is named (issue 26): demonyms ("French", "Chinese") add to the mentions of a named country but do not
  report one alone ("the Chinese e-commerce giant", "the American Music Awards" are not about the state; the
  news gold set labels no demonym). They do not count before a language/culture noun ("French fries",
  "Chinese-language") nor inside an organisation name found by pattern ("American Civil Liberties Union").
  A capital used for its government ("Beijing retaliated", "talks with Kabul") is a mention of the country
  (metonymy.py). Sub-national places (countries.yaml `places`: UK nations, Gaza, Inner Mongolia, New Mexico)
  block the name patterns and are never reported.
* a platform named as the venue of a post ("posted on Twitter", "a LinkedIn post") is not a mention of the
  company (_venue); "Twitter suspended the account" is.
* leftmost-longest wins, so "Federal Trade Commission" is never also "Commission".
* an organisation alias inside a longer proper name is a different organisation, left to the name patterns:
  "Democratic Party" in "California Democratic Party" / "Democratic Party of Japan", "Toyota" in "Toyota
  Industries" (see gazetteer.embedded). An unsupported ambiguous alias with a generic head ("the AI Office" with no EU
  institution in the story) is reported by the patterns under its own name, not the gazetteer id.
* Hong Kong is not a country (a special administrative region of China): it blocks the name patterns but is not
  reported (the type system has no place type).
* a statistical tagger proposes, the rules confirm (issue 11): after the gazetteer and the name rules, the CRF of
  ner_model.py tags the capitalised words they left undecided; a confident PER/ORG span that touches no decided
  token, passes the rules' vetoes (no leading "The", no place/role word or acronym in a person, a lone word only
  as the given name/surname of a full name in the story or as a confident call in no list of brands) becomes a
  "pattern" entity with a normalised id, merged with the rules' names. The CRF may also veto a rule organisation
  it calls a conference. With no model packaged, the rules alone decide.

Modules: gazetteer.py (aliases, matching), names.py (cue-based names), rule_view.py (the rules' decisions as
per-token tags), model_names.py (the CRF's proposals and vetoes); this module merges them into entities.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from govwatch.enrich.acronyms import definitions
from govwatch.enrich.gazetteer import CJK_RE, LEGAL_SUFFIXES, NOT_COUNTRIES, Alias, Gazetteer, supported, tokenize
from govwatch.enrich.metonymy import capital_mentions
from govwatch.enrich.model_names import drop_vetoed, model_names
from govwatch.enrich.name_lexicon import ORG_HEADS, ORG_SUFFIXES, TITLES
from govwatch.enrich.name_shape import join_words, slug
from govwatch.enrich.names import NameHit
from govwatch.enrich.roles import entity_role
from govwatch.enrich.rule_view import rule_view

# platforms that stories name as the venue of a post as often as the company that runs them
PLATFORMS = frozenset({"twitter", "facebook", "instagram", "youtube", "linkedin", "reddit", "tiktok", "weibo",
                       "wechat", "telegram", "whatsapp", "snapchat", "threads", "bluesky"})
VENUE_BEFORE = frozenset({"on", "via", "onto", "across"})
VENUE_AFTER = frozenset({"account", "accounts", "post", "posts", "posted", "page", "pages", "feed", "user", "users",
                         "handle", "profile", "thread", "video", "videos", "followers", "live", "bio", "channel"})
# words that make a country's name part of a place's name right after it ("Taiwan Strait", "Ireland South" as a
# constituency) or right before it ("Western Australia", "Papua New Guinea"), or of an organisation's name after
# it ("Nigeria Police", "Kenya Airways"); "Gulf of Mexico" by PLACE_OF (docs/entity-guidelines.md section 5)
PLACE_AFTER = frozenset({"City", "Province", "State", "County", "Region", "Sea", "Strait", "Straits", "Gulf",
                         "Peninsula", "Island", "Islands", "Canal", "Basin", "Valley", "River", "Bay", "Square",
                         "Street", "Airport", "North", "South", "East", "West", "Central"})
PLACE_BEFORE = frozenset({"North", "South", "East", "West", "Northern", "Southern", "Eastern", "Western", "Central",
                          "New", "Upper", "Lower", "Inner", "Outer", "Greater"})
PLACE_OF = frozenset({"Gulf", "Sea", "Bay", "Strait", "Straits", "Isle", "Isles"})
ORG_AFTER = ORG_SUFFIXES | ORG_HEADS | {"Police", "Army", "Navy", "Customs", "Airways", "Telecom"}
# last words of a law's name: a defined acronym after one is a law ("Telephone Consumer Protection Act (TCPA)")
LAW_HEADS = frozenset({"Act", "Bill", "Directive", "Regulation", "Treaty", "Convention", "Agreement", "Accord"})


@dataclass(frozen=True)
class Entity:
    """One entity found in a story."""

    id: str
    name: str
    type: str
    qid: str | None
    mentions: int
    source: str  # "gazetteer" | "pattern": how it was found
    role: str = "subject"  # "source" when every mention only cites it as the origin of information (roles.py)


def extract_entities(title: str, text: str, gazetteer: Gazetteer) -> list[Entity]:
    """Entities of a story (title + body), most-mentioned first."""
    full = f"{title}\n\n{text}" if title else text
    view = rule_view(full, gazetteer)
    tokens, hits, names = view.tokens, view.hits, view.names
    used = set(view.blocked)  # pattern names and gazetteer matches
    known_people = {gazetteer.entries[a.key].name for a, _, _ in hits if gazetteer.entries[a.key].type == "person"}
    known_people |= {h.name for h in names if h.type == "person"}
    # a capital acting for its government is decided before the model, which must not call it a person
    capitals = capital_mentions(tokens, gazetteer.capitals, used | {k for _, a, b in hits for k in range(a, b)})
    view.blocked |= {k for _, a, b in capitals for k in range(a, b)}
    model_hits, model_used, vetoed = model_names(view, known_people)
    if vetoed:  # organisations the model calls conferences ("presented at AAAI")
        hits = [h for h in hits
                if not (gazetteer.entries[h[0].key].type == "org" and vetoed.issuperset(range(h[1], h[2])))]
        names = drop_vetoed(names, view, vetoed)
    covered = {k for alias, a, b in hits if not alias.key.startswith("country.") for k in range(a, b)}
    used = (used - covered) | model_used
    merged: Counter[tuple[str, str]] = Counter()
    for hit in names + model_hits:  # the model may find again a name the rules found elsewhere in the story
        merged[(hit.type, hit.name)] += hit.mentions
    names = [NameHit(t, n, c) for (t, n), c in merged.items()]
    # A country or demonym inside a pattern organisation ("Bank of England") belongs to that name.
    hits = [h for h in hits if not (h[0].key.startswith("country.") and (
        used.intersection(range(h[1], h[2])) or _in_longer_name(h[0], tokens, h[1], h[2])))]
    # ... and so does one right before a gazetteer organisation of its own jurisdiction ("U.S. Department of
    # Commerce", "U.S. House Intelligence Committee"): one name, the longest wins (docs/entity-guidelines.md 2).
    org_at = {a: gazetteer.entries[alias.key] for alias, a, _ in hits if gazetteer.entries[alias.key].type == "org"}
    hits = [h for h in hits if not (h[0].key.startswith("country.") and h[2] in org_at
                                    and org_at[h[2]].jurisdiction == gazetteer.entries[h[0].key].public_id)]
    counts: Counter[str] = Counter()
    # A legal suffix right after an ambiguous company name settles it ("Apple Inc").
    safe = {alias.key for alias, _, b in hits
            if not alias.ambiguous or (b < len(tokens) and tokens[b][0] in LEGAL_SUFFIXES)}
    named: set[str] = set()  # countries named at least once: a demonym alone does not report one
    for alias, a, b in hits:
        if alias.key in NOT_COUNTRIES or alias.key in gazetteer.places or _venue(alias, tokens, a, b):
            continue
        if not alias.ambiguous or supported(alias.key, safe, gazetteer):
            counts[alias.key] += 1
            if not alias.demonym:
                named.add(alias.key)
    for key, _, _ in capitals:  # "Beijing retaliated"
        counts[key] += 1
        named.add(key)
    if CJK_RE.search(full):
        rest = full
        for form, key in gazetteer.cjk:  # longest first; blank out matches so sub-forms don't recount
            n = rest.count(form)
            if n and key not in NOT_COUNTRIES and key not in gazetteer.places:
                counts[key] += n
                named.add(key)
                rest = rest.replace(form, " ")
    spans: dict[str, list[tuple[int, int]]] = {}
    for alias, a, b in hits:
        spans.setdefault(alias.key, []).append((a, b))
    out = [Entity(e.public_id, e.name, e.type, e.qid, n, "gazetteer",
                  entity_role(tokens, spans.get(k, []), full) if e.type == "org" else "subject")
           for k, e, n in ((k, gazetteer.entries[k], n) for k, n in counts.items())
           if e.type != "country" or k in named]
    known = {e.name.lower(): k for k, e in enumerate(out)}
    for hit in names:
        if hit.name.lower() in known:  # a later surname mention of a gazetteer person ("Cruz's")
            k = known[hit.name.lower()]
            out[k] = replace(out[k], mentions=out[k].mentions + hit.mentions)
        else:
            prefix = "person" if hit.type == "person" else "org"
            role = entity_role(tokens, _spans_of(hit.name, tokens), full) if hit.type == "org" else "subject"
            out.append(Entity(f"{prefix}.{slug(hit.name)}", hit.name, hit.type, None, hit.mentions, "pattern", role))
    out = _link_acronyms(out, tokens, hits, gazetteer)
    out.sort(key=lambda e: (-e.mentions, e.type, e.name))
    return out


def _link_acronyms(out: list[Entity], tokens: list[tuple[str, int, int]], hits: list[tuple[Alias, int, int]],
                   gazetteer: Gazetteer) -> list[Entity]:
    """An acronym the story defines ("... Attorney General (NYAG)") and uses again is the organisation named before
    it: its mentions join that entity, which is made from the name when no rule found it. Acronyms the gazetteer
    knows keep the gazetteer's meaning."""
    orgs_ending = {b: gazetteer.entries[alias.key].public_id for alias, _, b in hits
                   if gazetteer.entries[alias.key].type == "org"}
    people = {e.name for e in out if e.type == "person"}
    for acr, a, b in definitions(tokens):
        if any(alias.tokens == (acr,) for alias in gazetteer.index.get(acr.lower(), ())):
            continue
        name = join_words([t[0] for t in tokens[a:b]])
        if name in people:
            continue
        short = next((e for e in out if e.type == "org" and e.name == acr), None)
        k = next((k for k, e in enumerate(out) if e.type == "org" and e is not short and (
            e.id == orgs_ending.get(b) or (name.endswith(e.name) and e.source == "pattern"))), None)
        uses = [k for k, t in enumerate(tokens) if t[0] == acr]
        if not any(k > b + 2 for k in uses):
            continue  # defined but never used again: nothing to link ("Forza Europa (FE)" in a list of parties)
        extra = len(uses)
        words = name.split()
        if k is None and words[-1] in LAW_HEADS and len(words) > 1:  # "Telephone Consumer Protection Act (TCPA)"
            out.append(Entity(f"law.{slug(name)}", name, "law", None, 1 + extra, "pattern"))
        elif k is None and (words[-1] in ORG_SUFFIXES or words[-1] in TITLES or ORG_HEADS.intersection(words)):
            # an organisation's shape; other defined acronyms name products, indexes and fields ("Volatiles
            # Investigating Polar Exploration Rover (VIPER)", "Hang Seng Index (HSI)", "Artificial Intelligence (AI)")
            out.append(Entity(f"org.{slug(name)}", name, "org", None, 1 + extra, "pattern"))
        elif k is None:
            continue
        else:
            out[k] = replace(out[k], mentions=out[k].mentions + extra)
        if short:
            out.remove(short)
    return out


def _in_longer_name(alias: Alias, tokens: list[tuple[str, int, int]], a: int, b: int) -> bool:
    """A country's name inside a place's or an organisation's name the gazetteer does not hold ("South China Sea",
    "Gulf of Mexico", "Western Australia", "MEP for Ireland South", "the Nigeria Police"): no mention of the
    country (demonyms are left to the demonym rules)."""
    if alias.demonym:
        return False
    prev = tokens[a - 1][0] if a > 0 else ""
    nxt = tokens[b][0] if b < len(tokens) else ""
    if nxt in PLACE_AFTER or nxt in ORG_AFTER or prev in PLACE_BEFORE:
        return True
    return prev == "of" and a > 1 and tokens[a - 2][0] in PLACE_OF


def _venue(alias: Alias, tokens: list[tuple[str, int, int]], a: int, b: int) -> bool:
    """A platform named as the place of a post, not as the company acting ("posted on Twitter", "a LinkedIn
    post"): docs/entity-guidelines.md section 4 labels only the actor."""
    if alias.tokens[-1].lower() not in PLATFORMS:
        return False
    prev = tokens[a - 1][0].lower() if a > 0 else ""
    nxt = tokens[b][0].lower() if b < len(tokens) else ""
    return prev in VENUE_BEFORE or nxt in VENUE_AFTER


def _spans_of(name: str, tokens: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
    """Token spans [a, b) where a pattern name occurs in the story."""
    words = [t for t, _, _ in tokenize(name)]
    n = len(words)
    if not n:
        return []
    return [(k, k + n) for k in range(len(tokens) - n + 1)
            if tokens[k][0] == words[0] and [t for t, _, _ in tokens[k:k + n]] == words]
