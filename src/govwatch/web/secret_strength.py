"""Is a configured secret real, or a placeholder someone copied from an example? Checked when a role starts.

A secret that anyone who read ``deploy/compose/.env.example`` knows (``CHANGE-this-…``) is no secret: with it an
attacker signs an admin session cookie. So a role refuses to start with a value that

* contains a placeholder word (``change``, ``example``, ``password``, ``secret`` …),
* is shorter than its kind's minimum, repeats one character many times, or is one short pattern repeated,
* or has too little estimated entropy: length × the Shannon entropy of its own characters. That estimate is rough
  (it cannot see that ``Tr0ub4dor`` is a dictionary word), but it is never above the truth for a random string's
  alphabet, and it catches the usual hand-made values while a generated one passes with a wide margin.

Every refusal says how to make a good value. Pure: no settings, no I/O (the caller names the setting).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

# Words that mark a value as copied from documentation. Six letters or more, so a random 64-character value
# contains one by chance with a probability below 1e-7.
PLACEHOLDER_WORDS = ("change", "example", "password", "placeholder", "replace", "secret", "insecure")
LONGEST_RUN = 7  # even 64 hex digits repeat one character 8 times in a row with a probability below 1e-6
MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


@dataclass(frozen=True)
class Kind:
    """A class of secret: what it protects decides how long and how random it must be."""

    name: str
    min_length: int
    min_bits: float


# Keys we generate (session signing keys, API tokens). 128 random bits is the usual floor for a symmetric key; the
# estimate runs below the truth for short values (32 random hex digits, 128 bits, estimate 91-125 bits), hence 90.
KEY = Kind("key", 32, 90.0)
# Passwords a person or another system chose (Elasticsearch, Kafka SASL): 12 random letters and digits estimate
# 29-43 bits; 30 refuses the most regular hand-made ones (``ab12ab12ab13``: 27 bits) and almost no generated one.
PASSWORD = Kind("password", 12, 30.0)


def estimated_bits(value: str) -> float:
    """Length × Shannon entropy of the value's own character distribution (0 for an empty value)."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return per_char * n


def _longest_run(value: str) -> int:
    longest = run = 0
    previous = None
    for ch in value:
        run = run + 1 if ch == previous else 1
        previous = ch
        longest = max(longest, run)
    return longest


def _period(value: str) -> int | None:
    """The shortest unit the whole value repeats (``abcabcab`` -> 3), when it repeats at least twice."""
    n = len(value)
    for p in range(1, n // 2 + 1):
        if all(value[i] == value[i - p] for i in range(p, n)):
            return p
    return None


def weakness(value: str, kind: Kind = KEY) -> str | None:
    """Why ``value`` is not a usable secret of this kind (a short phrase), or None when it is."""
    lowered = value.lower()
    word = next((w for w in PLACEHOLDER_WORDS if w in lowered), None)
    if word is not None:
        return f"it contains the placeholder word {word!r}"
    if len(value) < kind.min_length:
        return f"it has {len(value)} characters, fewer than the {kind.min_length} a {kind.name} needs"
    if _longest_run(value) > LONGEST_RUN:
        return "it repeats one character many times in a row"
    period = _period(value)
    if period is not None:
        return f"it is a pattern of {period} characters repeated"
    bits = estimated_bits(value)
    if bits < kind.min_bits:
        return f"it looks too regular (about {bits:.0f} bits of entropy; a {kind.name} needs {kind.min_bits:.0f})"
    return None


def refusal(setting: str, reason: str) -> str:
    """The one-line message a role prints when it refuses a secret setting."""
    return (f"{setting} is not a usable secret: {reason}. Make a new random value, e.g. `{MAKE_ONE}`, "
            f"and set {setting} to it")
