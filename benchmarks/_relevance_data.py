"""The labelled relevance set as the benchmark reads it: its parts, topic families and language buckets.

The parts (tests/fixtures/relevance/extended/README.md, "Split"):
- random: held-out (a), the original set's ``test`` items (split by story group) plus the extended train side's
  ``random_test`` items (whole story groups of training outlets);
- lso: held-out (b), leave sources out, the extended items of test outlets minus the story groups that outlets on
  both sides told;
- train: what the models are fit on, the original ``dev`` items plus the extended train side minus
  ``random_test``; printed as such, never as a test.

Items of outlets that split.json does not assign yet (a labelling batch not split yet) are in no part: the
benchmark names how many, so a figure never silently mixes them in or leaves them out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = REPO_ROOT / "tests" / "fixtures" / "relevance" / "sources"
EXTENDED = REPO_ROOT / "tests" / "fixtures" / "relevance" / "extended"
PARTS = ("random", "lso", "train")
PART_TITLES = {
    "random": "random held-out (original test + extended random_test)",
    "lso": "leave-sources-out (extended test outlets, minus groups_on_both_sides)",
    "train": "train (fit on these; not a test)",
}
LANGS = ("en", "de", "fr", "es", "zh-Hans", "zh-Hant", "other")


@dataclass(frozen=True)
class Item:
    """One labelled story: ``families`` are the topic families of its gold topics."""

    id: str
    part: str
    lang: str
    kind: str
    title: str
    text: str
    label: int
    topics: tuple[str, ...]
    families: frozenset[str]


def lang_bucket(lang: str) -> str:
    """The reported language: the five the issue names (Chinese by script), else "other"."""
    return lang if lang in LANGS else "other"


def load_families(path: Path = EXTENDED / "topic_families.json") -> dict[str, str]:
    """Taxonomy topic id -> family (every id in exactly one of the ten families)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    owner: dict[str, str] = {}
    for family, ids in doc["families"].items():
        for topic_id in ids:
            if topic_id in owner:
                raise SystemExit(f"{path}: topic {topic_id!r} is in two families")
            owner[topic_id] = family
    return owner


def families_of(topics: Iterable[str], owner: dict[str, str]) -> frozenset[str]:
    """The families of some taxonomy ids; an id of no family is reported as ``?<id>`` rather than dropped."""
    return frozenset(owner.get(t, f"?{t}") for t in topics)


def _lines(paths: Iterable[Path]) -> Iterable[dict[str, Any]]:
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def random_test_ids(plan: dict[str, Any], where: Path) -> set[str]:
    """The extended ids of held-out part (a); the key is written by tests/fixtures/relevance/tools/random_split.py."""
    if "random_test" not in plan:
        raise SystemExit(f"{where} has no key 'random_test' (the extended train side's random held-out items): "
                         "the random held-out part cannot be built without it")
    chosen = plan["random_test"]
    return set(chosen["items"] if isinstance(chosen, dict) else chosen)


def load_parts(owner: dict[str, str]) -> tuple[dict[str, list[Item]], dict[str, list[str]]]:
    """Every labelled item by part (random, lso, train), each in exactly one; and the ids of extended items whose
    outlet split.json does not assign, by outlet (in no part)."""
    parts: dict[str, list[Item]] = {p: [] for p in PARTS}
    unassigned: dict[str, list[str]] = {}

    def add(part: str, d: dict[str, Any]) -> None:
        parts[part].append(Item(d["id"], part, d["lang"], d["kind"], d["title"], d["text"], int(d["label"]),
                                tuple(d["topics"]), families_of(d["topics"], owner)))

    for d in _lines(sorted(SOURCES.glob("*.jsonl"))):
        add({"test": "random", "dev": "train"}[d["split"]], d)
    where = EXTENDED / "split.json"
    plan = json.loads(where.read_text(encoding="utf-8"))
    random_ids = random_test_ids(plan, where)
    both_sides = set(plan["groups_on_both_sides"])
    train_side: set[str] = set()
    for d in _lines(sorted(EXTENDED.glob("items-*.jsonl"))):
        if d["outlet"] not in plan["outlets"]:
            unassigned.setdefault(d["outlet"], []).append(d["id"])
        elif plan["outlets"][d["outlet"]] == "test":
            if d["group"] not in both_sides:
                add("lso", d)
        else:
            train_side.add(d["id"])
            add("random" if d["id"] in random_ids else "train", d)
    if stray := sorted(random_ids - train_side):
        raise SystemExit(f"{where}: random_test names {len(stray)} ids that are not items of training outlets, "
                         f"e.g. {stray[0]}")
    return parts, unassigned
