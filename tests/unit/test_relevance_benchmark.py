"""benchmarks/relevance_quality.py: the parts it scores, how it counts, and the shape of what it prints."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench(name: str) -> ModuleType:
    """A benchmark module (they import each other by bare name, as when run from the benchmarks folder)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(BENCHMARKS))
        return importlib.import_module(name)


def test_every_item_is_in_exactly_one_part_as_the_split_says() -> None:
    """Random held-out = original test + random_test; leave-sources-out = test outlets minus groups told on both
    sides; train = the rest of the training outlets and the original dev part; no item in two parts; items of
    outlets the split does not assign are in none and are counted."""
    data = _bench("_relevance_data")
    parts, unassigned = data.load_parts(data.load_families())
    ids = [it.id for p in data.PARTS for it in parts[p]]
    assert len(ids) == len(set(ids))
    plan = json.loads((data.EXTENDED / "split.json").read_text(encoding="utf-8"))
    chosen = data.random_test_ids(plan, data.EXTENDED / "split.json")
    extended = [json.loads(line) for path in sorted(data.EXTENDED.glob("items-*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    original = [json.loads(line) for path in sorted(data.SOURCES.glob("*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    both_sides = set(plan["groups_on_both_sides"])
    assert {d["id"] for d in extended if d["outlet"] not in plan["outlets"]} == {
        i for ids in unassigned.values() for i in ids}
    extended = [d for d in extended if d["outlet"] in plan["outlets"]]
    want_lso = {d["id"] for d in extended if plan["outlets"][d["outlet"]] == "test" and d["group"] not in both_sides}
    want_random = {d["id"] for d in original if d["split"] == "test"} | chosen
    assert {it.id for it in parts["lso"]} == want_lso
    assert {it.id for it in parts["random"]} == want_random
    assert not chosen & {it.id for it in parts["train"]}
    assert len(ids) == len(original) + len(extended) - sum(
        1 for d in extended if plan["outlets"][d["outlet"]] == "test" and d["group"] in both_sides)


def test_a_split_without_random_test_is_refused_by_name(tmp_path: Path) -> None:
    """A split.json without the random held-out key stops the benchmark with a message naming the key."""
    data = _bench("_relevance_data")
    with pytest.raises(SystemExit, match="random_test"):
        data.random_test_ids({"outlets": {}, "groups_on_both_sides": []}, tmp_path / "split.json")


def test_undefined_ratios_print_a_dash_not_a_number() -> None:
    """No predicted positives has no precision and no gold positives no recall: both print "-"."""
    report = _bench("_relevance_report")
    nothing_said = report.Counts(tp=0, fp=0, fn=3)
    assert nothing_said.precision is None and nothing_said.recall == 0.0 and nothing_said.f1 is None
    assert report.ratio(nothing_said.precision).strip() == "-"
    assert report.ratio(report.Counts(tp=3, fp=1, fn=1).f1) == "0.750"


def test_a_predicted_family_is_right_when_a_gold_topic_is_of_that_family() -> None:
    """Families, not topic ids, are compared: compliance_enforcement for a legislation story is a hit."""
    data, report = _bench("_relevance_data"), _bench("_relevance_report")
    owner = data.load_families()
    item = data.Item("s1", "random", "en", "short", "t", "x", 1, ("legislation_rulemaking",),
                     data.families_of(("legislation_rulemaking",), owner))
    model = report.Model("m", 0.5, {"s1": report.Prediction(0.9, ("compliance_enforcement", "copyright_ip"))})
    tp, pred, gold = report.family_counts(model, [item], owner)
    assert tp == {"law_rulemaking_enforcement": 1}
    assert pred == {"law_rulemaking_enforcement": 1, "courts_liability_ip": 1}
    assert gold == {"law_rulemaking_enforcement": 1}


def test_the_previous_scorer_runs_its_own_relevance_module() -> None:
    """The baseline topics module read from git uses the baseline's relevance module even when today's is
    imported, and today's package attribute is left as it was."""
    import govwatch.enrich
    import govwatch.enrich.relevance as today

    frozen = _bench("_frozen")
    previous = frozen.relevance_baseline()
    assert previous.rel.__name__ == "relevance_v2"
    assert govwatch.enrich.relevance is today
    result = previous.classify("EU lawmakers adopt the AI Act", "The European Parliament adopted the AI Act.",
                               previous.load_taxonomy())
    assert result.relevance >= 0.4 and result.topics


def test_cpu_is_one_figure_per_story() -> None:
    """The CPU figure is per story (best of the passes), so p50 / p95 / mean are over stories."""
    bench = _bench("relevance_quality")
    seen: list[str] = []
    ms = bench.cpu_ms(lambda title, text: seen.append(title), [("a", ""), ("b", ""), ("c", "")], repeat=2)
    assert len(ms) == 3 and all(v >= 0 for v in ms)
    assert seen == ["a", "a", "b", "c", "a", "b", "c"]  # a warm-up call, then two passes


def test_errors_are_refused_on_the_held_out_parts() -> None:
    """--errors lists mistakes on the training part only."""
    bench = _bench("relevance_quality")
    with pytest.raises(SystemExit) as stop:
        bench.main(["--errors", "--part", "lso", "--no-cost"])
    assert stop.value.code == 2


def test_the_report_puts_both_models_side_by_side_per_slice(capsys: pytest.CaptureFixture[str]) -> None:
    """Each held-out table has a row per slice (all, short, full, seven languages) with P R F1 tp fp fn for the
    previous and the current scorer whose counts add up to the slice, and a row per topic family."""
    bench, data = _bench("relevance_quality"), _bench("_relevance_data")
    assert bench.main(["--part", "lso", "--no-cost"]) == 0
    out = capsys.readouterr().out
    assert "== relevance, leave-sources-out" in out and "== topic families, leave-sources-out" in out
    assert "previous @ 0.40" in out and "current @" in out
    slices = ["all", "short", "full", *(f"lang {lang}" for lang in data.LANGS)]
    cell = r"\s+(?:\d\.\d{3}|-)" * 3 + r"\s+(\d+)\s+(\d+)\s+(\d+)"
    for name in slices:
        row = re.search(rf"^{re.escape(name)}\s+(\d+)\s+(\d+) \|{cell} \|{cell}$", out, re.MULTILINE)
        assert row, f"no table row for {name!r}"
        relevant = int(row[2])
        for tp, fn in ((int(row[3]), int(row[5])), (int(row[6]), int(row[8]))):
            assert tp + fn == relevant
    for family in dict.fromkeys(data.load_families().values()):
        assert re.search(rf"^{family}\s+\d+ \|", out, re.MULTILINE), f"no row for family {family}"
    assert out.count("topic coverage") == 2


def _split_tool() -> ModuleType:
    tools = Path(__file__).resolve().parents[1] / "fixtures" / "relevance" / "tools"
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tools))
        return importlib.import_module("split_new")


def test_new_outlets_go_to_one_side_with_the_outlets_that_tell_their_stories() -> None:
    """split_new: outlets sharing a new story land on one side; a component telling an earlier story follows the
    earlier items' side; about SHARE of each language's new items go to test; the draw depends only on the seed."""
    tool = _split_tool()
    earlier = [{"outlet": "old.example", "group": "g-old", "lang": "en", "label": 1}]
    new = [{"outlet": f"o{i}.example", "group": f"g{i // 2}", "lang": "en", "label": i % 2} for i in range(20)]
    new.append({"outlet": "late.example", "group": "g-old", "lang": "en", "label": 1})
    comps = tool.components(new, earlier, {"old.example": "test"})
    side = tool.assign(new, comps, seed=3)
    assert side == tool.assign(new, comps, seed=3) and side["late.example"] == "test"
    assert all(side[f"o{2 * k}.example"] == side[f"o{2 * k + 1}.example"] for k in range(10))
    assert sum(side[d["outlet"]] == "test" for d in new) in range(6, 10)


def test_the_split_assigns_every_outlet_and_no_new_story_spans_both_sides() -> None:
    """split.json names every extended outlet; story groups first told in the second round are on one side."""
    plan = json.loads((_bench("_relevance_data").EXTENDED / "split.json").read_text(encoding="utf-8"))
    items = [json.loads(line) for path in sorted(_bench("_relevance_data").EXTENDED.glob("items-*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert {d["outlet"] for d in items} <= set(plan["outlets"])
    new_outlets = set(plan["new_outlets"]["outlets"])
    earlier_groups = {d["group"] for d in items if d["outlet"] not in new_outlets}
    sides: dict[str, set[str]] = {}
    for d in items:
        sides.setdefault(d["group"], set()).add(plan["outlets"][d["outlet"]])
    assert all(len(s) == 1 for g, s in sides.items() if g not in earlier_groups)
