"""The shape of a word or a capitalised run: capital, initial, acronym, full-name shape, slug (no cues here).

Shared by the name rules (names.py, name_runs.py) and the statistical tagger's vetoes (model_names.py).
"""

from __future__ import annotations

import re
import unicodedata

from govwatch.enrich.name_lexicon import (
    FAMILY_FIRST,
    FAMILY_FIRST_WORDS,
    PARTICLE_NAME_RE,
    REGNAL_RE,
    SENTENCE_ENDS,
    STOP_CAPS,
    first_names,
)

Token = tuple[str, int, int]  # surface, start, end


def slug(name: str) -> str:
    """ascii, lower-case, underscore-separated form of a name, used in pattern ids."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_.lower()).strip("_")


def is_cap(tok: str) -> bool:
    """A capitalised word that can be part of a name (not a sentence-initial stop word), or a particle name."""
    return (tok[:1].isupper() and tok not in STOP_CAPS and any(c.isalpha() for c in tok)) \
        or PARTICLE_NAME_RE.match(tok) is not None


def name_shaped(words: list[str]) -> bool:
    """A full name by its shape alone: East Asian family name first, or an Arabic particle name."""
    if any(PARTICLE_NAME_RE.match(w) for w in words[1:]):
        return True
    if len(words) >= 3 and len(words[0]) == 1 and words[0].isupper() and words[1] == "." \
            and words[-1][:1].isupper() and len(words[-1]) > 1 and (len(words) == 3 or words[2] in first_names()):
        return True  # an initial first: "Y. Bengio", "J. Michael Straczynski"; not "J. Applied Ontology"
    rest = words[1:]
    if words[0] in FAMILY_FIRST_WORDS and len(rest) == 1 and "-" not in rest[0]:
        return False  # "Park Place", "Moon Express", "Fan Vote"; "Park Geun-hye", "Moon Jae-in" pass
    return (words[0] in FAMILY_FIRST and 1 <= len(rest) <= 2
            and all(w.replace("-", "").isalpha() and w[1:].replace("-", "").islower() and len(w) <= 10
                    for w in rest))


def acronym(word: str, position: int) -> bool:
    """An all-capitals word that is not an initial or a regnal number after a name ("Charles III")."""
    return len(word) > 1 and word.isupper() and not (position > 0 and REGNAL_RE.fullmatch(word) is not None)


def is_initial(tokens: list[Token], k: int) -> bool:
    """A single capital letter ("W" in "George W. Bush"); the dot after it is its own token."""
    return len(tokens[k][0]) == 1 and tokens[k][0].isupper()


def join_words(words: list[str]) -> str:
    """The surface form of a run: re-attach the dot of an initial ("George W. Bush")."""
    return " ".join(words).replace(" .", ".")



def sentence_start(tokens: list[Token], i: int) -> bool:
    """Whether token i starts a sentence."""
    return i == 0 or tokens[i - 1][0] in SENTENCE_ENDS

