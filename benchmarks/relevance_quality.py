"""Relevance and topic quality on the labelled set, the current scorer against the previous one, in one run.

Usage: python benchmarks/relevance_quality.py [--part held-out|random|lso|train|all] [--errors] [--repeat N]
                                              [--no-cost]

The labelled set is tests/fixtures/relevance/sources (303 items) plus tests/fixtures/relevance/extended (724
items), labelled against docs/relevance-criteria.md; its parts are described in benchmarks/_relevance_data.py:
random held-out (a), leave-sources-out (b) and train. The default prints both held-out parts in full and one line
for the train part, marked as what the models are fit on. --errors lists the current scorer's mistakes and is
refused unless --part train: errors are read on the training part only, so the held-out parts stay honest.

"previous" is govwatch.enrich.topics / relevance (lexicon + 12-feature logistic regression) with its data at git
_frozen.RELEVANCE_COMMIT, read from history; "current" is the code in this checkout. Each is read at its shipped
threshold (Settings().relevance_threshold's default at its commit).

Prints:
1. relevance P / R / F1 (tp / fp / fn) per held-out part, all items, by kind (short = title + feed summary,
   full = page text) and by language (en, de, fr, es, zh-Hans, zh-Hant, other);
2. topics per family (tests/fixtures/relevance/extended/topic_families.json) over gold-relevant items: precision
   (a predicted family is right when a gold topic is of that family), recall, support; topic coverage;
3. CPU ms per story: process time of one classify() call (best of --repeat passes per story), p50 / p95 / mean,
   on every short labelled text and on full pages (the Zyte benchmark's 181 gold bodies, cut at ANALYSIS_CHARS as
   enrichment does, when /work/shared/eval-data is present), next to two baselines measured the same way: an
   empty call, and the sentence split alone (relevance.sentences at the previous commit);
4. peak RSS (VmHWM) of a fresh process that imports numpy + yaml, loads a scorer and classifies every labelled
   story and full page, minus the same process without the scorer ("added RSS").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from _common import load_average, percentile
from _frozen import RELEVANCE_COMMIT, relevance_baseline
from _relevance_data import PART_TITLES, PARTS, Item, load_families, load_parts
from _relevance_report import Model, Prediction, family_table, print_errors, relevance_line, relevance_table

from govwatch.enrich import topics as current
from govwatch.enrich.pipeline import ANALYSIS_CHARS
from govwatch.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent
ZYTE_GOLD = REPO_ROOT.parent / "shared" / "eval-data" / "extraction" / "scrapinghub-aeb" / "ground-truth.json"
PREVIOUS_THRESHOLD = 0.4  # Settings.relevance_threshold's default at RELEVANCE_COMMIT
LEGEND = {"previous": f"govwatch.enrich.topics / relevance at git {RELEVANCE_COMMIT[:7]} (lexicon + 12 features)",
          "current": "govwatch.enrich.topics / relevance in this checkout"}

Scorer = Callable[[str, str], Prediction]


def scorer_of(module: ModuleType) -> Scorer:
    """The relevance/topics decision of a topics module: classify(title, text, taxonomy)."""
    taxonomy = module.load_taxonomy()

    def run(title: str, text: str) -> Prediction:
        r = module.classify(title, text, taxonomy)
        return Prediction(r.relevance, tuple(t.id for t in r.topics))
    return run


def zyte_pages() -> list[tuple[str, str]]:
    """(title, body) of the Zyte gold pages cut at ANALYSIS_CHARS; none when eval-data is not present."""
    if not ZYTE_GOLD.exists():
        return []
    gold = json.loads(ZYTE_GOLD.read_text(encoding="utf-8"))
    return [("", v["articleBody"][:ANALYSIS_CHARS]) for _, v in sorted(gold.items()) if v.get("articleBody")]


def cpu_ms(call: Callable[[str, str], object], stories: Sequence[tuple[str, str]], repeat: int) -> list[float]:
    """Per story, the least process time (ms) of one call over ``repeat`` passes (the first call warms caches)."""
    call(*stories[0])
    best = [float("inf")] * len(stories)
    clock = time.process_time_ns
    for _ in range(repeat):
        for i, (title, text) in enumerate(stories):
            start = clock()
            call(title, text)
            best[i] = min(best[i], clock() - start)
    return [ns / 1e6 for ns in best]


def print_cpu(scorers: dict[str, Scorer], sentences: Callable[[str], object], short: list[tuple[str, str]],
              pages: list[tuple[str, str]], repeat: int) -> None:
    print(f"\n== CPU ms per story: process time of one call, best of {repeat} passes per story "
          f"(load average {load_average()})")
    print(f"{'texts':34} {'stories':>7}  {'what':41} {'p50':>7} {'p95':>7} {'mean':>7}")
    baselines: dict[str, Callable[[str, str], object]] = {
        "baseline: empty call": lambda title, text: None,
        f"baseline: relevance.sentences() at {RELEVANCE_COMMIT[:7]}": lambda title, text: sentences(f"{title}\n{text}"),
    }
    sets = [("short (title + feed summary)", short)]
    if pages:
        words = sum(len(text.split()) for _, text in pages) / len(pages)
        sets.append((f"full pages (Zyte gold, {words:.0f} words)", pages))
    for label, stories in sets:
        count = f"{len(stories):7d}"
        for name, call in [*scorers.items(), *baselines.items()]:
            ms = cpu_ms(call, stories, repeat)
            print(f"{label:34} {count:>7}  {name:41} {percentile(ms, 50):7.3f} {percentile(ms, 95):7.3f} "
                  f"{sum(ms) / len(ms):7.3f}")
            label = count = ""
    if not pages:
        print("full pages: eval-data not present")


# A fresh interpreter: numpy + yaml (what any enrich process holds), the stories, then the scorer if asked for.
_RSS_CHILD = """
import json, sys
import numpy, yaml
which, src, benchmarks, data = sys.argv[1:5]
with open(data, encoding="utf-8") as f:
    stories = json.load(f)
if which != "bare":
    sys.path[:0] = [src, benchmarks]
    if which == "previous":
        mod = __import__("_frozen").relevance_baseline()
    else:
        from govwatch.enrich import topics as mod
    taxonomy = mod.load_taxonomy()
    for title, text in stories:
        mod.classify(title, text, taxonomy)
with open("/proc/self/status") as f:
    print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024)
"""


def peak_rss_mib(which: str, data: Path) -> float:
    out = subprocess.run([sys.executable, "-c", _RSS_CHILD, which, str(REPO_ROOT / "src"), str(BENCHMARKS),
                          str(data)], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"the peak-RSS process for {which} failed:\n{out.stderr.strip()[-2000:]}")
    return float(out.stdout.strip())


def print_rss(stories: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory(prefix="relevance-rss-") as tmp:
        data = Path(tmp) / "stories.json"
        data.write_text(json.dumps(stories), encoding="utf-8")
        bare = peak_rss_mib("bare", data)
        print(f"\n== peak RSS (VmHWM) of a fresh process that classifies {len(stories)} stories "
              "(every labelled item, and the full pages)")
        print(f"{'process':45} {'peak MiB':>9} {'added MiB':>10}")
        print(f"{'bare: python + numpy + yaml + the stories':45} {bare:9.1f}")
        for which in LEGEND:
            peak = peak_rss_mib(which, data)
            print(f"{which + ': bare + load the scorer + classify':45} {peak:9.1f} {peak - bare:10.1f}")


def predict(scorer: Scorer, items: Sequence[Item]) -> dict[str, Prediction]:
    return {it.id: scorer(it.title, it.text) for it in items}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--part", default="held-out", choices=("held-out", *PARTS, "all"),
                    help="held-out (default) = random + lso in full and one train line; all = every part in full")
    ap.add_argument("--errors", action="store_true", help="list the current scorer's mistakes (--part train only)")
    ap.add_argument("--repeat", type=int, default=3, help="timing passes per story (the least time is kept)")
    ap.add_argument("--no-cost", action="store_true", help="quality only: skip the CPU and RSS measurements")
    args = ap.parse_args(argv)
    if args.errors and args.part != "train":
        ap.error("--errors reads mistakes on the training part only (--part train): the held-out parts stay held out")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    owner = load_families()
    family_order = list(dict.fromkeys(owner.values()))
    parts, unassigned = load_parts(owner)
    full = {"held-out": ("random", "lso"), "all": PARTS}.get(args.part, (args.part,))
    summary_only = ("train",) if args.part == "held-out" else ()
    every = [it for p in PARTS for it in parts[p]]
    print(f"labelled set: {len(every)} items, {sum(it.label for it in every)} relevant; "
          + ", ".join(f"{p} {len(parts[p])} ({sum(it.label for it in parts[p])} relevant)" for p in PARTS))
    if unassigned:
        outlet = min(unassigned)
        print(f"NOT SCORED: {sum(map(len, unassigned.values()))} extended items of {len(unassigned)} outlets that "
              f"split.json does not assign to train or test (e.g. {outlet}: {unassigned[outlet][0]})")
    previous = relevance_baseline()
    scorers = {"previous": scorer_of(previous), "current": scorer_of(current)}
    thresholds = {"previous": PREVIOUS_THRESHOLD, "current": Settings.model_fields["relevance_threshold"].default}
    for name, what in LEGEND.items():
        print(f"{name:8} = {what}, relevant at >= {thresholds[name]:.2f}")
    shown = [it for p in (*full, *summary_only) for it in parts[p]]
    models = [Model(name, thresholds[name], predict(s, shown)) for name, s in scorers.items()]
    for p in full:
        relevance_table(PART_TITLES[p], parts[p], models)
    for p in summary_only:
        relevance_line(PART_TITLES[p], parts[p], models)
    for p in full:
        family_table(PART_TITLES[p], parts[p], models, owner, family_order)
    if args.errors:
        print_errors(parts["train"], models[-1], owner)
    if not args.no_cost:
        short = [(it.title, it.text) for it in every if it.kind == "short"]
        pages = zyte_pages()
        print_cpu(scorers, previous.rel.sentences, short, pages, args.repeat)
        print_rss([(it.title, it.text) for it in every] + pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
