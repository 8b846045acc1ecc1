"""Acronyms a story defines: "the New York State Attorney General (NYAG)" makes every later "NYAG" that body.

News defines an agency's or company's short form once, in brackets after its name, and uses the short form
afterwards; the gazetteer cannot know story-local acronyms ("Doctors for Camp Closure (DCC)"). A definition is
a bracketed ALL-CAPS word right after a capitalised name whose word initials contain the acronym's letters in
order, starting with the same letter ("Federal Trade Commission (FTC)", "New York State Attorney General
(NYAG)"). How the name and the acronym's mentions become one entity is decided in entities.py.
"""

from __future__ import annotations

from govwatch.enrich.name_lexicon import CONNECTORS, PARTICLES

Token = tuple[str, int, int]
MAX_NAME_WORDS = 9  # "Office of the United Nations High Commissioner for Human Rights (OHCHR)"
_MIN_LETTERS, _MAX_LETTERS = 2, 8
_JOINERS = CONNECTORS | PARTICLES


def _acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return _MIN_LETTERS <= len(letters) <= _MAX_LETTERS and all(c.isupper() for c in letters) \
        and all(c.isalnum() or c == "&" for c in word)


def _initials_match(acr: str, words: list[str]) -> bool:
    """The acronym's letters are, in order, initials of the name's capitalised words; the first ones agree."""
    initials = [w[0] for w in words if w[:1].isupper()]
    letters = [c for c in acr if c.isalpha()]
    if not initials or not letters or initials[0] != letters[0]:
        return False
    k = 0
    for c in initials:
        if k < len(letters) and c == letters[k]:
            k += 1
    return k == len(letters)


def definitions(tokens: list[Token]) -> list[tuple[str, int, int]]:
    """(acronym, a, b): tokens[a:b] is the name the bracketed acronym right after it stands for (shortest name
    that still starts at a word matching the acronym's first letter and explains all its letters)."""
    out: list[tuple[str, int, int]] = []
    for i in range(1, len(tokens) - 2):
        if tokens[i][0] != "(" or tokens[i + 2][0] != ")" or not _acronym(tokens[i + 1][0]):
            continue
        acr = tokens[i + 1][0]
        a = i
        while a > 0 and i - a < MAX_NAME_WORDS and (tokens[a - 1][0][:1].isupper() or (
                tokens[a - 1][0] in _JOINERS and a - 2 >= 0 and tokens[a - 2][0][:1].isupper())):
            a -= 1
        words = [t[0] for t in tokens[a:i]]
        for start in range(len(words)):  # the shortest tail that explains the acronym
            tail = words[len(words) - 1 - start:]
            if tail[0][:1].isupper() and _initials_match(acr, tail):
                out.append((acr, i - len(tail), i))
                break
    return out
