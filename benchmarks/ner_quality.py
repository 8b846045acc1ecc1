"""Entity precision/recall of govwatch.enrich.entities against the CrossNER politics and AI gold sets.

Usage: /tmp/gwvenv/bin/python benchmarks/ner_quality.py [CROSSNER_DIR] [--split test]
CROSSNER_DIR defaults to ../shared/eval-data/ner/crossner relative to the repo (BIO files, one token<TAB>tag
per line, blank line between sentences; see its README).

Label mapping (CrossNER -> govwatch):
  person, politician, researcher              -> person
  organisation, politicalparty, university    -> org
  country                                     -> country
Ignored (not modelled, or not an entity type of ours): location, election, event, conference, misc, algorithm,
field, task, product, metrics, programlang. Their gold spans are not counted; our predictions of types with no
mapped gold (law, event, product) are not counted either.
CrossNER tags demonyms ("French") as misc, so our demonym->country hits count as false positives here; that
costs country precision by design (see entities.py docstring).

Scoring: entity-level exact match on (type, surface text) per sentence, as a multiset. Our extractor reports
canonical names, so each prediction is mapped back to its surface spans by re-finding its name or aliases in the
sentence; a gazetteer entity counts as correct when any gold span of the same type matches one of its surface
forms or its canonical name.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from govwatch.enrich.entities import extract_entities, load_gazetteer

LABEL_MAP = {"person": "person", "politician": "person", "researcher": "person",
             "organisation": "org", "politicalparty": "org", "university": "org", "country": "country"}
TYPES = ("person", "org", "country")


def read_bio(path: Path) -> list[tuple[list[str], list[tuple[str, str]]]]:
    """Sentences as (tokens, gold spans [(our_type, surface)])."""
    out, toks, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.strip():
            tok, _, tag = line.partition("\t")
            toks.append(tok)
            tags.append(tag.strip() or "O")
            continue
        if toks:
            spans, cur, cur_type = [], [], None
            for tok, tag in list(zip(toks, tags)) + [("", "O")]:
                if tag.startswith("I-") and cur:
                    cur.append(tok)
                    continue
                if cur and cur_type in LABEL_MAP:
                    spans.append((LABEL_MAP[cur_type], " ".join(cur)))
                cur, cur_type = ([tok], tag[2:]) if tag.startswith("B-") else ([], None)
            out.append((toks, spans))
        toks, tags = [], []
    return out


def score(files: list[Path]) -> None:
    gaz = load_gazetteer()
    aliases = _surface_forms(gaz)
    tp, fp, fn = Counter(), Counter(), Counter()
    n_sent = 0
    elapsed = 0.0
    for path in files:
        for toks, gold in read_bio(path):
            text = " ".join(toks)
            start = time.perf_counter()
            ents = extract_entities("", text, gaz)
            elapsed += time.perf_counter() - start
            n_sent += 1
            gold_left = Counter(gold)
            for e in ents:
                if e.type not in TYPES:
                    continue
                forms = {e.name} | aliases.get((e.type, e.name), set())
                match = next((g for g in gold_left if g[0] == e.type and g[1] in forms and gold_left[g] > 0), None)
                if match is not None:
                    gold_left[match] -= 1
                    tp[e.type] += 1
                else:
                    fp[e.type] += 1
            for (t, _), n in gold_left.items():
                fn[t] += max(0, n)
    print(f"{'type':8} {'P':>6} {'R':>6} {'F1':>6} {'tp':>5} {'fp':>5} {'fn':>5}")
    for t in TYPES + ("ALL",):
        a = sum(tp.values()) if t == "ALL" else tp[t]
        b = sum(fp.values()) if t == "ALL" else fp[t]
        c = sum(fn.values()) if t == "ALL" else fn[t]
        p = a / (a + b) if a + b else 0.0
        r = a / (a + c) if a + c else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        print(f"{t:8} {p:6.3f} {r:6.3f} {f:6.3f} {a:5d} {b:5d} {c:5d}")
    print(f"{n_sent} sentences in {elapsed:.2f}s: {n_sent / elapsed:.0f} sentences/s")


def _surface_forms(gaz) -> dict[tuple[str, str], set[str]]:
    """(type, canonical name) -> alias surfaces, re-joined the way CrossNER tokenises (space-separated)."""
    forms: dict[tuple[str, str], set[str]] = {}
    for bucket in gaz.index.values():
        for alias in bucket:
            entry = gaz.entries[alias.key]
            forms.setdefault((entry.type, entry.name), set()).add(" ".join(alias.tokens))
    # case-insensitive aliases are stored lower-case; the gold keeps the text's case, so add title-cased forms
    for key, surf in forms.items():
        surf |= {s.title() for s in surf} | {s[:1].upper() + s[1:] for s in surf}
    return forms


def main(argv: list[str] | None = None) -> None:
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(repo.parent / "shared" / "eval-data" / "ner" / "crossner"))
    ap.add_argument("--split", default="test", choices=("train", "dev", "test", "all"))
    args = ap.parse_args(argv)
    splits = ("train", "dev", "test") if args.split == "all" else (args.split,)
    for domain in ("politics", "ai"):
        files = [Path(args.data) / domain / f"{s}.txt" for s in splits]
        missing = [f for f in files if not f.exists()]
        if missing:
            sys.exit(f"missing {missing[0]}")
        print(f"== CrossNER {domain} ({'+'.join(splits)}) ==")
        score(files)


if __name__ == "__main__":
    main()
