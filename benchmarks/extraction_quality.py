"""Extraction quality and speed: govwatch's extract_article vs bare trafilatura.

    python benchmarks/extraction_quality.py [--data DIR] [--dataset scrapinghub-aeb|trafilatura-eval-en-news|all]
                                            [--repeat N]

scrapinghub-aeb (Zyte article-extraction-benchmark, 181 pages) is scored with the upstream
shingle metric; the shipped trafilatura 2.0.0 output is scored too, to show that our scorer
reproduces the published F1 0.958. trafilatura-eval-en-news (63 pages) is scored with
trafilatura's snippet metric. Both systems run on the same page, interleaved. Timings are CPU
time (time.process_time) per page, single thread, so other processes on a shared machine do not
inflate them; with --repeat N each page's time is the median of N runs (outputs of the first).
The ratio line is govwatch's CPU over bare trafilatura's, per page, median over pages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scoring import Scores, snippet_scores, zyte_scores

from govwatch.enrich.extract import extract_article

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "eval-data" / "extraction"
ZYTE, EN_NEWS = "scrapinghub-aeb", "trafilatura-eval-en-news"
PUBLISHED_ZYTE_F1 = 0.958


def _read_gz(path: Path) -> str:
    # Both sets are UTF-8 (the Zyte README says so; upstream's runner reads them the same way).
    with gzip.open(path, "rt", encoding="utf8", errors="replace") as handle:
        return handle.read()


def load_zyte(root: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Return (html by id, url by id, gold body by id)."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf8"))
    pages = {key: _read_gz(root / "html" / f"{key}.html.gz") for key in truth}
    return pages, {k: v.get("url", "") for k, v in truth.items()}, {k: v["articleBody"] for k, v in truth.items()}


def load_en_news(root: Path) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[list[str], list[str]]]]:
    """Return (html by url, url by url, (with, without) snippets by url)."""
    items = json.loads((root / "evaldata-en-news.json").read_text(encoding="utf8"))
    pages = {url: _read_gz(root / "html" / f"{item['file']}.gz") for url, item in items.items()}
    return pages, {url: url for url in items}, {url: (item["with"], item["without"]) for url, item in items.items()}


def run_systems(
    pages: dict[str, str], urls: dict[str, str], repeat: int = 1
) -> tuple[dict[str, dict[str, str | None]], dict[str, list[float]], Counter[str]]:
    """Run every system on every page; returns outputs, per-page CPU ms, and our status counts."""
    statuses: Counter[str] = Counter()

    def govwatch(html: str, url: str) -> str:
        result = extract_article(html, url)
        statuses[result.status] += 1
        return result.text

    systems: dict[str, Callable[[str, str], str | None]] = {
        "trafilatura.extract (defaults)": lambda html, url: trafilatura.extract(html),
        "govwatch extract_article": govwatch,
    }
    first = next(iter(pages))
    for system in systems.values():  # warm-up: imports, compiled XPaths, caches
        system(pages[first], urls[first])
    statuses.clear()
    outputs: dict[str, dict[str, str | None]] = {name: {} for name in systems}
    runs: dict[str, dict[str, list[float]]] = {name: {key: [] for key in pages} for name in systems}
    counted: Counter[str] = Counter()
    for round_ in range(max(1, repeat)):
        for key, html in pages.items():
            for name, system in systems.items():
                start = time.process_time()
                output = system(html, urls[key])
                runs[name][key].append((time.process_time() - start) * 1000)
                if round_ == 0:
                    outputs[name][key] = output
        if round_ == 0:  # statuses of the outputs reported, not of the repeats
            counted = Counter(statuses)
    millis = {name: [statistics.median(times) for times in by_key.values()] for name, by_key in runs.items()}
    return outputs, millis, counted


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_table(title: str, rows: list[tuple[str, Scores, list[float] | None]]) -> None:
    print(f"\n{title}")
    print(f"{'system':<40} {'P':>6} {'R':>6} {'F1':>6} {'acc':>6} {'cpu p50':>7} {'cpu p95':>7}")
    for name, s, ms in rows:
        timing = f"{statistics.median(ms):7.1f} {_pct(ms, 0.95):7.1f}" if ms else f"{'-':>7} {'-':>7}"
        print(f"{name:<40} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.accuracy:6.3f} {timing}")


def print_ratio(millis: dict[str, list[float]]) -> None:
    ours, bare = millis["govwatch extract_article"], millis["trafilatura.extract (defaults)"]
    ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True) if b > 0)
    print(f"CPU ratio govwatch / bare trafilatura, per-page median: {ratio:.3f}")


def bench_zyte(root: Path, repeat: int) -> None:
    pages, urls, gold = load_zyte(root)
    shipped = json.loads((root / "baseline-output-trafilatura-2.0.0.json").read_text(encoding="utf8"))["output"]
    reference = zyte_scores(gold, {k: shipped[k].get("articleBody") for k in gold})
    outputs, millis, statuses = run_systems(pages, urls, repeat)
    rows = [("trafilatura 2.0.0 shipped output", reference, None)]
    rows += [(name, zyte_scores(gold, out), millis[name]) for name, out in outputs.items()]
    print_table(f"{ZYTE}: {len(gold)} pages, shingle metric (accuracy = exact token match)", rows)
    ok = abs(reference.f1 - PUBLISHED_ZYTE_F1) < 0.0005
    verdict = "OK" if ok else "MISMATCH"
    print(f"scorer check: shipped output F1 {reference.f1:.4f} vs published {PUBLISHED_ZYTE_F1} -> {verdict}")
    print_ratio(millis)
    print(f"govwatch statuses: {dict(statuses)}")


def bench_en_news(root: Path, repeat: int) -> None:
    pages, urls, snippets = load_en_news(root)
    outputs, millis, statuses = run_systems(pages, urls, repeat)
    rows = [(name, snippet_scores(snippets, out), millis[name]) for name, out in outputs.items()]
    print_table(f"{EN_NEWS}: {len(pages)} pages, snippet metric (accuracy = (TP+TN)/all)", rows)
    print_ratio(millis)
    print(f"govwatch statuses: {dict(statuses)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the datasets")
    parser.add_argument("--dataset", choices=[ZYTE, EN_NEWS, "all"], default=ZYTE)
    parser.add_argument("--repeat", type=int, default=1, help="runs per page; its CPU time is their median")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # trafilatura logs every discarded page; noise here
    if args.dataset in (ZYTE, "all"):
        bench_zyte(args.data / ZYTE, args.repeat)
    if args.dataset in (EN_NEWS, "all"):
        bench_en_news(args.data / EN_NEWS, args.repeat)


if __name__ == "__main__":
    main()
