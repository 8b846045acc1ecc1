"""The candidate index wakes every subscription whose requirement a batch may satisfy (never fewer)."""

from __future__ import annotations

import random

from govwatch.alerts.candidates import CandidateIndex, key_set
from govwatch.alerts.prefilter import requirement, satisfied, story_tokens

QUERIES = ['"AI Act" AND (fine OR enforcement)', "Ofcom OR NIST", "enforcement", "AI -Act", "title:guidance",
           "regulat* OR summit", "*", "w1 AND w2 AND w3", "(w9 OR w10) AND w11", "w6 AND w7 -w8", "-w1",
           '"w1 w2" AND (w3 OR title:x)', "w4 OR (w5 AND w6)", "NOT w2", "w3^2 OR w4", "+w5 +w6", "w7 && w8 || w9"]


def test_key_set_shapes() -> None:
    """A word keys on itself, an OR on the union of its words, an AND on its rarest-looking part, a may-match query on
    nothing."""
    assert key_set(requirement("Ofcom")) == {"ofcom"}
    assert key_set(requirement("Ofcom OR NIST")) == {"ofcom", "nist"}
    assert key_set(requirement('"AI Act" AND deepfakes')) == {"deepfakes"}
    assert key_set(requirement("ai AND (deepfakes OR voice)"), frequency=lambda t: 0.9 if t == "ai" else 0.5) == {"ai"}
    assert key_set(requirement("regulat* OR summit")) is None and key_set(requirement("*")) is None
    assert key_set(requirement("regulat* AND summit")) == {"summit"}


def test_every_story_satisfying_a_requirement_holds_a_key() -> None:
    """On random token sets, whenever a requirement is satisfied the set contains one of its keys (the index's
    premise)."""
    rng = random.Random(5)
    words = [f"w{i}" for i in range(12)] + ["ai", "act", "fine", "enforcement", "ofcom", "nist", "summit", "guidance"]
    reqs = [requirement(q) for q in QUERIES]
    for _ in range(3000):
        tokens = set(rng.sample(words, rng.randint(0, 8)))
        for q, req in zip(QUERIES, reqs, strict=True):
            keys = key_set(req)
            if satisfied(req, tokens) and keys is not None:
                assert keys & tokens, (q, tokens)


def test_woken_is_a_superset_of_the_exact_check() -> None:
    """For random batches, the index wakes every subscription the full pre-filter keeps, plus only a few more."""
    rng = random.Random(9)
    words = [f"w{i}" for i in range(12)] + ["ai", "act", "fine", "enforcement", "ofcom", "nist", "summit", "guidance"]
    queries = [rng.choice(QUERIES) for _ in range(300)] + [f"w{rng.randrange(12)} AND w{rng.randrange(12)}"
                                                          for _ in range(300)]
    reqs = [requirement(q) for q in queries]
    index = CandidateIndex.of(reqs)
    assert index.size == len(queries)
    for _ in range(200):
        batch = story_tokens({"text": " ".join(rng.sample(words, rng.randint(0, 6)))})
        woken = set(index.woken(batch))
        kept = {n for n, req in enumerate(reqs) if satisfied(req, batch)}
        assert kept <= woken
        assert index.woken(batch) == sorted(woken)


def test_may_match_subscriptions_are_always_woken() -> None:
    """A subscription with no key set (wildcards, '*', only prohibited terms) is woken by every batch, even an empty
    one."""
    reqs = [requirement(q) for q in ("*", "regul*", "-ofcom", "ofcom")]
    index = CandidateIndex.of(reqs)
    assert index.always == (0, 1, 2)
    assert index.woken(frozenset()) == [0, 1, 2]
    assert index.woken(frozenset({"ofcom"})) == [0, 1, 2, 3]


def test_phrase_requires_its_neighbouring_words_as_bigrams() -> None:
    """A slop-free phrase of plain words needs each neighbouring pair adjacent in one string; slop or an unknown chunk
    drops that part of the condition, and separate values of a list field are never joined."""
    assert not satisfied(requirement('"export restrictions"'), story_tokens({"text": "restrictions on export"}))
    assert satisfied(requirement('"export restrictions"'), story_tokens({"text": "new Export-Restrictions, said"}))
    assert satisfied(requirement('"export restrictions"~3'), story_tokens({"text": "restrictions on export"}))
    assert satisfied(requirement('"U.S. export restrictions"'), story_tokens({"text": "restrictions on export"}))
    assert not satisfied(requirement('"ai act"'), story_tokens({"entity_names": ["AI", "Act"]}))
    assert satisfied(requirement('"ai act"'), story_tokens({"source": "AI Act"}))
    long_run = "x" * 300
    toks = story_tokens({"text": f"{long_run} tail"})
    assert f"{'x' * 45} tail" in toks and f"{'x' * 255} {'x' * 45}" in toks
