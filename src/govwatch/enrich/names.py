"""Find people and organisations that the gazetteer does not know, from capitalised runs plus cues.

Precision beats recall here (results become Kibana facets), so a capitalised run only becomes an entity when a
cue says what it is:

* person: a title, role or party word right before it ("President X", "chief executive X", "Democrat X"), a
  speech verb around it ("X said", "said X", "according to X", ", X, told"), an appositive role ("X, the chief
  executive of Y"), a verb only people take ("X was born", "X resigned", "founded by X"), "X, who", an
  affiliation ("X of Nagoya University"), a first word from the packaged given names (data/first_names.txt and
  the 1990 US Census list) with at least two words in the run, a name shape (East Asian family name first: "Li
  Qiang"; an Arabic particle: "Loujain al-Hathloul"; an initial first: "Y. Bengio"), or a sentence-initial
  listed census surname as the subject of a person's verb ("Hayes has served");
* organisation: the run ends in an organisation suffix ("... Inc", "... Agency", "... University") or starts
  with an institutional head word followed by "of"/"for" ("Ministry of Defence", "University of Oxford"), or the
  words around it say it is a company (company_cues.py: "Burisma, the Ukrainian gas company", "shares of Valve").

A multi-word run with no cue of its own takes the type of a neighbour in a list ("Marvin Minsky and Seymour
Papert", "Oxfam Trust , Christian Aid"): a person found above makes it a person, else an organisation does.
Middle initials stay inside a name ("George W. Bush"). A run is cut at "and" unless the "and" sits inside one
organisation name ("Food and Drug Administration"; see name_runs.py). Conference and journal names are not
organisations, and "Fellow of X" / "Person of X" keeps only the organisation X. Later surname-only mentions
("Altman") are merged into the full name found earlier in the same story, and a surname cued alone ("Mr.
Garrett") makes the uncued full name in the story ("Myles Garrett") a person. Word lists: name_lexicon.py; runs and
organisation spans: name_runs.py; word and name shapes: name_shape.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from govwatch.enrich.company_cues import company_cue
from govwatch.enrich.name_lexicon import (
    ABBREVIATED_TITLES,
    ADVERBS,
    APPOSITIVE_ROLES,
    BY_VERBS,
    COMPASS,
    CONNECTORS,
    LIST_SEPARATORS,
    MAX_PERSON_TOKENS,
    NOBLE_TITLES,
    NON_PERSON_WORDS,
    ORG_HEADS,
    ORG_SUFFIXES,
    PARTICLES,
    PARTY_TITLES,
    PERSON_BEFORE,
    PERSON_VERBS,
    ROLE_WORDS,
    SPEECH_AFTER,
    SPEECH_BEFORE,
    SUBJECT_VERBS,
    TITLES,
    first_names,
    surnames,
)
from govwatch.enrich.name_runs import capitalised_runs, org_span
from govwatch.enrich.name_shape import Token, acronym, join_words, name_shaped, sentence_start


@dataclass(frozen=True)
class NameHit:
    """One pattern-found entity: type ("person" | "org"), canonical name, mention count."""

    type: str
    name: str
    mentions: int


def _surname_shaped(tokens: list[Token], i: int, j: int, words: list[str], places: set[int] | frozenset[int]) -> bool:
    """A sentence-initial listed surname that is the subject of a person's verb ("Hayes has served")."""
    fam = surnames()
    caps = [w for w in words if w != "."]
    if len(caps) == 1:
        w = caps[0]
        return w in fam and w not in first_names() and sentence_start(tokens, i) and j < len(tokens) \
            and tokens[j][0] in SUBJECT_VERBS
    # Two words ending in a listed surname are not enough on their own: brands, clubs and places end in them
    # too ("Lockheed Martin", "Wells Fargo", "Real Madrid", "Virginia Beach").
    return False



def _person_verb_after(tokens: list[Token], j: int) -> bool:
    if j < len(tokens) and tokens[j][0] in ADVERBS:
        j += 1  # "DeFeria also ran", "Fletcher later joined"
    one = tokens[j][0] if j < len(tokens) else ""
    two = " ".join(t[0] for t in tokens[j:j + 2])
    three = " ".join(t[0] for t in tokens[j:j + 3])
    return one in PERSON_VERBS or two in PERSON_VERBS or three in PERSON_VERBS


def _person_cue(tokens: list[Token], i: int, j: int) -> bool:
    prev = tokens[i - 1][0] if i > 0 else ""
    prev = "" if prev == "." else prev
    nxt = tokens[j][0] if j < len(tokens) else ""
    if prev in TITLES or (prev == "" and i >= 2 and tokens[i - 2][0] in ABBREVIATED_TITLES):
        return True  # "President X", "Sen. X" (the dot is its own token)
    if _person_verb_after(tokens, j):
        return True  # "Čapek was born", "Bob Dole resigned"
    last = tokens[j - 1][0]
    comma_who = nxt == "," and j + 1 < len(tokens) and tokens[j + 1][0] == "who"
    if (comma_who or nxt in ("himself", "herself") or (nxt == "who" and j - i > 1)) \
            and last not in PARTY_TITLES and not last.endswith(("ists", "ans", "ers", "ats")):
        return True  # "Sycara, who", "Shaw himself ran", "Bob Dole who"; not "a good Samaritan who", "Democrat who"
    if j - i < 2:
        return False  # a lone capitalised word next to "said" is as often a company as a person
    if prev in PERSON_BEFORE:
        return True  # "The film stars Keerthy Suresh"
    if prev == "by" and i >= 2 and tokens[i - 2][0] in BY_VERBS:
        return True  # "founded by Kiichiro Toyoda", "published by Herbert Bay"
    if prev.lower() in SPEECH_BEFORE:
        return True
    if i >= 2 and tokens[i - 2][0].lower() == "according" and prev == "to":
        return True
    if nxt in SPEECH_AFTER:
        return True
    if prev == "," and nxt == "," and j + 1 < len(tokens) and tokens[j + 1][0] in SPEECH_AFTER:
        return True  # "Match Group's head of trust, Yoel Roth, told Axios"
    if nxt == "," and j + 1 < len(tokens):
        after = [t[0].lower() for t in tokens[j + 1: j + 4]]
        if after and after[0] in ("the", "a", "an", "its", "who"):
            after = after[1:]
        if after and (after[0] in APPOSITIVE_ROLES or " ".join(after[:2]) in APPOSITIVE_ROLES):
            return True
    return False


def _listed_together(tokens: list[Token], a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two runs are neighbours in a list: only ",", "and" or ", and" between them."""
    (_, j), (k, _) = sorted((a, b))
    if not (0 < k - j <= 2) or [t[0] for t in tokens[j:k]] not in LIST_SEPARATORS:  # length check first: cheap
        return False
    # a possessive after the later one lists what it owns, not it: "Blue Origin and Elon Musk's SpaceX"
    end = max(a[1], b[1])
    return not (end < len(tokens) and tokens[end][0] == "'s")


def _affiliated(tokens: list[Token], j: int, org_starts: set[int]) -> bool:
    """A full name followed by "of" and an organisation: "Fumitada Itakura of Nagoya University", "Harry West of
    the UUP", "Alex Graves of Google DeepMind"."""
    if j + 1 >= len(tokens) or tokens[j][0] != "of":
        return False
    return j + 1 in org_starts or (tokens[j + 1][0] == "the" and j + 2 in org_starts)



def _person_candidates(tokens: list[Token], covered: set[int], orgs: Counter[str], used: set[int],
                       org_runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Record the organisation runs; return the sub-runs [i, j) that may be a person.

    A person may stand before "of" ("Senator Dan Quayle of Indiana", "Fumitada Itakura of Nagoya University"),
    and a capitalised word that only starts the sentence is not part of a name that follows it when that name
    starts with a given name ("Despite Bob Dole's victory", "Actress Meryl Streep").
    """
    given = first_names()
    out: list[tuple[int, int]] = []
    for i, j in capitalised_runs(tokens, covered):
        words = [t[0] for t in tokens[i:j]]
        span = org_span(words)
        if span is not None:
            a, b = span
            orgs[join_words(words[a:b]).replace(" ,", ",")] += 1
            used.update(range(i + a, i + b))
            org_runs.append((i + a, i + b))
            if a >= 2 and words[a - 1] == "of":
                out.append((i, i + a - 1))
            if len(words) - b >= 2 and (words[b] in given or words[b] in TITLES):
                out.append((i + b, j))  # "Ontario Liberal Party Joe Dickson", "United Airlines CEO Scott Kirby"
            continue
        cut = next((k for k, w in enumerate(words) if w in ("of", "for")), None)
        if cut is not None:
            # "Governor of Maine Susan Collins": a full name after the complement
            tail = next((m for m in range(cut + 2, len(words) - 1) if words[m] in given), None)
            if tail is not None:
                out.append((i + tail, j))
            if cut == 0 or any(w in ORG_SUFFIXES or w in ORG_HEADS for w in words[:cut]):
                continue
            j, words = i + cut, words[:cut]
        if any(w in ORG_SUFFIXES or w in CONNECTORS - PARTICLES for w in words):
            continue
        if len(words) >= 3 and sentence_start(tokens, i) and words[0] not in given and words[1] in given:
            i += 1
        out.append((i, j))
    return out


def find_names(tokens: list[Token], covered: set[int],
               known_people: set[str] | frozenset[str] = frozenset(),
               places: set[int] | frozenset[int] = frozenset(),
               known_person_spans: list[tuple[int, int]] | None = None,
               known_org_spans: list[tuple[int, int]] | None = None,
               spans_out: dict[str, list[tuple[int, int]]] | None = None) -> tuple[list[NameHit], set[int]]:
    """People and organisations in the uncovered part of `tokens`; also returns the token indices used.

    `known_people` are full names already found (gazetteer); their bare surnames are counted for them.
    `places` are token indices of country names: a run made only of them is never a person ("Miss Hong Kong").
    `known_person_spans` / `known_org_spans` are gazetteer matches [i, j): list neighbours take their type.
    `spans_out`, when given, receives the person and organisation runs [i, j) decided here (the statistical
    tagger reads them as features, see ner_model.py).
    """
    people: Counter[str] = Counter()
    orgs: Counter[str] = Counter()
    singles: list[str] = []  # surname-only person mentions, merged below
    used: set[int] = set()
    given = first_names()
    found: list[tuple[int, int]] = list(known_person_spans or [])  # person runs [i, j)
    pending: list[tuple[int, int]] = []  # name-shaped runs without a cue of their own
    org_runs: list[tuple[int, int]] = list(known_org_spans or [])
    candidates = _person_candidates(tokens, covered, orgs, used, org_runs)
    org_starts = {a for a, _ in org_runs}
    for i, j in candidates:
        words = [t[0] for t in tokens[i:j]]
        cued_by_title = False
        titled = [k for k, w in enumerate(words[:-1]) if w in TITLES
                  or (w in PARTY_TITLES and len(words) - k > 2)]  # "Democrat Ron Wyden", not "Liberal Democrats"
        if titled:  # "German Chancellor Olaf Scholz": the name is what follows the last title word
            k = titled[-1]
            # ... except a peer's or monarch's style before a single name, which is how that person is named
            # ("Lord Hopetoun", "Queen Beatrix"; "Hopetoun" alone names nobody). "Sir Keir Starmer" stays
            # "Keir Starmer": the full name is the id other stories use.
            cut = k if words[k] in NOBLE_TITLES and len(words) - k == 2 else k + 1
            i, words, cued_by_title = i + cut, words[cut:], True
        if all(k in places for k in range(i, j)):
            continue  # "Miss Hong Kong", "Hong Kong said": a place
        if not cued_by_title and company_cue(tokens, i, j) and not (len(words) >= 2 and words[0] in given):
            based = [k for k, w in enumerate(words[:-1]) if w.endswith("-based")]  # "Vancouver-based X"
            i, words = (i + based[-1] + 1, words[based[-1] + 1:]) if based else (i, words)
            orgs[join_words(words)] += 1  # "Burisma, the Ukrainian gas company", "shares of Valve"
            used.update(range(i, j))
            org_runs.append((i, j))
            continue
        while len(words) > 1 and i in places:  # "Australian Timothy Weeks": the name follows the demonym
            i, words = i + 1, words[1:]
        caps = [w for w in words if w not in PARTICLES and w != "."]
        if len(caps) == 1 and caps[0] in TITLES:
            continue  # "Attorney General said": a title, no name
        compass_surname = len(caps) == 2 and caps[0] in given and caps[1] in COMPASS  # "Harry West", "Kanye West"
        if any((w in NON_PERSON_WORDS and not compass_surname) or w in ROLE_WORDS for w in caps):
            continue  # "Chief Strategy Officer", "Silicon Valley"
        if len(caps) > MAX_PERSON_TOKENS or any(acronym(w, k) for k, w in enumerate(caps)):
            continue  # shouting headlines and acronyms are not names
        if cued_by_title or _person_cue(tokens, i, j) or (len(caps) >= 2 and (words[0] in given
                                                                              or name_shaped(words))) \
                or _surname_shaped(tokens, i, j, words, places) \
                or (len(caps) >= 2 and _affiliated(tokens, j, org_starts)
                    and (caps[0] in given or caps[-1] in surnames() or name_shaped(words))):
            if len(caps) == 1:
                singles.append(words[0])
            else:
                people[join_words(words)] += 1
            used.update(range(i, j))
            found.append((i, j))
        elif len(caps) >= 2:
            pending.append((i, j))

    # A full name whose surname is also cued alone in the story is that person: "Browns defensive end Myles
    # Garrett ... Mr. Garrett" (name-shape evidence repeated in the story).
    # So is a full name ending in the surname of a known person: "Hunter Biden" beside Joe Biden.
    cued_surnames = set(singles) | {name.split()[-1] for name in known_people}
    for i, j in list(pending):
        if tokens[j - 1][0] in cued_surnames:
            people[join_words([t[0] for t in tokens[i:j]])] += 1
            used.update(range(i, j))
            found.append((i, j))
            pending.remove((i, j))
    # A full name listed next to a person found above is a person too ("Marvin Minsky and Seymour Papert").
    while pending:
        listed = [(i, j) for i, j in pending if any(_listed_together(tokens, (i, j), run) for run in found)]
        if not listed:
            break
        for i, j in listed:
            people[join_words([t[0] for t in tokens[i:j]])] += 1
            used.update(range(i, j))
            found.append((i, j))
            pending.remove((i, j))
    # Likewise a multi-word name listed next to an organisation found above is an organisation, unless it is
    # shaped like a person's name ("of Nagoya University and Shuzo Saito").
    pending = [(i, j) for i, j in pending
               if not (j - i == 2 and (tokens[j - 1][0] in surnames() or name_shaped([t[0] for t in tokens[i:j]])))]
    while pending:
        listed = [(i, j) for i, j in pending if any(_listed_together(tokens, (i, j), run) for run in org_runs)]
        if not listed:
            break
        for i, j in listed:
            orgs[join_words([t[0] for t in tokens[i:j]])] += 1
            used.update(range(i, j))
            org_runs.append((i, j))
            pending.remove((i, j))
    # Merge surname-only mentions (cued ones and bare later ones) into the full name of the same story.
    by_surname = {name.split()[-1]: name for name in list(known_people) + list(people)}
    for surname in singles:
        if surname in by_surname:
            people[by_surname[surname]] += 1
        elif surname not in given:
            people[surname] += 1
    for k, (tok, _, _) in enumerate(tokens):
        if k not in covered and k not in used and tok in by_surname:
            people[by_surname[tok]] += 1
            used.add(k)
    if spans_out is not None:
        spans_out["person"] = found
        spans_out["org"] = org_runs
    hits = [NameHit("person", n, c) for n, c in people.items()]
    hits += [NameHit("org", n, c) for n, c in orgs.items()]
    return hits, used
