"""The quality tables of benchmarks/relevance_quality.py: relevance P/R/F1 by slice, topics by family.

Every table puts the models side by side over the same items. A ratio with nothing to divide (no predicted
positives for precision, no gold positives for recall) prints "-" rather than a made-up 0 or 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from _relevance_data import LANGS, Item, families_of, lang_bucket


@dataclass(frozen=True)
class Prediction:
    """What one model said about one story."""

    relevance: float
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    """A scorer's predictions on every labelled item (by id) and the threshold it is read at."""

    name: str
    threshold: float
    preds: dict[str, Prediction]

    def relevant(self, item: Item) -> bool:
        return self.preds[item.id].relevance >= self.threshold


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p is not None and r is not None and p + r else None


def ratio(value: float | None, width: int = 5) -> str:
    return f"{value:{width}.3f}" if value is not None else f"{'-':>{width}}"


def relevance_counts(model: Model, items: Sequence[Item]) -> Counts:
    said = [(it.label, model.relevant(it)) for it in items]
    return Counts(sum(1 for g, p in said if g and p), sum(1 for g, p in said if not g and p),
                  sum(1 for g, p in said if g and not p))


def _slices(items: Sequence[Item]) -> list[tuple[str, list[Item]]]:
    rows = [("all", list(items))]
    rows += [(kind, [it for it in items if it.kind == kind]) for kind in ("short", "full")]
    rows += [(f"lang {lang}", [it for it in items if lang_bucket(it.lang) == lang]) for lang in LANGS]
    return rows


def _model_header(models: Sequence[Model], width: int) -> str:
    return " | ".join(f"{m.name} @ {m.threshold:.2f}"[:width].ljust(width) for m in models)


def relevance_table(title: str, items: Sequence[Item], models: Sequence[Model]) -> None:
    """P / R / F1 with tp / fp / fn per model: all items, short vs full, and each language bucket."""
    width = 32  # one model's columns
    print(f"\n== relevance, {title}: {len(items)} items, {sum(it.label for it in items)} relevant")
    print(f"{'':13} {'':5} {'':4} | " + _model_header(models, width))
    cols = f"{'P':>5} {'R':>5} {'F1':>5} {'tp':>4} {'fp':>4} {'fn':>4}"
    print(f"{'slice':13} {'n':>5} {'rel':>4} | " + " | ".join(cols for _ in models))
    for name, sub in _slices(items):
        cells = []
        for m in models:
            c = relevance_counts(m, sub)
            cells.append(f"{ratio(c.precision)} {ratio(c.recall)} {ratio(c.f1)} {c.tp:4d} {c.fp:4d} {c.fn:4d}")
        print(f"{name:13} {len(sub):5d} {sum(it.label for it in sub):4d} | " + " | ".join(cells))


def relevance_line(title: str, items: Sequence[Item], models: Sequence[Model]) -> None:
    """One line per model over all ``items`` (the training part: a fit, not a test)."""
    print(f"\n== {title}: {len(items)} items, {sum(it.label for it in items)} relevant")
    for m in models:
        c = relevance_counts(m, items)
        print(f"  {m.name:8} @ {m.threshold:.2f}  P {ratio(c.precision)}  R {ratio(c.recall)}  F1 {ratio(c.f1)}"
              f"  tp {c.tp} fp {c.fp} fn {c.fn}")


def family_counts(model: Model, items: Sequence[Item], owner: dict[str, str]
                  ) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """(true positives, predicted, gold) per family over the gold-relevant ``items``."""
    tp: Counter[str] = Counter()
    pred: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    for it in items:
        got = families_of(model.preds[it.id].topics, owner)
        pred.update(got)
        gold.update(it.families)
        tp.update(got & it.families)
    return tp, pred, gold


def family_table(title: str, items: Sequence[Item], models: Sequence[Model], owner: dict[str, str],
                 family_order: Sequence[str]) -> None:
    """Per family: precision / recall over the gold-relevant items (a predicted family is right when a gold topic
    is of that family), gold support; then topic coverage of gold-relevant and of predicted-relevant items."""
    rel = [it for it in items if it.label]
    counts = [family_counts(m, rel, owner) for m in models]
    gold = counts[0][2]
    print(f"\n== topic families, {title}: over {len(rel)} gold-relevant items")
    width = 17  # one model's columns
    print(f"{'family':35} {'gold':>4} | " + _model_header(models, width))
    print(f"{'':35} {'':>4} | " + " | ".join(f"{'P':>5} {'R':>5} {'pred':>5}" for _ in models))
    extra = sorted({f for _, pred, _ in counts for f in pred} - set(family_order))  # ids of no family
    for family in [*family_order, *extra]:
        cells = []
        for tp, pred, _ in counts:
            p = tp[family] / pred[family] if pred[family] else None
            r = tp[family] / gold[family] if gold[family] else None
            cells.append(f"{ratio(p)} {ratio(r)} {pred[family]:5d}")
        print(f"{family:35} {gold[family]:4d} | " + " | ".join(cells))
    cells = []
    for tp, pred, _ in counts:
        t, p, g = sum(tp.values()), sum(pred.values()), sum(gold.values())
        cells.append(f"{ratio(t / p if p else None)} {ratio(t / g if g else None)} {p:5d}")
    print(f"{'micro (all families)':35} {sum(gold.values()):4d} | " + " | ".join(cells))
    for m in models:
        covered = sum(1 for it in rel if m.preds[it.id].topics)
        said = [it for it in items if m.relevant(it)]
        with_topic = sum(1 for it in said if m.preds[it.id].topics)
        print(f"  {m.name:8} topic coverage {covered}/{len(rel)} = {ratio(_share(covered, len(rel)))}"
              f"; predicted-relevant with a topic {with_topic}/{len(said)} = {ratio(_share(with_topic, len(said)))}")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def print_errors(items: Sequence[Item], model: Model, owner: dict[str, str]) -> None:
    """The model's relevance mistakes and its topic-family misses on ``items`` (the training part only)."""
    print(f"\n-- {model.name}: relevance errors")
    for it in items:
        if model.relevant(it) != bool(it.label):
            kind, head = "FP" if it.label == 0 else "FN", (it.title or it.text)[:90]
            print(f"{kind} {model.preds[it.id].relevance:.3f} {it.kind:5s} {it.lang:7s} {it.id}: {head!r}")
    print(f"\n-- {model.name}: gold-relevant items whose predicted families miss a gold family")
    for it in items:
        got = families_of(model.preds[it.id].topics, owner)
        if it.label and it.families - got:
            print(f"  {it.id}: gold {sorted(it.families)} got {sorted(got)}")
