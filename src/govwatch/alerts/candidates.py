"""A subscription-side inverted index (the idea of Lucene's Monitor / Luwak): which subscriptions a batch can wake.

The pre-filter (``prefilter``) gives, per subscription, a requirement: a necessary condition on a story's
tokens for its query to match. Checking every subscription's requirement against every batch costs
O(subscriptions). This index turns each requirement into a **key set**: tokens such that every story
satisfying the requirement contains at least one of them. A subscription is filed under each of its keys;
a batch then wakes only the subscriptions filed under one of the batch's tokens, plus those with no key
set ("may match anything", always checked). The exact pre-filter check then runs on those candidates only.

Why no subscription that can match is skipped (by induction on the requirement):

* a token ``t``: a story satisfying it contains ``t``; keys = {t}.
* ``("any", parts)``: a story satisfying it satisfies some part, so contains a key of that part; keys =
  the union of the parts' keys (if one part has no key set, neither has the OR: always checked).
* ``("all", parts)``: a story satisfying it satisfies *every* part, so any one part's keys will do; we
  take the part whose keys look rarest (fewest expected wake-ups). Parts without a key set are skipped;
  if none has one, the AND has none (always checked).
* ``None``: no key set, always checked.

A story that matches a subscription satisfies its requirement (``prefilter``'s argument), so it holds one
of the subscription's keys; the batch's tokens are the union of its stories' tokens, so the subscription
is woken. Which part of an AND is chosen only changes how often a subscription is woken, never whether.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from govwatch.alerts.prefilter import Requirement

# Expected share of stories containing a token, when no statistics are given: short tokens ("ai", "act",
# "eu") are the common ones in this domain; long ones ("deepfakes", "ofcom") are rare.
Frequency = Callable[[str], float]


def guess_frequency(token: str) -> float:
    """A stand-in for a document frequency: shorter tokens are taken as commoner."""
    return 1.0 / (1 + len(token))


def key_set(req: Requirement, frequency: Frequency = guess_frequency) -> frozenset[str] | None:
    """Tokens one of which every story satisfying ``req`` contains; None when there is no such set."""
    found = _keys(req, frequency)
    return None if found is None else frozenset(found[1])


def _keys(req: Requirement, frequency: Frequency) -> tuple[float, tuple[str, ...]] | None:
    """(expected wake-ups, keys) of ``req``; None when it has no key set."""
    if req is None:
        return None
    if isinstance(req, str):
        return frequency(req), (req,)
    kind, parts = req
    if kind == "any":
        cost = 0.0
        keys: list[str] = []
        for part in parts:
            found = _keys(part, frequency)
            if found is None:
                return None
            cost += found[0]
            keys.extend(found[1])
        return cost, tuple(keys)
    best: tuple[float, tuple[str, ...]] | None = None
    for part in parts:  # any one part of an AND will do: the one expected to wake it least
        found = _keys(part, frequency)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    return best


def _safe_key_set(req: Requirement, frequency: Frequency) -> frozenset[str] | None:
    """``key_set``, or None ("always checked") if it fails: one odd requirement must not stop the index's build."""
    try:
        return key_set(req, frequency)
    except Exception:  # noqa: BLE001 - None is the safe answer: the subscription is checked on every batch
        return None


@dataclass(frozen=True)
class CandidateIndex:
    """Positions of subscriptions (in the list the index was built from) filed under their keys."""

    size: int
    by_key: Mapping[str, tuple[int, ...]]
    always: tuple[int, ...]  # no key set: checked on every batch

    @classmethod
    def of(cls, requirements: Sequence[Requirement], frequency: Frequency = guess_frequency) -> CandidateIndex:
        """The index of subscriptions whose requirements are ``requirements`` (position = subscription)."""
        by_key: dict[str, list[int]] = {}
        always: list[int] = []
        memo: dict[int, frozenset[str] | None] = {}  # by id: equal queries share one parsed requirement
        for pos, req in enumerate(requirements):
            if id(req) not in memo:
                memo[id(req)] = _safe_key_set(req, frequency)
            keys = memo[id(req)]
            if keys is None:
                always.append(pos)
                continue
            for key in keys:
                by_key.setdefault(key, []).append(pos)
        return cls(len(requirements), {k: tuple(v) for k, v in by_key.items()}, tuple(always))

    def woken(self, batch_tokens: Iterable[str]) -> list[int]:
        """Sorted positions of the subscriptions the batch may match (a superset of those that match)."""
        found: set[int] = set(self.always)
        by_key = self.by_key
        for token in batch_tokens:
            hit = by_key.get(token)
            if hit is not None:
                found.update(hit)
        return sorted(found)
