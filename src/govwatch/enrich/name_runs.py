"""Capitalised runs of a story and the organisation names inside them.

A run is a maximal sequence of capitalised words, allowing lower-case connectors and particles between capitals
and middle initials ("George W. Bush"); it is cut at "and" unless the "and" sits inside one organisation name
(see _keeps_and). org_span finds the organisation name inside a run: a suffix word ("... Agency") or an
institutional head followed by "of"/"for" ("Ministry of Defence"); conference and journal names are not
organisations, and "Fellow of X" / "Person of X" keeps only the organisation X.
"""

from __future__ import annotations

import itertools

from govwatch.enrich.name_lexicon import (
    CONNECTORS,
    EVENT_HEADS,
    MEMBER_WORDS,
    NON_PERSON_WORDS,
    NOT_ORGS,
    ORG_HEADS,
    ORG_SUFFIXES,
    PARTICLES,
    TITLES,
    first_names,
)
from govwatch.enrich.name_shape import Token, is_cap, is_initial


def capitalised_runs(tokens: list[Token], covered: set[int]) -> list[tuple[int, int]]:
    """Maximal capitalised runs [i, j), allowing lower-case connectors/particles between capitals."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(tokens)
    while i < n:
        if i in covered or not is_cap(tokens[i][0]):
            i += 1
            continue
        j = i + 1
        while j < n and j not in covered:
            tok = tokens[j][0]
            if is_cap(tok):
                j += 1
            elif is_initial(tokens, j - 1) and tok == "." and j + 1 < n and j + 1 not in covered \
                    and is_cap(tokens[j + 1][0]):
                j += 2  # a middle initial: "George W. Bush", "J. E. Jones"
            elif tok in ("A", "I") and j + 2 < n and tokens[j + 1][0] == "." and is_cap(tokens[j + 2][0]) \
                    and not covered.intersection((j + 1, j + 2)):
                j += 3  # initials that are also stop words: "Herbert A. Simon", "Gregory I. Piatetsky-Shapiro"
            elif tok in ("of", "for", "on") and j + 2 < n and tokens[j + 1][0] == "the" \
                    and tokens[j - 1][0] in ORG_SUFFIXES and not covered.intersection((j + 1, j + 2)) \
                    and is_cap(tokens[j + 2][0]):
                # an organisation's complement: "Association for the Advancement of Science", "Party of the Left"
                j += 3
            elif (tok in CONNECTORS or tok in PARTICLES) and j + 1 < n and j + 1 not in covered \
                    and is_cap(tokens[j + 1][0]) \
                    and not (tok in ("and", "&") and tokens[j + 1][0] in ORG_HEADS):  # two names
                j += 2
            else:
                break
        out.extend(_split_at_and(tokens, i, j))
        i = j
    return out


def _keeps_and(before: list[str], after: list[str]) -> bool:
    """Whether an "and" joins one organisation name rather than two names.

    `before` runs from the start of the current name to the "and", `after` from the "and" to the next one.
    Kept: the tail of a head-word name when the tail has no organisation word of its own ("Ministry of Science
    and Technology", "American Academy of Arts and Sciences"), or plain words before "and" with an organisation
    suffix closing the part after it ("Food and Drug Administration", "Social Democratic and Labour Party").
    Split: two complete names ("Bright Horizon Trust and Hollow Pine Partners", "Xerox PARC and Stanford
    University") and two people ("Ottoline Vasquez and Rembert Okafor").
    """
    org_words = ORG_SUFFIXES | ORG_HEADS
    if any(w in org_words for w in after[:-1]):
        return False
    if any(w in org_words for w in before):
        # the "and" sits inside the complement of the head: "Institute of Electrical and Electronics Engineers"
        heads = [k for k, w in enumerate(before) if w in org_words]
        return after[-1] not in org_words and any(w in ("of", "for", "on") for w in before[heads[0] + 1:])
    # one word and a suffix after "and"; a longer part is a name of its own ("X and Bharatiya Janata Party")
    return len(after) == 2 and after[-1] in ORG_SUFFIXES and before[0] not in first_names() \
        and not any(w in PARTICLES or (w.isupper() and len(w) > 1) for w in before)


def _split_at_and(tokens: list[Token], i: int, j: int) -> list[tuple[int, int]]:
    """Cut run [i, j) at each "and"/"&" that joins two names rather than one organisation name."""
    ands = [m for m in range(i + 1, j - 1) if tokens[m][0] in ("and", "&")]
    out: list[tuple[int, int]] = []
    start = i
    for n, m in enumerate(ands):
        end = ands[n + 1] if n + 1 < len(ands) else j
        if not _keeps_and([t[0] for t in tokens[start:m]], [t[0] for t in tokens[m + 1:end]]):
            out.append((start, m))
            start = m + 1
    out.append((start, j))
    return out


def org_span(words: list[str]) -> tuple[int, int] | None:
    """Sub-span of a run that is an organisation name, or None."""
    if " ".join(words) in NOT_ORGS:
        return None
    if words[0] in EVENT_HEADS or any(a == "Journal" and b == "of" for a, b in itertools.pairwise(words)):
        return None  # "Conference on Neural Information Processing Systems", "Journal of Machine Learning"
    for k in range(len(words) - 1, 0, -1):  # last suffix word wins: "Bank of England Council"
        # a capitalised word before the suffix; a suffix word will do when a complement follows ("Alliance
        # Party of Northern Ireland")
        complement = k + 1 < len(words) and words[k + 1] in ("of", "for", "on")
        if k + 1 < len(words) and words[k + 1] in TITLES:
            continue  # the suffix word starts a title: "White House Press Secretary", "Party Chairman"
        if words[k] in ORG_SUFFIXES and any(w[:1].isupper() and (w not in ORG_SUFFIXES or complement)
                                            for w in words[:k]):
            if words[k - 1] in ("of", "for", "on") and not any(w in ORG_SUFFIXES | ORG_HEADS for w in words[:k]):
                continue  # the suffix is an object, not the head: "Universal Machine for Assembly"
            start = 1 if words[0] == "The" else 0
            # a member word or a person's full name before "of" is not part of the organisation that follows:
            # "Fellow of Institute of ...", "Fumitada Itakura of Nagoya University"
            of = next((m for m in range(start + 1, k - 1) if words[m] == "of"), None)
            before_of = words[start:of] if of is not None else []
            person_like = 2 <= len(before_of) <= 3 and not any(
                w in ORG_SUFFIXES or w in ORG_HEADS or w in NON_PERSON_WORDS or not w[:1].isupper() for w in before_of)
            if of is not None and (all(w in MEMBER_WORDS for w in before_of) or person_like):
                start = of + 1
            # "Liberal Party of Canada", "Committee on Computational Linguistics": the complement stays, up to a
            # full name that follows it ("Liberal Party of Canada Fernand Viau")
            end = k + 1
            if k + 1 < len(words) and words[k + 1] in ("of", "for", "on"):
                given = first_names()
                end = next((m for m in range(k + 3, len(words) - 1) if words[m] in given
                            and not any(w in ORG_SUFFIXES or w in CONNECTORS for w in words[m:])), len(words))
            return start, end
    if len(words) >= 3 and words[0] in ORG_HEADS and words[1] in ("of", "for", "on"):
        return 0, len(words)
    return None

