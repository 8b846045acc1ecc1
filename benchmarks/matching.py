"""Alert matching at scale: 100,000 subscriptions against batches of 50 freshly indexed stories.

    python benchmarks/matching.py [--subs 100000] [--batches 10] [--stories 50] [--baseline-subs 10000]
                                  [--compare] [--compare-batches 2]

Needs the local stack (`govwatch stack up`); works under a private index prefix and removes it after.
Subscriptions are generated from the taxonomy keywords and gazetteer aliases (src/govwatch/data):
phrases, AND/OR, exclusions, and filters on about a fifth of them; they are bulk-indexed into the
private subscriptions index. Stories mention a few of the same terms, drawn with a Zipf-like skew (a few
subjects are in every batch, most are rare), so that only a few percent of subscriptions match anything.

The matching itself runs in a child process that does what the alert consumer does: reads the active
subscriptions with ``SubscriptionCache`` (and builds the candidate index), then per batch fetches the
stories and calls ``match_batch``. It prints the load cost, then per design and size: p50/p95 per batch,
Elasticsearch HTTP requests per batch (counted at the client transport), candidates per batch, the local
CPU split, and the process's peak RSS (VmHWM) after the current design's runs, i.e. what an alert process
holds at this load. The **baseline** is the previous design (every subscription through the pre-filter,
one highlighted search per matched subscription for snippets), measured in the same run.
``--compare`` runs, on sampled batches, the exact check: every subscription's own search over the batch
ids (no pre-filter, no combining), and reports the differences in (subscription, story) pairs (must be 0),
and how many local snippets equal Elasticsearch's highlight.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test factories build valid stories

from benchmarks._common import load_average, vm_hwm_mb

from govwatch.alerts.subscriptions import Destination, Filters, Subscription
from govwatch.models import EnrichedStory, EntityRef, TopicRef, utcnow
from govwatch.settings import Settings

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
        # Zero-padded ids: the store lists by id, so its order is the generation order (the baseline's prefix).
        subs.append(Subscription(id=f"bench-{i:07d}", name=f"bench {i}", query=gen_query(rng, kws, names),
                                 filters=filters, destination=dest))
    return subs


def zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (r + 1) ** s for r in range(n)]


def gen_stories(batch: int, size: int, rng: random.Random, kws: list[str], names: list[str], topics: list[str],
                kw_weights: list[float], name_weights: list[float]) -> list[EnrichedStory]:
    from tests.factories import enriched_story, raw_story

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
                                  entities=[EntityRef(id=c, name=c, type="country")
                                            for c in rng.sample(["GB", "US", "FR", "DE", "CN"], 2)],
                                  topics=[TopicRef(id=rng.choice(topics), label="t", score=0.5)]))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def setup(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Bulk-index the subscriptions and the batches' stories under the private prefix."""
    from elasticsearch.helpers import bulk

    from govwatch.adapters.bootstrap import bootstrap
    from govwatch.adapters.es_io import make_client
    from govwatch.adapters.story_index import bulk_index

    rng = random.Random(7)
    es = make_client(settings.es_url).options(request_timeout=300)
    bootstrap(settings, es)
    kws, names, topics = vocab()
    t0 = time.perf_counter()
    subs = gen_subs(args.subs, rng, kws, names, topics)
    sub_index = settings.index("subscriptions")
    ok, _errors = bulk(es, ({"_index": sub_index, "_id": s.id, "_source": s.storage_document()} for s in subs),
                      chunk_size=5000, refresh="wait_for", raise_on_error=True)
    print(f"{ok} subscriptions generated and bulk-indexed in {time.perf_counter() - t0:.1f} s; examples:")
    for s in subs[:3]:
        print(f"  {s.query}   filters={s.filters.model_dump(exclude_defaults=True)}")
    # Popularity of subjects in the news: a random order of the vocabulary, Zipf weights.
    kw_pop, name_pop = rng.sample(kws, len(kws)), rng.sample(names, len(names))
    kw_w, name_w = zipf_weights(len(kw_pop)), zipf_weights(len(name_pop))
    batches = []
    for b in range(args.batches):
        stories = gen_stories(b, args.stories, rng, kw_pop, name_pop, topics, kw_w, name_w)
        assert bulk_index(es, settings.index_prefix, stories) == {}
        batches.append([s.story_id for s in stories])
    es.indices.refresh(index=settings.index("stories"))
    return {"batches": batches}


# ---------------------------------------------------------------------------------------------- the child process


class Counting:
    """Counts the HTTP requests of a client, by path (all clients made with ``.options`` share the transport)."""

    def __init__(self, es: Any) -> None:  # noqa: ANN401
        self.paths: Counter[str] = Counter()
        inner = es.transport.perform_request

        def perform(method: str, target: str, *a: Any, **kw: Any) -> Any:  # noqa: ANN401
            self.paths[target.split("?")[0].rsplit("/", 1)[-1]] += 1
            return inner(method, target, *a, **kw)

        es.transport.perform_request = perform

    def take(self) -> Counter[str]:
        out, self.paths = self.paths, Counter()
        return out


def vm_rss_mb() -> float:
    """Resident set size of this process now, in MiB."""
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1]) / 1024
    return float("nan")


def es_cpu_ms(es: Any) -> float:  # noqa: ANN401
    stats = es.nodes.stats(metric="process")
    return float(sum(n["process"]["cpu"]["total_in_millis"] for n in stats["nodes"].values()))


def run_design(es: Any, counter: Counting, alias: str, subs: list, index: Any, batches: list[list[str]],  # noqa: ANN401
               current: bool) -> tuple[dict[str, Any], list[set[tuple[str, str]]], list[list]]:
    from govwatch.alerts.match_result import MatchStats
    from govwatch.alerts.matcher import fetch_stories, match_batch

    rows, found, all_matches = [], [], []
    es_before = es_cpu_ms(es)
    for ids in batches:
        stats = MatchStats()
        counter.take()
        wall, cpu = time.perf_counter(), time.process_time()
        docs = fetch_stories(es, alias, ids)
        fetched = time.perf_counter() - wall
        matches = match_batch(es, alias, subs, docs, stats=stats, index=index if current else None,
                              snippets_locally=current)
        rows.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "fetch": fetched,
                     "requests": sum(counter.take().values()), "woken": stats.woken, "planned": stats.planned,
                     "prefilter_cpu": stats.prefilter_cpu_s, "pass1": stats.pass1_s, "pass1_cpu": stats.pass1_cpu_s,
                     "snippet": stats.snippet_s, "searches": stats.searches_sent, "splits": stats.splits,
                     "matches": len(matches), "subs_matched": len({m.subscription_id for m in matches})})
        found.append({(m.subscription_id, m.story_id) for m in matches})
        all_matches.append(matches)
    es_cpu = (es_cpu_ms(es) - es_before) / 1000 / len(batches)
    for r in rows:
        r["es_cpu_s"] = es_cpu
    return summarize(rows), found, all_matches


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [r["wall"] for r in rows]
    mean = lambda k: statistics.mean(r[k] for r in rows)  # noqa: E731
    return {"p50_ms": pct(lat, 0.5) * 1000, "p95_ms": pct(lat, 0.95) * 1000, "rows": rows,
            **{k: mean(k) for k in rows[0]}}


def run_interleaved(es: Any, counter: Counting, alias: str, subs: list, batches: list[list[str]]):  # noqa: ANN201, ANN401
    """The current design and the baseline batch by batch, in alternating order (neither always gets the warm
    caches)."""
    from govwatch.alerts.match_plan import candidate_index

    index = candidate_index(subs)
    rows: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for n, ids in enumerate(batches):
        for current in ((True, False) if n % 2 else (False, True)):
            one, _, _ = run_design(es, counter, alias, subs, index if current else None, [ids], current)
            rows[current] += one["rows"]
    return summarize(rows[True]), summarize(rows[False])


def exact(es: Any, alias: str, subs: list, ids: list[str]) -> set[tuple[str, str]]:  # noqa: ANN401
    """Every subscription's own search over the batch ids (no pre-filter, no combining): the ground truth."""
    from govwatch.alerts.query import subscription_query

    out: set[tuple[str, str]] = set()
    for start in range(0, len(subs), 500):
        part = subs[start:start + 500]
        body: list[dict[str, Any]] = []
        for s in part:
            body += [{"index": alias}, {"query": subscription_query(s.query, s.filters, s.allow_expensive, ids),
                                        "size": len(ids), "_source": False, "track_total_hits": False}]
        for s, resp in zip(part, es.msearch(searches=body)["responses"], strict=True):
            if "error" in resp:
                raise SystemExit(f"exact check: {s.id} failed: {resp['error']}")
            out.update((s.id, h["_id"]) for h in resp["hits"]["hits"])
    return out


def line(label: str, s: dict[str, Any], stories: int) -> str:
    return (f"{label}: p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms per batch of {stories} "
            f"({stories / (s['p95_ms'] / 1000):.0f} stories/s at p95); ES HTTP requests/batch {s['requests']:.1f} "
            f"({s['searches']:.0f} searches, {s['splits']:.1f} splits); woken {s['woken']:.0f}, candidates after "
            f"pre-filter {s['planned']:.0f}; matches {s['matches']:.0f} ({s['subs_matched']:.0f} subscriptions); "
            f"time split avg: fetch {s['fetch'] * 1000:.0f} ms, "
            f"index+pre-filter CPU {s['prefilter_cpu'] * 1000:.0f} ms, "
            f"pass 1 {s['pass1'] * 1000:.0f} ms (local CPU {s['pass1_cpu'] * 1000:.0f} ms), snippets "
            f"{s['snippet'] * 1000:.0f} ms; alert-process CPU {s['cpu'] * 1000:.0f} ms, Elasticsearch CPU "
            f"{s['es_cpu_s'] * 1000:.0f} ms per batch (node-wide: includes other clients of the shared node)")


def worker(args: argparse.Namespace) -> int:
    from govwatch.adapters.es_io import make_client
    from govwatch.alerts.match_compare import snippets
    from govwatch.alerts.match_plan import candidate_index
    from govwatch.alerts.matcher import fetch_stories
    from govwatch.alerts.store import SubscriptionStore
    from govwatch.stages.alerter import SubscriptionCache

    settings = Settings(topic_prefix=args.worker, index_prefix=args.worker)
    batches = json.loads(Path(args.batches_file).read_text())["batches"]
    es = make_client(settings.es_url).options(request_timeout=300)
    counter = Counting(es)
    alias = settings.index("stories")
    print(f"alert process: RSS before loading subscriptions {vm_hwm_mb(os.getpid()):.0f} MB")
    wall, cpu = time.perf_counter(), time.process_time()
    cache = SubscriptionCache(SubscriptionStore(es, settings.index("subscriptions")))
    subs, index = cache.current()
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    candidate_index(subs)  # again, requirements already parsed: the cost of a rebuild after a re-read
    print(f"SubscriptionCache re-read of {len(subs)} subscriptions + candidate index: {load_wall:.2f} s wall, "
          f"{load_cpu:.2f} s CPU ({sum(counter.take().values())} HTTP requests); index alone (queries already "
          f"parsed) {(time.process_time() - cpu) * 1000:.0f} ms CPU; {len(index.by_key)} keys, "
          f"{len(index.always)} always-checked")
    run_design(es, counter, alias, subs, index, batches[:1], True)  # warm-up (caches)
    cur, cur_found, cur_matches = run_design(es, counter, alias, subs, index, batches, True)
    print(line(f"current design, {len(subs)} subscriptions", cur, len(batches[0])))
    print(f"alert process: peak RSS (VmHWM) {vm_hwm_mb(os.getpid()):.0f} MB, RSS now {vm_rss_mb():.0f} MB, after "
          f"loading {len(subs)} subscriptions and matching {len(batches)} batches")
    for size in args.baseline_subs:
        part = subs[:size]
        n = len(batches) if size <= 10_000 else args.baseline_batches
        if size < len(subs):  # side by side, interleaved batch by batch
            small, base = run_interleaved(es, counter, alias, part, batches[:n])
            print(line(f"current design, {len(part)} subscriptions (interleaved with the baseline)", small,
                       len(batches[0])))
            print(line(f"baseline (previous design), {len(part)} subscriptions, {n} batches", base, len(batches[0])))
            continue
        base, base_found, _ = run_design(es, counter, alias, part, None, batches[:n], False)
        print(line(f"baseline (previous design), {len(part)} subscriptions, {n} batches", base, len(batches[0])))
        same = all(a == b for a, b in zip(cur_found, base_found, strict=False))
        print(f"same (subscription, story) pairs as the baseline on its {n} batches: {same}")
    if args.compare:
        diffs = pairs = 0
        same_snip = total_snip = 0
        examples: list[tuple[str, str, str | None]] = []
        for b in range(min(args.compare_batches, len(batches))):
            wall = time.perf_counter()
            truth = exact(es, alias, subs, batches[b])
            took = time.perf_counter() - wall
            got = cur_found[b]
            diffs += len(truth ^ got)
            pairs += len(truth)
            print(f"--compare batch {b}: exact per-subscription check ({len(subs)} searches, {took:.1f} s): "
                  f"{len(truth)} pairs; current design {len(got)}; missing {len(truth - got)}, "
                  f"extra {len(got - truth)}")
            # Snippets: the local ones against Elasticsearch's highlight of the same matches (cosmetic).
            docs = fetch_stories(es, alias, batches[b])
            by_id = {s.id: s for s in subs}
            found: dict[str, list[str]] = {}
            for m in cur_matches[b]:
                found.setdefault(m.subscription_id, []).append(m.story_id)
            searched = {(m.subscription_id, m.story_id): m.snippet
                        for m in snippets(es, alias, found, by_id, list(docs))}
            for m in cur_matches[b]:
                total_snip += 1
                theirs = searched.get((m.subscription_id, m.story_id))
                same_snip += theirs == m.snippet
                if (theirs != m.snippet and len(examples) < 4
                        and all(e[0] != by_id[m.subscription_id].query for e in examples)):
                    examples.append((by_id[m.subscription_id].query, m.snippet, theirs))
        print(f"--compare: {diffs} differences in {pairs} exact (subscription, story) pairs over "
              f"{min(args.compare_batches, len(batches))} batches; local snippets equal to Elasticsearch's highlight: "
              f"{same_snip} of {total_snip}")
        for query, mine, theirs in examples:
            print(f"  snippet differs for {query!r}:\n    local: {mine!r}\n    ES:    {theirs!r}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subs", type=int, default=100_000)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--stories", type=int, default=50)
    ap.add_argument("--baseline-subs", default="10000", help="comma-separated sizes for the previous design")
    ap.add_argument("--baseline-batches", type=int, default=3, help="batches for a baseline above 10,000 subscriptions")
    ap.add_argument("--compare", action="store_true", help="check against every subscription's own search")
    ap.add_argument("--compare-batches", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--batches-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.baseline_subs = sorted({min(int(n), args.subs) for n in args.baseline_subs.split(",") if n})
    if args.worker:
        return worker(args)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    settings = Settings(topic_prefix=prefix, index_prefix=prefix)
    print(f"load average at start: {load_average()}")
    try:
        state = setup(args, settings)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(state, fh)
        cmd = [sys.executable, __file__, "--worker", prefix, "--batches-file", fh.name, "--subs", str(args.subs),
               "--baseline-subs", ",".join(map(str, args.baseline_subs)),
               "--baseline-batches", str(args.baseline_batches), "--compare-batches", str(args.compare_batches)]
        if args.compare:
            cmd.append("--compare")
        rc = subprocess.run(cmd, check=False).returncode
        os.unlink(fh.name)
        print(f"load average at end: {load_average()}")
        return rc
    finally:
        from govwatch.adapters.bootstrap import teardown

        teardown(settings)


if __name__ == "__main__":
    sys.exit(main())
