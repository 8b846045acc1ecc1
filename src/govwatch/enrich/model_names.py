"""The statistical tagger's people and organisations, filtered by the rules' vetoes, and its conference vetoes.

Issue 11: the CRF of ner_model.py proposes, the rules confirm. A confident PER/ORG span that touches no token the
rules decided, passes the vetoes (no leading "The", no place/role word or acronym in a person, a lone word only as
the given name/surname of a full name in the story or as a confident call in no list of brands) becomes a name; a
rule organisation the CRF calls a conference loses those mentions (drop_vetoed).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

from govwatch.enrich import ner_model
from govwatch.enrich.name_lexicon import (
    AFTER_NON_PERSON,
    EVENT_HEADS,
    MAX_PERSON_TOKENS,
    NON_PERSON_WORDS,
    NOT_ORGS,
    ORG_SUFFIXES,
    ROLE_WORDS,
    STOP_CAPS,
    TITLES,
    first_names,
)
from govwatch.enrich.name_shape import acronym, join_words, name_shaped
from govwatch.enrich.names import NameHit
from govwatch.enrich.rule_view import RuleView


def model_names(view: RuleView, known_people: set[str]) -> tuple[list[NameHit], set[int], set[int]]:
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
                w in NON_PERSON_WORDS or w in ROLE_WORDS or acronym(w, k) for k, w in enumerate(proper))):
            continue  # "Hayes Street", "Chief Strategy Officer", "NBC"
        if label == "ORG" and (words[0] in EVENT_HEADS or " ".join(words) in NOT_ORGS
                               or any(a == "Journal" and b == "of" for a, b in itertools.pairwise(words))):
            continue  # as the rules: "Conference on ...", "Journal of ...", "Soviet Union"
        if label == "PER" and len(words) == 1 and _team_before_role(tokens, j):
            continue  # "Steelers quarterback Mason Rudolph", "Browns defensive end": a team before a player's role
        if label == "PER" and len(words) > 1 and _in_list(tokens, i, j) \
                and not (words[0] in first_names() or name_shaped(words)):
            continue  # "FC Porto, Inter Milan, Real Madrid": a listed name needs a given name or a name shape
        name = join_words(words)
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


def _team_before_role(tokens: list[tuple[str, int, int]], j: int) -> bool:
    """Whether the (lower-case) word after position j, or the one after a lower-case modifier, is a role or thing
    that makes the lone capitalised word before it a team, company or brand."""
    after = [t[0] for t in tokens[j:j + 2]]
    if after[:1] and after[0] in AFTER_NON_PERSON:
        return True
    return len(after) == 2 and after[0].islower() and after[1] in AFTER_NON_PERSON


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


def drop_vetoed(names: list[NameHit], view: RuleView, vetoed: set[int]) -> list[NameHit]:
    """Pattern organisations minus the mentions whose every token the model vetoed."""
    drop: Counter[str] = Counter()
    k, n = 0, len(view.tokens)
    while k < n:
        if k in vetoed and view.tags[k] == "nO":
            j = k
            while j < n and j in vetoed and view.tags[j] == "nO":
                j += 1
            drop[join_words([t[0] for t in view.tokens[k:j]]).replace(" ,", ",")] += 1
            k = j
        else:
            k += 1
    out = []
    for h in names:
        left = h.mentions - drop[h.name] if h.type == "org" else h.mentions
        if left > 0:
            out.append(replace(h, mentions=left))
    return out
