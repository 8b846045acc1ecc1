"""The labelled event set (issue 27) keeps its invariants: fields, ids, dates, size, span, and the audit's coverage."""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

SET = Path(__file__).resolve().parents[1] / "fixtures" / "events"
FIELDS = ("id", "url", "outlet", "published", "lang", "title", "lead", "event", "provenance")
LANGS = {"en", "de", "fr", "es", "it", "pt", "cs", "el", "zh-Hans", "zh-Hant"}
EVENT_ID = re.compile(r"^ev-\d{4}-\d{2}-\d{2}-[a-z0-9]+(-[a-z0-9]+)*$")


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"events_{name}", SET / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (SET / name).open(encoding="utf-8")]


def _published(story: dict[str, str]) -> datetime:
    return datetime.fromisoformat(story["published"].replace("Z", "+00:00"))


def test_every_story_has_every_field_as_text_and_the_needed_ones_filled() -> None:
    """Each line carries the nine fields as strings; title or lead may be empty (as stored), never both."""
    for story in _read("stories.jsonl"):
        assert tuple(story) == FIELDS, story["id"]
        assert all(isinstance(story[f], str) for f in FIELDS), story["id"]
        assert all(story[f].strip() for f in FIELDS if f not in ("title", "lead")), story["id"]
        assert story["title"].strip() or story["lead"].strip(), story["id"]
        assert story["lang"] in LANGS, story["id"]
        assert story["url"].startswith(("http://", "https://")), story["id"]


def test_ids_and_urls_are_unique_and_event_ids_are_well_formed() -> None:
    """No story twice (by id or by URL); every event id is a non-empty `ev-YYYY-MM-DD-slug`."""
    stories = _read("stories.jsonl")
    assert len({s["id"] for s in stories}) == len(stories)
    assert len({s["url"] for s in stories}) == len(stories)
    assert [s["event"] for s in stories if not EVENT_ID.match(s["event"])] == []


def test_dates_parse_as_utc_and_the_set_is_big_and_long_enough() -> None:
    """At least 400 stories whose UTC publication dates span at least three weeks."""
    stories = _read("stories.jsonl")
    dates = [_published(s) for s in stories]
    assert all(s["published"].endswith("Z") for s in stories)
    assert all(d.utcoffset() == timedelta(0) for d in dates)
    assert len(stories) >= 400
    assert max(dates) - min(dates) >= timedelta(weeks=3)


def test_no_story_predates_its_event_by_more_than_a_day() -> None:
    """The day in an event id is the happening's day: a story dated well before it is a labelling slip."""
    for story in _read("stories.jsonl"):
        day = datetime.fromisoformat(story["event"][3:13]).date()
        assert _published(story).date() >= day - timedelta(days=1), story["id"]


def test_the_audit_covers_exactly_the_seeded_sample_with_the_first_pass_labels() -> None:
    """audit.jsonl holds the blind tool's sample (a quarter or more of the set) and the set's own event ids."""
    stories = {s["id"]: s for s in _read("stories.jsonl")}
    audit = _read("audit.jsonl")
    sample = _tool("blind").sample_ids(list(stories.values()))
    assert [a["id"] for a in audit] == sample
    assert len(audit) >= 0.25 * len(stories)
    assert all(a["first"] == stories[a["id"]]["event"] and a["second"] for a in audit)


def test_bcubed_and_kappa_on_a_worked_example() -> None:
    """One story moved between two events gives B-cubed P = R = 2/3 and the pair counts expected by hand."""
    agreement = _tool("agreement")
    first = {"a": "e1", "b": "e1", "c": "e2"}
    second = {"a": "g1", "b": "g2", "c": "g2"}
    p, r, f1 = agreement.bcubed(first, second)
    assert (round(p, 6), round(r, 6), round(f1, 6)) == (round(2 / 3, 6),) * 3
    rand, kappa, diff = agreement.pairwise(first, second)
    assert rand == 1 / 3 and len(diff) == 2 and kappa < 0
    assert agreement.bcubed(first, first) == (1.0, 1.0, 1.0)
