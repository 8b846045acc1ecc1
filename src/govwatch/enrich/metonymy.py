"""A capital city standing for its national government ("Beijing retaliated", "talks with Kabul") is that country.

docs/entity-guidelines.md section 6: the capital names the state when it acts, is acted upon or owns a position;
the same name as a place ("a rally in Washington", "northwest of Beijing", "London-based") is not a mention.
Decided from the words around the name, without a model:

* government use: a verb right after it ("Beijing is balking", "Washington invaded", "Beijing also wants"), a
  possessive before a lower-case noun ("Beijing's demands"), a government noun after it ("the Kabul government"),
  or a relation word before it ("talks with Moscow", "caving to Beijing", "anger toward Beijing", "under Beijing",
  "between Moscow and Kyiv");
* place use (wins): a locative word before it ("in", "of", "near", "at", "outside", "around", "across"), or a
  hyphen/comma/state right after it ("Washington-based", "Redmond, Washington", "Washington, DC").
"""

from __future__ import annotations

Token = tuple[str, int, int]

_VERBS = frozenset({"is", "was", "has", "had", "have", "will", "would", "could", "should", "may", "might", "must",
                    "said", "says", "also", "wants", "wanted", "insists", "insisted", "accused", "accuses", "denied",
                    "denies", "warned", "warns", "agreed", "agrees", "announced", "urged", "responded", "refused",
                    "rejected", "retaliated", "invaded", "imposed", "blamed", "demanded", "demands", "struck",
                    "signed", "sees", "believes", "hopes", "resumed", "resume", "threatened", "condemned",
                    "welcomed", "summoned", "expelled", "sanctioned", "backed", "pledged", "vowed", "did", "does",
                    "cannot", "can", "sent", "launched", "claimed", "claims", "objected", "ordered", "approved"})
_GOVERNMENT_NOUNS = frozenset({"government", "regime", "authorities", "administration", "leadership"})
_RELATIONS = frozenset({"with", "to", "toward", "towards", "from", "under", "against", "between", "and", "by",
                        "pressure", "on"})
_PLACE_BEFORE = frozenset({"in", "of", "near", "at", "outside", "around", "across", "via", "into", "through",
                           "downtown", "central", "suburban", "capital"})


def _government_use(tokens: list[Token], a: int, b: int) -> bool:
    prev = tokens[a - 1][0].lower() if a > 0 else ""
    nxt = tokens[b][0] if b < len(tokens) else ""
    if prev in _PLACE_BEFORE or nxt in ("-", ",") or nxt.startswith("-"):
        return False
    if nxt.lower() in _VERBS or nxt.lower() in _GOVERNMENT_NOUNS:
        return True
    if nxt in ("'s", "'") and b + 1 < len(tokens) and tokens[b + 1][0][:1].islower():
        return True
    return prev in _RELATIONS


def capital_mentions(tokens: list[Token], capitals: dict[str, list[tuple[tuple[str, ...], str]]],
                     blocked: set[int]) -> list[tuple[str, int, int]]:
    """(country key, start, end) of each capital used for its government (tokens in `blocked` are part of another
    name: "Washington Post", "Beijing Academy of Artificial Intelligence")."""
    out: list[tuple[str, int, int]] = []
    for k, (tok, _, _) in enumerate(tokens):
        for name, key in capitals.get(tok, ()):
            b = k + len(name)
            if tuple(t[0] for t in tokens[k:b]) == name and not blocked.intersection(range(k, b)) \
                    and _government_use(tokens, k, b):
                out.append((key, k, b))
    return out
