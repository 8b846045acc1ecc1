"""Alert matching at scale: 10,000 subscriptions against batches of 50 freshly indexed stories.

    python benchmarks/matching.py [--subs 10000] [--batches 10] [--stories 50] [--chunks 100,200] [--compare]

Needs the local stack (`govwatch stack up`); works under a private index prefix and removes it after.
Subscriptions are generated from the taxonomy keywords and gazetteer aliases (/work/shared/domain or
src/govwatch/data): phrases, AND/OR, exclusions, and filters on about a fifth of them. Stories mention
a few of the same terms, drawn with a Zipf-like skew (a few subjects are in every batch, most are
rare), so that, as with real news, only a few percent of the subscriptions match anything in a batch;
the match rate is printed. Prints, per combined-search chunk size, p50/p95 batch latency (fetch +
pre-filter + the two passes) and stories/s, searches and round trips; the same without the
pre-filter; and two baselines from the same run: one ids-only search over the batch, and a bare
msearch of as many trivial searches as the matcher sent. ``--compare`` also runs the former matcher
(one highlighted search per surviving subscription) on one batch and checks it returns the same
matches and snippets.
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

from govwatch.alerts.matcher import COMBINE_CHUNK, Match, MatchStats, fetch_stories, match_batch, plan, run_searches
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
    # Mostly conjunctions (a subject and an angle), as people write alerts; a few broad ORs.
    shape = rng.choices(range(5), [1, 6, 1, 4, 4])[0]
    if shape == 0:
        return f"{k()} OR {k()}"
    if shape == 1:
        return f"{n()} AND ({k()} OR {k()})"
    if shape == 2:
        return f"{n()} OR {n()}"
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


def zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (r + 1) ** s for r in range(n)]


def gen_stories(batch: int, size: int, rng: random.Random, kws: list[str], names: list[str], topics: list[str],
                kw_weights: list[float], name_weights: list[float]):  # noqa: ANN201
    out = []
    for j in range(size):
        n = f"b{batch}-{j}-{uuid.uuid4().hex[:6]}"
        words = [rng.choice(FILLER) for _ in range(120)]
        for kw in rng.choices(kws, kw_weights, k=2):
            words.insert(rng.randrange(len(words)), kw)
        for name in rng.choices(names, name_weights, k=1):
            words.insert(rng.randrange(len(words)), name)
        title = f"{rng.choices(names, name_weights)[0]} {rng.choices(kws, kw_weights)[0]} {rng.choice(FILLER)}"
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
    ap.add_argument("--chunks", default=str(COMBINE_CHUNK), help="comma-separated subscriptions per combined search")
    ap.add_argument("--compare", action="store_true", help="also run the former one-search-per-subscription matcher")
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
        # Popularity of subjects in the news: a random order of the vocabulary, Zipf weights.
        kw_pop, name_pop = rng.sample(kws, len(kws)), rng.sample(names, len(names))
        kw_w, name_w = zipf_weights(len(kw_pop)), zipf_weights(len(name_pop))
        alias = settings.index("stories")
        batches = []
        for b in range(args.batches):
            stories = gen_stories(b, args.stories, rng, kw_pop, name_pop, topics, kw_w, name_w)
            assert bulk_index(es, prefix, stories) == {}
            batches.append([s.story_id for s in stories])
        es.indices.refresh(index=alias)
        print(f"{len(subs)} subscriptions, {args.batches} batches x {args.stories} stories; examples:")
        for s in subs[:3]:
            print(f"  {s.query}   filters={s.filters.model_dump(exclude_defaults=True)}")

        def run(ids: list[str], use_prefilter: bool, chunk: int) -> tuple[float, MatchStats, list[Match]]:
            stats = MatchStats()
            t0 = time.perf_counter()
            docs = fetch_stories(es_long, alias, ids)
            found = match_batch(es_long, alias, subs, docs, use_prefilter=use_prefilter, stats=stats, chunk=chunk)
            return time.perf_counter() - t0, stats, found

        chunks = [int(c) for c in args.chunks.split(",")]
        run(batches[0], True, chunks[0])  # warm-up (caches, JIT)
        pre: list[tuple[float, MatchStats, list[Match]]] = []
        for chunk in chunks:
            pre = [run(ids, True, chunk) for ids in batches]
            report(f"combined searches of {chunk} subscriptions, with pre-filter", pre, args.stories, len(subs))
        full = [run(ids, False, chunks[-1]) for ids in batches[:args.no_prefilter_batches]]
        report(f"combined searches of {chunks[-1]}, without pre-filter", full, args.stories, len(subs))
        agree = all(set(p[2]) == set(f[2]) for p, f in zip(pre, full))
        print(f"matches (with snippets) equal with and without pre-filter on the compared batches: {agree}")

        if args.compare:
            stats = MatchStats()
            t0 = time.perf_counter()
            docs = fetch_stories(es_long, alias, batches[0])
            old = run_searches(es_long, alias, plan([s for s in subs if not s.paused], docs), stats)
            took = time.perf_counter() - t0
            print(f"former matcher (one highlighted search per pre-filtered subscription), batch 0: {took * 1000:.0f} ms; "
                  f"searches {stats.searches_sent}; round trips {stats.round_trips}; matches {len(old)}; "
                  f"same matches and snippets as the combined matcher: {set(old) == set(pre[0][2])}")

        sent = max(1, round(statistics.mean(p[1].searches_sent for p in pre)))
        trips = max(1, round(statistics.mean(p[1].round_trips for p in pre)))
        ids = batches[0]
        one = []
        for _ in range(5):
            t0 = time.perf_counter()
            es.search(index=alias, query={"ids": {"values": ids}}, size=0)
            one.append(time.perf_counter() - t0)
        bare = []
        for _ in range(5):
            body = []
            for _ in range(sent):
                body += [{"index": alias}, {"query": {"ids": {"values": ids}}, "size": 0}]
            t0 = time.perf_counter()
            es_long.msearch(searches=body)
            bare.append(time.perf_counter() - t0)
        print(f"baseline: one ids-only search over the batch p50 {statistics.median(one) * 1000:.1f} ms; bare msearch of "
              f"{sent} ids-only searches (as many as the matcher sends, in {trips} round trips) p50 "
              f"{statistics.median(bare) * 1000:.1f} ms")
    finally:
        from govwatch.bootstrap import teardown

        teardown(settings)
    return 0


def report(label: str, runs: list[tuple[float, MatchStats, list[Match]]], size: int, subs: int) -> None:
    lat = [r[0] for r in runs]
    mean = lambda f: statistics.mean(f(r) for r in runs)  # noqa: E731
    rate = mean(lambda r: len({m.subscription_id for m in r[2]})) / subs
    print(f"{label}: p50 {pct(lat, 0.5) * 1000:.0f} ms, p95 {pct(lat, 0.95) * 1000:.0f} ms per batch of {size}; "
          f"{size / pct(lat, 0.95):.0f} stories/s at p95; searches {mean(lambda r: r[1].searches_sent):.0f} avg "
          f"({mean(lambda r: r[1].combined_searches):.0f} combined, {mean(lambda r: r[1].snippet_searches):.0f} snippet); "
          f"round trips {mean(lambda r: r[1].round_trips):.1f}; splits {mean(lambda r: r[1].splits):.1f}; subscriptions after pre-filter "
          f"{mean(lambda r: r[1].planned):.0f}; matches {mean(lambda r: len(r[2])):.1f} avg; "
          f"match rate {rate:.1%} of subscriptions match a story of the batch")


if __name__ == "__main__":
    sys.exit(main())
