"""Alert matching at scale: 10,000 subscriptions against batches of 50 freshly indexed stories.

    python benchmarks/matching.py [--subs 10000] [--batches 10] [--stories 50]

Needs the local stack (`govwatch stack up`); works under a private index prefix and removes it after.
Subscriptions are generated from the taxonomy keywords and gazetteer aliases (/work/shared/domain or
src/govwatch/data): phrases, AND/OR, exclusions, and filters on about a fifth of them. Prints p50/p95
batch latency (fetch + pre-filter + msearch) and stories/s, the same without the pre-filter, and two
baselines from the same run: one query_string search, and a bare msearch of as many match_all
searches as the pre-filter sent.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import yaml

from govwatch.alerts.matcher import MatchStats, fetch_stories, match_batch
from govwatch.alerts.subscriptions import Destination, Filters, Subscription
from govwatch.bootstrap import bootstrap
from govwatch.es_io import make_client
from govwatch.indexing import bulk_index
from govwatch.models import EntityRef, TopicRef, utcnow
from govwatch.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test factories build valid stories
from tests.factories import enriched_story, raw_story  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "src" / "govwatch" / "data"
FILLER = ("the government said on monday that new rules would apply to developers of large models while critics "
          "argued the plan lacked detail and industry groups asked for more time to comply").split()


def vocab() -> tuple[list[str], list[str], list[str]]:
    tax = yaml.safe_load((DATA / "taxonomy.yaml").read_text())
    gaz = yaml.safe_load((DATA / "gazetteer.yaml").read_text())
    keywords = sorted({k.lstrip("~") for t in tax["topics"] for k in t.get("keywords", [])})
    names = sorted({a for e in gaz["entities"] for a in e.get("aliases", []) if isinstance(a, str)})
    return keywords, names, [t["id"] for t in tax["topics"]]


def phrase(text: str) -> str:
    clean = text.replace('"', "").replace("\\", "")
    return f'"{clean}"' if " " in clean or not clean.isalnum() else clean


def gen_query(rng: random.Random, kws: list[str], names: list[str]) -> str:
    k = lambda: phrase(rng.choice(kws))  # noqa: E731
    n = lambda: phrase(rng.choice(names))  # noqa: E731
    shape = rng.randrange(5)
    if shape == 0:
        return f"{k()} OR {k()}"
    if shape == 1:
        return f"{n()} AND ({k()} OR {k()})"
    if shape == 2:
        return f"{n()} OR {n()} OR {k()}"
    if shape == 3:
        return f"{k()} AND {n()} -{k()}"
    return f"({n()} OR {n()}) AND {k()}"


def gen_subs(count: int, rng: random.Random, kws: list[str], names: list[str], topics: list[str]) -> list[Subscription]:
    dest = Destination(kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/x")
    subs = []
    for i in range(count):
        roll = rng.random()
        filters = (Filters(countries=[rng.choice(["GB", "US", "FR", "DE", "CN"])]) if roll < 0.08 else
                   Filters(topics=[rng.choice(topics)]) if roll < 0.16 else
                   Filters(min_relevance=0.5) if roll < 0.2 else Filters())
        subs.append(Subscription(id=f"bench-{i}", name=f"bench {i}", query=gen_query(rng, kws, names),
                                 filters=filters, destination=dest))
    return subs


def gen_stories(batch: int, size: int, rng: random.Random, kws: list[str], names: list[str], topics: list[str]):  # noqa: ANN201
    out = []
    for j in range(size):
        n = f"b{batch}-{j}-{uuid.uuid4().hex[:6]}"
        words = [rng.choice(FILLER) for _ in range(120)]
        for _ in range(4):
            words.insert(rng.randrange(len(words)), rng.choice(kws))
        for _ in range(2):
            words.insert(rng.randrange(len(words)), rng.choice(names))
        title = f"{rng.choice(names)} {rng.choice(kws)} {rng.choice(FILLER)}"
        raw = raw_story(n, title=title, summary=" ".join(words[:30]), published_at=utcnow())
        out.append(enriched_story(n, text=" ".join(words), raw=raw, relevance=rng.random(),
                                  entities=[EntityRef(id=c, name=c, type="country") for c in rng.sample(["GB", "US", "FR", "DE", "CN"], 2)],
                                  topics=[TopicRef(id=rng.choice(topics), label="t", score=0.5)]))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subs", type=int, default=10_000)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--stories", type=int, default=50)
    ap.add_argument("--no-prefilter-batches", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(7)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    settings = Settings(topic_prefix=prefix, index_prefix=prefix)
    es = make_client(settings.es_url)
    es_long = es.options(request_timeout=300)
    bootstrap(settings, es)
    try:
        kws, names, topics = vocab()
        subs = gen_subs(args.subs, rng, kws, names, topics)
        alias = settings.index("stories")
        batches = []
        for b in range(args.batches):
            stories = gen_stories(b, args.stories, rng, kws, names, topics)
            assert bulk_index(es, prefix, stories) == {}
            batches.append([s.story_id for s in stories])
        print(f"{len(subs)} subscriptions, {args.batches} batches x {args.stories} stories; examples:")
        for s in subs[:3]:
            print(f"  {s.query}   filters={s.filters.model_dump(exclude_defaults=True)}")

        def run(ids: list[str], use_prefilter: bool) -> tuple[float, MatchStats, int]:
            stats = MatchStats()
            t0 = time.perf_counter()
            docs = fetch_stories(es_long, alias, ids)
            found = match_batch(es_long, alias, subs, docs, use_prefilter=use_prefilter, stats=stats)
            return time.perf_counter() - t0, stats, len(found)

        run(batches[0], True)  # warm-up (caches, JIT)
        pre = [run(ids, True) for ids in batches]
        full = [run(ids, False) for ids in batches[:args.no_prefilter_batches]]
        report("with pre-filter", pre, args.stories)
        report("without pre-filter (one search per subscription)", full, args.stories)
        agree = all(p[2] == f[2] for p, f in zip(pre, full))
        print(f"match counts equal with and without pre-filter on the compared batches: {agree}")

        sent = max(1, round(statistics.mean(p[1].searches_sent for p in pre)))
        ids = batches[0]
        t0 = time.perf_counter()
        es.search(index=alias, query={"query_string": {"query": subs[1].query}}, size=0)
        one = time.perf_counter() - t0
        bare = []
        for _ in range(3):
            body = []
            for _ in range(sent):
                body += [{"index": alias}, {"query": {"ids": {"values": ids}}, "size": 0}]
            t0 = time.perf_counter()
            es_long.msearch(searches=body)
            bare.append(time.perf_counter() - t0)
        print(f"baseline: one query_string search {one * 1000:.1f} ms; bare msearch of {sent} ids-only searches "
              f"p50 {statistics.median(bare) * 1000:.1f} ms")
    finally:
        from tests.conftest import _cleanup

        _cleanup(settings)
    return 0


def report(label: str, runs: list[tuple[float, MatchStats, int]], size: int) -> None:
    lat = [r[0] for r in runs]
    sent = statistics.mean(r[1].searches_sent for r in runs)
    print(f"{label}: p50 {pct(lat, 0.5) * 1000:.0f} ms, p95 {pct(lat, 0.95) * 1000:.0f} ms per batch of {size}; "
          f"{size / pct(lat, 0.5):.0f} stories/s at p50; searches sent {sent:.0f} avg; "
          f"round trips {statistics.mean(r[1].round_trips for r in runs):.1f}; matches {statistics.mean(r[2] for r in runs):.1f} avg")


if __name__ == "__main__":
    sys.exit(main())
