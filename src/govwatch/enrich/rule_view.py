"""What the rules decide for one story: gazetteer matches, then the name rules over the rest, as per-token tags.

The statistical tagger (ner_model.py) reads these tags as features and may only propose spans the rules left
undecided; tests/fixtures/ner/tools/train_crf.py trains it on exactly this view.
"""

from __future__ import annotations

from dataclasses import dataclass

from govwatch.enrich.gazetteer import (
    ORG_SUFFIXES_LOWER,
    Alias,
    Gazetteer,
    embedded,
    gazetteer_hits,
    supported,
    tokenize,
)
from govwatch.enrich.name_lexicon import PARTY_TITLES, STOP_CAPS, TITLES, first_names
from govwatch.enrich.names import NameHit, find_names


@dataclass
class RuleView:
    """What the gazetteer and the name rules decided for one story; the statistical tagger reads `tags`."""

    tokens: list[tuple[str, int, int]]
    hits: list[tuple[Alias, int, int]]
    names: list[NameHit]
    blocked: set[int]  # tokens a model span may not touch: gazetteer matches and pattern names
    places: set[int]
    tags: list[str]  # per token: "gP"/"gO"/"gC"/"gX" gazetteer type, "nP"/"nO" pattern person/org, "" none


_GAZ_TAGS = {"person": "gP", "org": "gO", "country": "gC"}


def rule_view(full: str, gazetteer: Gazetteer) -> RuleView:
    """Run the gazetteer and the name rules over a story text (title and body joined)."""
    tokens = tokenize(full)
    hits = gazetteer_hits(tokens, gazetteer)
    inside = {k for alias, a, b in hits if not alias.key.startswith("country.") for k in range(a, b)}
    places = {k for alias, a, b in hits if alias.key.startswith("country.") for k in range(a, b)}
    hits = [h for h in hits
            if gazetteer.entries[h[0].key].type != "org" or not embedded(h[0], tokens, h[1], h[2], inside, places)]
    # An ambiguous organisation alias with a generic head word and no support ("the AI Office" in a story with no
    # EU institution) is left to the name patterns, which report it under its own name, not the EU office's id.
    pre_safe = {alias.key for alias, _, _ in hits if not alias.ambiguous}
    hits = [h for h in hits if not (h[0].ambiguous and gazetteer.entries[h[0].key].type == "org"
                                    and any(t.lower() in ORG_SUFFIXES_LOWER for t in h[0].tokens)
                                    and not supported(h[0].key, pre_safe, gazetteer))]
    # A known person's bare surname after another given name is someone else, often a relative: "Jill Biden" is
    # not Joe Biden.
    hit_tokens = {k for _, a, b in hits for k in range(a, b)}
    hits = [h for h in hits if not (h[0].ambiguous and gazetteer.entries[h[0].key].type == "person" and h[1] > 0
                                    and _other_given_name(tokens[h[1] - 1][0], gazetteer.entries[h[0].key].name)
                                    and h[1] - 1 not in hit_tokens)]
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
    return RuleView(tokens, hits, names, covered | used, places, tags)


def _other_given_name(word: str, name: str) -> bool:
    """Whether `word` right before a known person's surname is a listed given name other than the person's own
    (not a title, party word or adjective: "Vice President Biden", "Angry Trump supporters")."""
    return word in first_names() and word not in TITLES and word not in PARTY_TITLES and word not in STOP_CAPS \
        and word not in name.split()
