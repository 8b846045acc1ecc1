"""Relevance and topic quality on the labelled set, today's scorer (from git history) against the current one.

Usage: python benchmarks/relevance_quality.py [--set original|extended] [--split test|dev|all] [--errors] [--repeat N]

--set original (default) reads tests/fixtures/relevance/sources/*.jsonl (see its README; criteria in
docs/relevance-criteria.md): 303 items split by story group. --set extended reads the 724 outside items of
tests/fixtures/relevance/extended/ (labelled against the same criteria, never used to tune either scorer): its
test part is the leave-sources-out split (whole outlets held out, story groups told on both sides dropped), its
dev part the training outlets. The default split is the held-out test part. --errors lists the current scorer's
mistakes and is refused on the test part: errors are read on dev only, so the test part stays an honest check.

Prints, for each scorer, at its relevance threshold (the GOVWATCH_RELEVANCE_THRESHOLD default for the current
one, 0.45 for today's):
- relevance precision / recall / F1, all items and split by text kind (short = title + feed summary, full = page);
- topic coverage: share of gold-relevant items that get at least one topic;
- per-topic precision / recall over gold-relevant items (a predicted topic is right when the item's gold topics
  hold it), and "law -> legislation": share of gold items labelled legislation_rulemaking that get it;
- CPU ms per story (process time of classify() over the split, best of --repeat passes), and the same on full
  pages: the Zyte benchmark's gold article bodies (eval-data, 181 pages, cut at the pipeline's ANALYSIS_CHARS as
  enrichment does), when that folder is present.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from _frozen import RELEVANCE_COMMIT, relevance_baseline

from govwatch.enrich import topics as current
from govwatch.enrich.pipeline import ANALYSIS_CHARS
from govwatch.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = REPO_ROOT / "tests" / "fixtures" / "relevance" / "sources"
EXTENDED = REPO_ROOT / "tests" / "fixtures" / "relevance" / "extended"
BASELINE_THRESHOLD = 0.45  # the threshold today's scorer shipped with
ZYTE_GOLD = REPO_ROOT.parent / "shared" / "eval-data" / "extraction" / "scrapinghub-aeb" / "ground-truth.json"


@dataclass(frozen=True)
class Item:
    id: str
    lang: str
    kind: str
    title: str
    text: str
    label: int
    topics: tuple[str, ...]
    reason: str
    split: str


@dataclass(frozen=True)
class Prediction:
    relevance: float
    topics: tuple[str, ...]


def load_items(split: str) -> list[Item]:
    items = []
    for path in sorted(SOURCES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                if split in ("all", d["split"]):
                    items.append(Item(d["id"], d["lang"], d["kind"], d["title"], d["text"], d["label"],
                                      tuple(d["topics"]), d["reason"], d["split"]))
    if not items:
        raise SystemExit(f"no labelled items for split {split!r} under {SOURCES}")
    return items


def load_extended(split: str) -> list[Item]:
    """The outside set: ``test`` = items of held-out outlets (leave-sources-out), without the story groups that
    outlets on both sides told; ``dev`` = items of the training outlets; ``all`` = every item."""
    plan = json.loads((EXTENDED / "split.json").read_text(encoding="utf-8"))
    both_sides = set(plan["groups_on_both_sides"])
    items = []
    for path in sorted(EXTENDED.glob("items-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            d = json.loads(line)
            side = "test" if plan["outlets"][d["outlet"]] == "test" else "dev"
            if split == "all" or (split == side and not (side == "test" and d["group"] in both_sides)):
                items.append(Item(d["id"], d["lang"], d["kind"], d["title"], d["text"], d["label"],
                                  tuple(d["topics"]), d["reason"], side))
    return items


Scorer = Callable[[str, str], Prediction]


def scorer_of(module: ModuleType) -> Scorer:
    """The relevance/topics decision of a topics module (the frozen baseline or govwatch.enrich.topics)."""
    taxonomy = module.load_taxonomy()

    def run(title: str, text: str) -> Prediction:
        r = module.classify(title, text, taxonomy)
        return Prediction(r.relevance, tuple(t.id for t in r.topics))
    return run


def prf(pairs: list[tuple[int, int]]) -> tuple[float, float, float, int]:
    tp = sum(1 for g, p in pairs if g and p)
    fp = sum(1 for g, p in pairs if not g and p)
    fn = sum(1 for g, p in pairs if g and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, len(pairs)


def cpu_ms_per_story(scorer: Scorer, items: list[Item], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for it in items:
            scorer(it.title, it.text)
        best = min(best, time.process_time() - start)
    return 1000.0 * best / len(items)


def long_pages() -> list[Item]:
    if not ZYTE_GOLD.exists():
        return []
    gold = json.loads(ZYTE_GOLD.read_text(encoding="utf-8"))
    return [Item(k, "en", "full", "", v["articleBody"][:ANALYSIS_CHARS], 0, (), "", "")
            for k, v in sorted(gold.items())]


def report(name: str, scorer: Scorer, threshold: float, items: list[Item], repeat: int) -> dict[str, Prediction]:
    preds = {it.id: scorer(it.title, it.text) for it in items}
    print(f"\n== {name} (threshold {threshold:.2f})")
    for kind in ("all", "short", "full"):
        sub = [it for it in items if kind in ("all", it.kind)]
        p, r, f, n = prf([(it.label, int(preds[it.id].relevance >= threshold)) for it in sub])
        pos = sum(it.label for it in sub)
        print(f"relevance {kind:5s}  P {p:.3f}  R {r:.3f}  F1 {f:.3f}   (n={n}, relevant={pos})")
    for lang in sorted({it.lang for it in items}):
        sub = [it for it in items if it.lang == lang]
        p, r, f, n = prf([(it.label, int(preds[it.id].relevance >= threshold)) for it in sub])
        print(f"  lang {lang:8s}  P {p:.3f}  R {r:.3f}  F1 {f:.3f}   (n={n}, relevant={sum(it.label for it in sub)})")
    gold_rel = [it for it in items if it.label]
    covered = sum(1 for it in gold_rel if preds[it.id].topics)
    print(f"topic coverage: {covered}/{len(gold_rel)} = {covered / len(gold_rel):.3f} of relevant items get >= 1 topic")
    law = [it for it in gold_rel if "legislation_rulemaking" in it.topics]
    law_hit = sum(1 for it in law if "legislation_rulemaking" in preds[it.id].topics)
    print(f"law -> legislation_rulemaking: {law_hit}/{len(law)} = {law_hit / max(1, len(law)):.3f}")
    tp: Counter[str] = Counter()
    npred: Counter[str] = Counter()
    ngold: Counter[str] = Counter()
    for it in gold_rel:
        got, want = set(preds[it.id].topics), set(it.topics)
        for t in got:
            npred[t] += 1
        for t in want:
            ngold[t] += 1
        for t in got & want:
            tp[t] += 1
    tp_all, pred_all, gold_all = sum(tp.values()), sum(npred.values()), sum(ngold.values())
    print(f"topics micro  P {tp_all / max(1, pred_all):.3f}  R {tp_all / max(1, gold_all):.3f}"
          f"   (predicted {pred_all}, gold {gold_all})")
    print("per topic (gold-relevant items):  P      R      pred gold")
    for t in sorted(set(npred) | set(ngold), key=lambda t: (-ngold[t], t)):
        p = f"{tp[t] / npred[t]:.2f}" if npred[t] else "  - "
        r = f"{tp[t] / ngold[t]:.2f}" if ngold[t] else "  - "
        print(f"  {t:36s} {p:>5s}  {r:>5s}  {npred[t]:4d} {ngold[t]:4d}")
    print(f"CPU {cpu_ms_per_story(scorer, items, repeat):.3f} ms/story (title + text as stored; best of {repeat})")
    if pages := long_pages():
        words = sum(len(p.text.split()) for p in pages) / len(pages)
        print(f"CPU {cpu_ms_per_story(scorer, pages, repeat):.3f} ms/story on {len(pages)} full pages "
              f"(Zyte gold bodies, mean {words:.0f} words, cut at {ANALYSIS_CHARS} chars)")
    return preds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", dest="labelled_set", default="original", choices=("original", "extended"))
    ap.add_argument("--split", default="test", choices=("test", "dev", "all"))
    ap.add_argument("--errors", action="store_true", help="list the current scorer's mistakes (dev only)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if args.errors and args.split != "dev":
        ap.error("--errors reads mistakes on the dev part only (keep the test part held out)")
    items = load_extended(args.split) if args.labelled_set == "extended" else load_items(args.split)
    langs = Counter(it.lang for it in items)
    print(f"set {args.labelled_set}, split {args.split}: {len(items)} items, {sum(it.label for it in items)} relevant; "
          f"kinds {dict(Counter(it.kind for it in items))}; languages {dict(sorted(langs.items()))}")
    report(f"today's scorer (govwatch.enrich.topics at git {RELEVANCE_COMMIT[:7]})", scorer_of(relevance_baseline()),
           BASELINE_THRESHOLD, items, args.repeat)
    threshold = Settings.model_fields["relevance_threshold"].default
    preds = report("current scorer (govwatch.enrich.topics / relevance)", scorer_of(current), threshold, items,
                   args.repeat)
    if args.errors:
        print("\n-- current scorer's relevance errors (dev)")
        for it in items:
            got = preds[it.id].relevance >= threshold
            if got != bool(it.label):
                print(f"{'FP' if got else 'FN'} {preds[it.id].relevance:.3f} {it.kind:5s} {it.id}: {it.title[:90]}")
        print("\n-- relevant items with no topic or missing gold topics (dev)")
        for it in items:
            if it.label and not set(it.topics) & set(preds[it.id].topics):
                print(f"  {it.id}: gold {list(it.topics)} got {list(preds[it.id].topics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
