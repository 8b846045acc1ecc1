"""Entity quality on the news gold set (tests/fixtures/ner-news): the scorer and its report for ner_quality.py.

Scoring (entity level, per article, micro-averaged over articles). The extractor reports canonical entities
with mention counts, not spans, so both sides are compared as sets per article:

* gold units: the distinct (type, normalised surface) of the article's gold mentions ("Donald Trump" and "Trump"
  are two units; normalised as norm() says: case, full stops, a leading "the", a trailing "'s" or legal suffix);
* the forms of a predicted (type, name): its name, every alias of that name in the system's own gazetteer (and
  for a country its capital, when that gazetteer reads capitals as metonymy: "Beijing retaliated"), for
  a person the last word of the name (the extractor merges later surname mentions into the full name), and the
  initials acronym of a multi-word name ("Federal Trade Commission" -> "ftc");
* a prediction is a true positive when one of its forms is a gold unit of the same type in the article, else a
  false positive; a gold unit is found when it is a form of a prediction of the same type, else a miss.
  P = TP predictions / predictions, R = found units / gold units.

The extractor reads the body only (the title is not labelled in the gold set). Types: PER, ORG, COUNTRY, LAW,
EVENT -> person, org, country, law, event; other predicted types (product) are not scored. "law~"/"event~"
restrict recall to gold units that are an alias of a law/event in today's gazetteer (the goal is recall of the
gazetteer's items). Roles: a gold ORG unit is "source" when every one of its mentions
in the article has role source; a prediction's role is its `role` attribute ("subject" when it has none, as for
the previous extractor). subject-org P/R score only subject predictions against subject gold units;
src->subj counts gold source units found by a subject prediction, subj->src the reverse.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govwatch.enrich.entities import Entity
    from govwatch.enrich.gazetteer import Gazetteer

TYPE_MAP = {"PER": "person", "ORG": "org", "COUNTRY": "country", "LAW": "law", "EVENT": "event"}
TYPES = ("person", "org", "country", "law", "event")
NEWS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ner-news" / "articles.jsonl"


LEGAL = (" inc", " co", " corp", " ltd", " llc", " plc", " company", " corporation")


def norm(s: str) -> str:
    """Lower case; curly quotes folded; a leading "the", a trailing "'s" and legal suffix and all full stops
    dropped ("U.S. Department of Commerce" = "US Department of Commerce", "McClatchy Co." = "McClatchy");
    no space before punctuation (the gazetteer's aliases are stored as tokens: "Yahoo !")."""
    s = re.sub(r"\s+([^\w\s])", r"\1", s.replace("\u2019", "'").replace("\u2018", "'")).strip().lower()
    s = s.replace(".", "")
    s = s[4:] if s.startswith("the ") else s
    s = s[:-2] if s.endswith("'s") else s
    return next((s[: -len(x)] for x in LEGAL if s.endswith(x) and len(s) > len(x)), s)


def read_news(path: Path = NEWS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_units(article: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(type, normalised surface) -> role of the unit ("source" only if every mention is a source)."""
    roles: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in article["mentions"]:
        roles[(TYPE_MAP[m["type"]], norm(m["text"]))].add(m["role"])
    return {k: "source" if r == {"source"} else "subject" for k, r in roles.items()}


def _alias_forms(gaz: Gazetteer) -> dict[tuple[str, str], set[str]]:
    forms: dict[tuple[str, str], set[str]] = defaultdict(set)
    for bucket in gaz.index.values():
        for alias in bucket:
            entry = gaz.entries[alias.key]
            forms[(entry.type, entry.name)].add(norm(" ".join(alias.tokens).replace(" - ", "-")))
    for bucket in getattr(gaz, "capitals", {}).values():  # a capital used for its government names the country
        for toks, key in bucket:
            forms[("country", gaz.entries[key].name)].add(norm(" ".join(toks)))
    return forms


def gazetteer_items(gaz: Gazetteer, types: tuple[str, ...] = ("law", "event")) -> set[tuple[str, str]]:
    return {(t, f) for (t, _), fs in _alias_forms(gaz).items() if t in types for f in fs}


class NewsScorer:
    """Counts for one system over the news articles; keeps its mistakes and per-story CPU times."""

    def __init__(self, module: ModuleType, law_event_items: set[tuple[str, str]]) -> None:
        self.module = module
        self.gaz = module.load_gazetteer()
        self.forms = _alias_forms(self.gaz)
        self.items = law_event_items
        self.c: dict[str, Counter[str]] = defaultdict(Counter)  # group -> counter of pred/tp/gold/found per type
        self.roles: dict[str, Counter[str]] = defaultdict(Counter)  # split -> role counts
        self.cpu_ms: list[float] = []
        self.errors: list[tuple[str, str, str, str]] = []  # (kind, type, text, article id)

    def _forms(self, e: Entity) -> set[str]:
        out = {norm(e.name)} | self.forms.get((e.type, e.name), set())
        words = e.name.split()
        if e.type == "person":
            out.add(norm(words[-1]))
        if len(words) > 1:
            out.add("".join(w[0] for w in words if w[:1].isupper()).lower())
        return out

    def article(self, a: dict[str, Any]) -> None:
        """Run the system on one article and count against its gold units (by split and by outlet)."""
        groups, roles = (a["split"], f"outlet {a['outlet']}"), self.roles[a["split"]]
        best = float("inf")
        for _ in range(2):  # the faster of two runs: less noise from other processes on the machine
            start = time.process_time()
            ents = self.module.extract_entities("", a["text"], self.gaz)  # the gold labels the body only
            best = min(best, time.process_time() - start)
        self.cpu_ms.append(1000 * best)
        gold = gold_units(a)
        found: set[tuple[str, str]] = set()
        for e in ents:
            if e.type not in TYPES:
                continue
            role = getattr(e, "role", "subject")
            hits = {(e.type, f) for f in self._forms(e)} & gold.keys()
            for g in groups:
                self.c[g][f"pred {e.type}"] += 1
                self.c[g][f"tp {e.type}"] += bool(hits)
            if e.type == "org":
                roles[f"pred {role}"] += 1
                roles[f"tp {role}"] += any(gold[h] == role for h in hits)
                for h in hits:
                    if gold[h] != role:
                        roles[f"{gold[h]}->{role}"] += 1
            found |= hits
            if not hits:
                self.errors.append(("FP", e.type, e.name, a["id"]))
        for (t, f), role in gold.items():
            for g in groups:
                self.c[g][f"gold {t}"] += 1
                self.c[g][f"found {t}"] += (t, f) in found
                if (t, f) in self.items:
                    self.c[g][f"gold {t}~"] += 1
                    self.c[g][f"found {t}~"] += (t, f) in found
            if t == "org":
                roles[f"gold {role}"] += 1
                roles[f"found {role}"] += (t, f) in found and any(
                    getattr(e, "role", "subject") == role and (t, f) in {(e.type, x) for x in self._forms(e)}
                    for e in ents)
            if (t, f) not in found:
                self.errors.append(("FN", t, f, a["id"]))

    def prf(self, group: str, t: str) -> tuple[float, float, float, int, int, int, int]:
        c = self.c[group]
        keys = TYPES if t == "ALL" else (t,)
        pred, tp = sum(c[f"pred {k}"] for k in keys), sum(c[f"tp {k}"] for k in keys)
        gold, found = sum(c[f"gold {k}"] for k in keys), sum(c[f"found {k}"] for k in keys)
        p = tp / pred if pred else 0.0
        r = found / gold if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f, pred, tp, gold, found

    def recall_items(self, group: str, t: str) -> tuple[int, int]:
        return self.c[group][f"found {t}~"], self.c[group][f"gold {t}~"]


def _ratio(a: int, b: int) -> str:
    return f"{a / b:6.3f}" if b else "     -"


def print_news(scorers: dict[str, NewsScorer], split: str, outlets: list[str]) -> None:
    """Per type P/R/F1, law/event recall of gazetteer items, per outlet (test only) and org roles."""
    print(f"{'type':8} {'system':9} {'P':>6} {'R':>6} {'F1':>6} {'pred':>5} {'tp':>5} {'gold':>5} {'found':>5}")
    for t in (*TYPES, "ALL"):
        for name, sc in scorers.items():
            p, r, f, pred, tp, gold, found = sc.prf(split, t)
            print(f"{t:8} {name:9} {p:6.3f} {r:6.3f} {f:6.3f} {pred:5d} {tp:5d} {gold:5d} {found:5d}")
    for t in ("law", "event"):
        for name, sc in scorers.items():
            a, b = sc.recall_items(split, t)
            print(f"{t + '~':8} {name:9} recall of gazetteer items {_ratio(a, b)} ({a}/{b})")
    if split == "test":
        print(f"\nper outlet (test, all types): {'outlet':28} " + " ".join(f"{n:>21}" for n in scorers))
        for outlet in outlets:
            cells = []
            for sc in scorers.values():
                p, r, f, *_ = sc.prf(f"outlet {outlet}", "ALL")
                cells.append(f"P {p:.2f} R {r:.2f} F {f:.2f}")
            print(f"{'':30}{outlet:28} " + " ".join(f"{c:>21}" for c in cells))


def print_roles(scorers: dict[str, NewsScorer], split: str) -> None:
    print(f"\norg roles ({split}): subject-org P/R, source-org P/R; gold units whose role the prediction got wrong")
    for name, sc in scorers.items():
        r = sc.roles[split]
        print(f"  {name:9} subject P {_ratio(r['tp subject'], r['pred subject'])} R "
              f"{_ratio(r['found subject'], r['gold subject'])}   source P {_ratio(r['tp source'], r['pred source'])}"
              f" R {_ratio(r['found source'], r['gold source'])}   source->subject {r['source->subject']:3d}"
              f"  subject->source {r['subject->source']:3d}  (gold source units {r['gold source']})")


def print_cost(scorers: dict[str, NewsScorer], n: int) -> None:
    print(f"\nCPU ms per story over {n} news articles (body; faster of two runs per story)")
    for name, sc in scorers.items():
        q = statistics.quantiles(sc.cpu_ms, n=20)
        print(f"  {name:9} p50 {statistics.median(sc.cpu_ms):6.2f}  p95 {q[-1]:6.2f}  "
              f"mean {statistics.fmean(sc.cpu_ms):6.2f}")
