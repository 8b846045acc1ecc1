"""Entity quality on CrossNER politics and AI: today's rules (from git history) against the current extractor.

Usage: python benchmarks/ner_quality.py [CROSSNER_DIR] [--split test|dev|train|all] [--set both|news|crossner]
       [--errors] [--repeat N]

News (issue 26): the gold set of tests/fixtures/ner-news (real articles, PER/ORG/COUNTRY/LAW/EVENT with roles),
scored entity-level per article as _ner_news.py documents: P/R/F1 per type, recall of the gazetteer's laws and
events, per outlet (test), organisation roles (subject vs source) and CPU ms per story, for "previous" (the
extractor at git HEAD when issue 26 started, read whole from git history by _ner_previous.py) and "after".
With --split dev only the dev articles are scored (for tuning and --errors); otherwise dev and test.

CROSSNER_DIR defaults to ../shared/eval-data/ner/crossner relative to the repo (BIO files, one token<TAB>tag
per line, blank line between sentences; see its README). The default split is the held-out test part; --errors
lists the current extractor's false positives and misses and is refused on the test part (errors are read on
train/dev only, so the test figures stay an honest check).

"before" is the rules and data at git cf05eed (before issue 11), read from git history by benchmarks/_frozen.py,
"previous" the whole extractor at git 6c1fc5f (before issue 26) read by benchmarks/_ner_previous.py,
"rules" is govwatch.enrich.entities with its CRF switched off (today's rules and data alone), "after" is
govwatch.enrich.entities as packaged (rules + the CRF of ner_model.py). All run in this process on the same
sentences.

Label mapping (CrossNER -> govwatch):
  person, politician, researcher              -> person
  organisation, politicalparty, university    -> org
  country                                     -> country
Ignored (not modelled, or not an entity type of ours): location, election, event, conference, misc, algorithm,
field, task, product, metrics, programlang. Their gold spans are not counted; our predictions of types with no
mapped gold (law, event, product) are not counted either.
CrossNER tags demonyms ("French") as misc, so our demonym->country hits count as false positives here; that
costs country precision by design (see entities.py docstring). ALL is person + org + country.

Scoring: entity-level exact match on (type, surface text) per sentence, as a multiset. Our extractor reports
canonical names, so each prediction is mapped back to its surface spans by re-finding its name or aliases in the
sentence; a gazetteer entity counts as correct when any gold span of the same type matches one of its surface
forms or its canonical name.

Cost, printed for both: CPU ms per story (process time of extract_entities over the Zyte benchmark's 181 gold
article bodies in eval-data, cut at the pipeline's ANALYSIS_CHARS as enrichment does; best of --repeat passes)
and peak RSS (VmHWM) of a fresh Python process that loaded the extractor and ran it over those bodies, next to
a bare interpreter that only imported yaml.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govwatch.enrich.entities import Entity
    from govwatch.enrich.gazetteer import Gazetteer

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent
LABEL_MAP = {"person": "person", "politician": "person", "researcher": "person",
             "organisation": "org", "politicalparty": "org", "university": "org", "country": "country"}
TYPES = ("person", "org", "country")
ANALYSIS_CHARS = 30_000  # as govwatch.enrich.pipeline (checked at start-up below)

Gold = list[tuple[str, str]]


def read_bio(path: Path, keep_unmapped: bool = False) -> list[tuple[list[str], Gold]]:
    """Sentences as (tokens, gold spans [(our_type, surface)]); with keep_unmapped, the spans of CrossNER types
    we do not score instead, as (crossner_type, surface)."""
    out, toks, tags = [], [], []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            tok, _, tag = line.partition("\t")
            toks.append(tok)
            tags.append(tag.strip() or "O")
            continue
        if toks:
            spans, cur, cur_type = [], [], None
            for tok, tag in [*zip(toks, tags, strict=False), ("", "O")]:
                if tag.startswith("I-") and cur:
                    cur.append(tok)
                    continue
                if cur and cur_type and (cur_type in LABEL_MAP) != keep_unmapped:
                    spans.append((LABEL_MAP.get(cur_type, cur_type), " ".join(cur)))
                cur, cur_type = ([tok], tag[2:]) if tag.startswith("B-") else ([], None)
            out.append((toks, spans))
        toks, tags = [], []
    return out


def load_baseline() -> ModuleType:
    """The rules of git cf05eed, read from git history under benchmark-only names."""
    from _frozen import ner_baseline

    return ner_baseline()


def load_previous() -> ModuleType:
    """The extractor (rules + CRF + data) at git HEAD when issue 26 started."""
    from _ner_previous import previous_extractor

    return previous_extractor()


def news_quality(modules: dict[str, ModuleType], split: str, errors: bool) -> None:
    """Score "previous" and "after" on the news gold set: dev only with --split dev, else dev then test."""
    from _ner_news import NewsScorer, gazetteer_items, print_cost, print_news, print_roles, read_news

    arts = [a for a in read_news() if split != "dev" or a["split"] == "dev"]
    items = gazetteer_items(modules["after"].load_gazetteer())
    scorers = {name: NewsScorer(modules[name], items) for name in ("previous", "after")}
    for a in arts:
        for sc in scorers.values():
            sc.article(a)
    for part in ("dev", "test") if split != "dev" else ("dev",):
        n = sum(a["split"] == part for a in arts)
        print(f"\n== news {part} ({n} articles, {sum(len(a['mentions']) for a in arts if a['split'] == part)} "
              "gold mentions; entity-level per article) ==")
        print_news(scorers, part, sorted({a["outlet"] for a in arts if a["split"] == part}))
        print_roles(scorers, part)
    print_cost(scorers, len(arts))
    if errors:
        for kind, t, text, aid in sorted(scorers["after"].errors, key=lambda e: (e[0], e[1], e[3])):
            print(f"  {kind} {t:7} {text!r:40} | {aid}")


def load_current() -> ModuleType:
    from govwatch.enrich import entities, gazetteer

    mod = ModuleType("current")
    mod.load_gazetteer = gazetteer.load_gazetteer  # type: ignore[attr-defined]
    mod.extract_entities = entities.extract_entities  # type: ignore[attr-defined]
    return mod


def load_rules_only() -> ModuleType:
    """The current extractor with the entity CRF switched off: the rules and data as they are today."""
    from govwatch.enrich import entities, gazetteer, ner_model

    def extract_entities(title: str, text: str, gaz: Gazetteer) -> list[Entity]:
        ner_model.use_tagger(None)
        ner_model._override.append(None)  # tagger() -> None: no model spans, no vetoes
        try:
            return entities.extract_entities(title, text, gaz)
        finally:
            ner_model.use_tagger(None)

    mod = ModuleType("rules_only")
    mod.load_gazetteer = gazetteer.load_gazetteer  # type: ignore[attr-defined]
    mod.extract_entities = extract_entities  # type: ignore[attr-defined]
    return mod


class Scorer:
    """tp/fp/fn per type for one extractor; optionally keeps the mistakes for --errors."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.gaz = module.load_gazetteer()
        self.forms = _surface_forms(self.gaz)
        self.tp: Counter[str] = Counter()
        self.fp: Counter[str] = Counter()
        self.fn: Counter[str] = Counter()
        self.fp_unmodelled: Counter[str] = Counter()  # FPs whose surface is a gold span of a type we do not score
        self.errors: list[tuple[str, str, str, str]] = []  # (kind, type, surface, sentence)

    def sentence(self, toks: list[str], gold: Gold, keep_errors: bool, unmapped: Gold = ()) -> None:
        text = " ".join(toks)
        gold_left = Counter(gold)
        for e in self.module.extract_entities("", text, self.gaz):
            if e.type not in TYPES:
                continue
            forms = {e.name.lower()} | self.forms.get((e.type, e.name), set())
            match = next((g for g in gold_left if g[0] == e.type and g[1].lower() in forms and gold_left[g] > 0),
                         None)
            if match is not None:
                gold_left[match] -= 1
                self.tp[e.type] += 1
            else:
                self.fp[e.type] += 1
                if any(surface.lower() in forms for _, surface in unmapped):
                    self.fp_unmodelled[e.type] += 1
                if keep_errors:
                    self.errors.append(("FP", e.type, e.name, text))
        for (t, surface), n in gold_left.items():
            self.fn[t] += max(0, n)
            if keep_errors and n > 0:
                self.errors.append(("FN", t, surface, text))

    def row(self, t: str) -> tuple[float, float, float, int, int, int]:
        a = sum(self.tp.values()) if t == "ALL" else self.tp[t]
        b = sum(self.fp.values()) if t == "ALL" else self.fp[t]
        c = sum(self.fn.values()) if t == "ALL" else self.fn[t]
        p = a / (a + b) if a + b else 0.0
        r = a / (a + c) if a + c else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f, a, b, c


def _surface_forms(gaz: Gazetteer) -> dict[tuple[str, str], set[str]]:
    """(type, canonical name) -> lower-cased alias surfaces, re-joined the way CrossNER tokenises (spaces).

    Compared case-insensitively with the gold span: case-insensitive aliases are stored lower-case, and the
    extractor already checked the text's case when it matched them. (Until 2026-12 the scorer re-cased them with
    str.title(), which lost inner capitals: "DeepMind" never matched its own alias.)
    """
    forms: dict[tuple[str, str], set[str]] = {}
    for bucket in gaz.index.values():
        for alias in bucket:
            entry = gaz.entries[alias.key]
            forms.setdefault((entry.type, entry.name), set()).add(" ".join(alias.tokens).lower())
    return forms


def print_quality(domain: str, scorers: dict[str, Scorer]) -> None:
    print(f"{'type':8} {'system':7} {'P':>6} {'R':>6} {'F1':>6} {'tp':>5} {'fp':>5} {'fn':>5}   {'fp~':>4} {'P~':>6}")
    for t in (*TYPES, "ALL"):
        for name, sc in scorers.items():
            p, r, f, a, b, c = sc.row(t)
            u = sum(sc.fp_unmodelled.values()) if t == "ALL" else sc.fp_unmodelled[t]
            p_excl = a / (a + b - u) if a + b - u else 0.0
            print(f"{t:8} {name:7} {p:6.3f} {r:6.3f} {f:6.3f} {a:5d} {b:5d} {c:5d}   {u:4d} {p_excl:6.3f}")
    print("fp~ = false positives whose exact surface CrossNER tags with a type we do not score (conference, misc,"
          " location, ...); P~ = precision without them (a label-convention check, not the headline figure)")


def zyte_bodies(data: Path) -> list[str]:
    truth = REPO.parent / "shared" / "eval-data" / "extraction" / "scrapinghub-aeb" / "ground-truth.json"
    if not truth.exists():
        return []
    items = json.loads(truth.read_text(encoding="utf-8"))
    return [v["articleBody"][:ANALYSIS_CHARS] for v in items.values() if v.get("articleBody")]


def cpu_ms_per_story(module: ModuleType, bodies: list[str], repeat: int) -> float:
    gaz = module.load_gazetteer()
    module.extract_entities("", bodies[0], gaz)  # warm caches (name list, compiled regexes)
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for body in bodies:
            module.extract_entities("", body, gaz)
        best = min(best, time.process_time() - start)
    return 1000 * best / len(bodies)


_RSS_CHILD = """
import sys, json, yaml
which, truth = sys.argv[1], sys.argv[2]
if which != "bare":
    sys.path.insert(0, {repo!r}); sys.path.insert(0, {base!r})
    mod = (__import__("_frozen").ner_baseline() if which == "before"
           else __import__("_ner_previous").previous_extractor() if which == "previous"
           else __import__("govwatch.enrich.entities", fromlist=["x"]))
    if which == "rules":
        __import__("govwatch.enrich.ner_model", fromlist=["x"])._override.append(None)
    gaz = (mod if which in ("before", "previous")
           else __import__("govwatch.enrich.gazetteer", fromlist=["x"])).load_gazetteer()
    for v in json.load(open(truth, encoding="utf-8")).values():
        mod.extract_entities("", v.get("articleBody", "")[:{chars}], gaz)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]) / 1024)
"""


def peak_rss_mb(which: str) -> float | None:
    truth = REPO.parent / "shared" / "eval-data" / "extraction" / "scrapinghub-aeb" / "ground-truth.json"
    code = _RSS_CHILD.format(repo=str(REPO / "src"), base=str(BENCHMARKS), chars=ANALYSIS_CHARS)
    out = subprocess.run([sys.executable, "-c", code, which, str(truth)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip()) if out.stdout.strip() else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(REPO.parent / "shared" / "eval-data" / "ner" / "crossner"))
    ap.add_argument("--split", default="test", choices=("train", "dev", "test", "all"))
    ap.add_argument("--set", default="both", choices=("both", "news", "crossner"), dest="which")
    ap.add_argument("--errors", action="store_true", help="list the current extractor's mistakes (not on test)")
    ap.add_argument("--repeat", type=int, default=3, help="timing passes over the page bodies (best is kept)")
    args = ap.parse_args(argv)
    if args.errors and args.split in ("test", "all"):
        sys.exit("--errors is for train/dev only: the test split is kept for the reported figures")
    from govwatch.enrich.pipeline import ANALYSIS_CHARS as pipeline_chars

    if pipeline_chars != ANALYSIS_CHARS:
        sys.exit(f"ANALYSIS_CHARS changed to {pipeline_chars}: update the benchmark")
    systems: dict[str, Callable[[], ModuleType]] = {"before": load_baseline, "previous": load_previous,
                                                    "rules": load_rules_only, "after": load_current}
    modules = {name: load() for name, load in systems.items()}
    if args.which in ("both", "news"):
        news_quality(modules, args.split, args.errors)
    if args.which == "news":
        return
    splits = ("train", "dev", "test") if args.split == "all" else (args.split,)
    for domain in ("politics", "ai"):
        files = [Path(args.data) / domain / f"{s}.txt" for s in splits]
        missing = [f for f in files if not f.exists()]
        if missing:
            sys.exit(f"missing {missing[0]}")
        scorers = {name: Scorer(mod) for name, mod in modules.items()}
        n = 0
        for path in files:
            for (toks, gold), (_, unmapped) in zip(read_bio(path), read_bio(path, keep_unmapped=True), strict=False):
                n += 1
                for name, sc in scorers.items():
                    sc.sentence(toks, gold, keep_errors=args.errors and name == "after", unmapped=unmapped)
        print(f"\n== CrossNER {domain} ({'+'.join(splits)}, {n} sentences) ==")
        print_quality(domain, scorers)
        if args.errors:
            for kind, t, surface, text in sorted(scorers["after"].errors, key=lambda e: (e[0], e[1], e[2])):
                print(f"  {kind} {t:7} {surface!r:40} | {text[:160]}")
    bodies = zyte_bodies(Path(args.data))
    if not bodies:
        print("\n(no Zyte gold bodies under ../shared/eval-data/extraction: cost not measured)")
        return
    words = sum(len(b.split()) for b in bodies) / len(bodies)
    print(f"\n== cost on {len(bodies)} real article bodies (mean {words:.0f} words), best of {args.repeat} ==")
    bare = peak_rss_mb("bare")
    print(f"{'system':7} {'CPU ms/story':>13} {'peak RSS MiB':>13}   (bare python + yaml: {bare:.1f} MiB)")
    for name, mod in modules.items():
        print(f"{name:7} {cpu_ms_per_story(mod, bodies, args.repeat):13.2f} {peak_rss_mb(name) or 0:13.1f}")


if __name__ == "__main__":
    main()
