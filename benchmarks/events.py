"""Event assignment quality and cost against the real Elasticsearch (issue 27).

Usage: python benchmarks/events.py [--set auto|events|relevance] [--seeds 5] [--batch 20]
                                   [--es http://127.0.0.1:9200] [--kafka 127.0.0.1:9092] [--sweep]
                                   [--burst-alerts | --no-burst-alerts]

Data and parts: benchmarks/_events_data.py. Every story is enriched by govwatch (entities, topics, wire-copy
clusters), then assigned to events online by govwatch.enrich.event_assign.EventAssigner against a throwaway
events index (``bench-events-<random>-events``, deleted after), in --batch sized batches, in --seeds shuffled
processing orders (each on a fresh index). Prints:

1. B-cubed P / R / F1 per order on all stories, the dev part and the held-out part, and their spread;
   events found vs gold events; the same for two baselines: wire-copy clusters alone, every story its own event;
2. a "cold" order: a new assigner per batch and a refresh between batches, so every candidate comes from
   Elasticsearch (not from the process's memory of what it wrote);
3. a replay: every story again, through the same assigner: how many land in another event, story_count changes;
4. CPU ms per story of assign() (thread CPU of the whole batch call, the Elasticsearch client's JSON work
   included, divided by the batch size; p50 / p95 over batches) and Elasticsearch requests per story;
5. the biggest merges and splits of the first order, on the dev part only;
6. a synthetic burst: one event told by 30 stories from 15 outlets over two days among the labelled stories
   moved into those two days: how many events the burst's stories end up in;
7. --burst-alerts (on by default; --no-burst-alerts skips it): the burst's 30 stories through the real index,
   alert and notify stages and the webhook roll-up step (Kafka and Elasticsearch on the local stack, a local
   Slack-compatible receiver), four subscriptions (event on a bot token, event / cluster / story on webhooks):
   top-level posts, thread replies, roll-up messages, stories reachable vs matched, Slack requests
   (benchmarks/_events_alerts.py).
--sweep first prints dev-part P / R / F1 per threshold from an in-memory run (no Elasticsearch), as dated and
with every date collapsed to one instant (a stress test of density): how JOIN_THRESHOLD was chosen.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the integration tests' stage drivers (tests.support)

from _events_alerts import run_burst_alerts
from _events_data import ONE_INSTANT, Labelled, bcubed, burst, enrich_all, load, members_of, part_of
from elasticsearch import Elasticsearch

from govwatch.adapters import es_io, event_index
from govwatch.enrich.event_assign import EventAssigner
from govwatch.enrich.events import JOIN_THRESHOLD, Event, Member, decide
from govwatch.enrich.pipeline import Knowledge
from govwatch.models import EnrichedStory


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def shuffled(members: list[Member], seed: int) -> list[Member]:
    order = list(members)
    random.Random(seed).shuffle(order)
    return order


def online(es: Elasticsearch, prefix: str, order: list[Member], batch: int, *, cold: bool = False,
           assigner: EventAssigner | None = None) -> tuple[dict[str, str], list[float], int, EventAssigner]:
    """Assign ``order`` in batches; returns story -> event, per-story CPU ms per batch, requests, the assigner."""
    assigner = assigner or EventAssigner(es, prefix)
    assigned: dict[str, str] = {}
    cpu: list[float] = []
    requests = 0
    for start in range(0, len(order), batch):
        if cold:
            requests += assigner.requests
            assigner = EventAssigner(es, prefix)
            es.indices.refresh(index=event_index.index_name(prefix), ignore_unavailable=True)
        chunk = order[start:start + batch]
        t0 = time.thread_time()
        decisions = assigner.assign(chunk)
        cpu.append((time.thread_time() - t0) * 1000 / len(chunk))
        for member, decision in zip(chunk, decisions, strict=True):
            assigned[member.story_id] = decision.event.event_id
    return assigned, cpu, requests + assigner.requests, assigner


def in_memory(order: list[Member], threshold: float) -> dict[str, str]:
    """The decision alone, every event a candidate (the --sweep; no Elasticsearch)."""
    events: dict[str, Event] = {}
    out = {}
    for member in order:
        decision = decide(member, list(events.values()), threshold)
        events[decision.event.event_id] = decision.event
        out[member.story_id] = decision.event.event_id
    return out


def scores_line(name: str, predicted: dict[str, str], gold: dict[str, str], parts: dict[str, str]) -> str:
    cells = []
    for part in ("all", "dev", "held-out"):
        sub = {k: v for k, v in gold.items() if part == "all" or parts[k] == part}
        p, r, f = bcubed(predicted, sub)
        cells.append(f"{part} P {p:.3f} R {r:.3f} F1 {f:.3f}")
    events = len({predicted[k] for k in gold})
    return f"{name:<22} " + " | ".join(cells) + f" | events {events} (gold {len(set(gold.values()))})"


def merges_and_splits(predicted: dict[str, str], gold: dict[str, str], titles: dict[str, str], top: int) -> None:
    by_pred: dict[str, list[str]] = defaultdict(list)
    by_gold: dict[str, list[str]] = defaultdict(list)
    for k in gold:
        by_pred[predicted[k]].append(k)
        by_gold[gold[k]].append(k)
    merges = sorted(((len(v) - Counter(gold[k] for k in v).most_common(1)[0][1], e, v) for e, v in by_pred.items()),
                    reverse=True)
    print(f"  biggest merges (stories outside the event's main gold event), dev part, top {top}:")
    for wrong, _, members in [m for m in merges if m[0] > 0][:top]:
        print(f"    {wrong} wrong of {len(members)}: " + " || ".join(
            f"[{gold[k]}] {titles[k][:60]}" for k in sorted(members, key=lambda k: gold[k])[:6]))
    splits = sorted(((len({predicted[k] for k in v}), g, v) for g, v in by_gold.items()), reverse=True)
    print(f"  biggest splits (gold events in several predicted events), dev part, top {top}:")
    for pieces, g, members in [s for s in splits if s[0] > 1][:top]:
        print(f"    {g}: {len(members)} stories in {pieces} events: " + " || ".join(
            f"{titles[k][:50]}" for k in members[:5]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="auto", choices=["auto", "events", "relevance"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--es", default="http://127.0.0.1:9200")
    ap.add_argument("--kafka", default="127.0.0.1:9092")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--burst-alerts", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()
    name, labelled = load(args.set)
    knowledge = Knowledge.load(0.5)
    t0 = time.process_time()
    enriched = enrich_all(labelled, knowledge)
    print(f"set: {name}: {len(labelled)} stories, {len({s.event for s in labelled})} gold events, "
          f"{len({s.outlet for s in labelled})} outlets; enrichment {time.process_time() - t0:.1f} s CPU (not counted)")
    members = members_of(enriched)
    gold = {m.story_id: s.event for m, s in zip(members, labelled, strict=True)}
    parts = {m.story_id: part_of(s.event) for m, s in zip(members, labelled, strict=True)}
    titles = {m.story_id: m.title for m in members}
    print(f"parts: dev {sum(p == 'dev' for p in parts.values())} stories, "
          f"held-out {sum(p == 'held-out' for p in parts.values())}; threshold {JOIN_THRESHOLD}")
    if args.sweep:
        dev = [m for m in members if parts[m.story_id] == "dev"]
        dev_gold = {m.story_id: gold[m.story_id] for m in dev}
        for threshold in (0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.25, 0.30, 0.35, 0.40):
            runs = [bcubed(in_memory(shuffled(dev, seed), threshold), dev_gold) for seed in range(args.seeds)]
            dense = [bcubed(in_memory(shuffled([replace(m, published=ONE_INSTANT) for m in dev], seed), threshold),
                            dev_gold) for seed in range(args.seeds)]
            print(f"  sweep dev threshold {threshold:.2f}: P {statistics.mean(r[0] for r in runs):.3f} "
                  f"R {statistics.mean(r[1] for r in runs):.3f} F1 {statistics.mean(r[2] for r in runs):.3f}"
                  f" | dates collapsed to one instant: P {statistics.mean(r[0] for r in dense):.3f} "
                  f"R {statistics.mean(r[1] for r in dense):.3f} F1 {statistics.mean(r[2] for r in dense):.3f}")
    es = es_io.make_client(args.es)
    prefix = f"bench-events-{secrets.token_hex(4)}"
    index = event_index.index_name(prefix)
    try:
        event_index.ensure_template(es, prefix)
        f1s, cpu, requests, stories_done = [], [], 0, 0
        first: dict[str, str] = {}
        for seed in range(args.seeds):
            es.options(ignore_status=404).indices.delete(index=index)
            assigned, cpu_ms, reqs, assigner = online(es, prefix, shuffled(members, seed), args.batch)
            first = first or assigned
            cpu += cpu_ms
            requests += reqs
            stories_done += len(members)
            f1s.append(bcubed(assigned, gold)[2])
            print(scores_line(f"order {seed}", assigned, gold, parts))
        print(f"  spread of F1 over {args.seeds} orders: {min(f1s):.3f}..{max(f1s):.3f} "
              f"(max - min {max(f1s) - min(f1s):.3f})")
        print(f"  assign() CPU ms per story (batch {args.batch}, ES client included): p50 {pct(cpu, 0.5):.2f} "
              f"p95 {pct(cpu, 0.95):.2f} mean {statistics.mean(cpu):.2f}; ES requests per story "
              f"{requests / stories_done:.3f}")
        # Replay: the last order's assigner sees every story again.
        es.indices.refresh(index=index)
        before = {e["event_id"]: e["story_count"] for e in all_events(es, index)}
        replayed, _, _, _ = online(es, prefix, shuffled(members, 99), args.batch, assigner=assigner)
        es.indices.refresh(index=index)
        after = {e["event_id"]: e["story_count"] for e in all_events(es, index)}
        moved = sum(replayed[k] != assigned[k] for k in assigned)
        print(f"replay of all {len(members)} stories: {moved} moved to another event; event story_counts "
              f"{'unchanged' if before == after else 'CHANGED'} ({len(after)} events, "
              f"{sum(after.values())} memberships)")
        es.options(ignore_status=404).indices.delete(index=index)
        cold, _, cold_requests, _ = online(es, prefix, shuffled(members, 0), args.batch, cold=True)
        print(scores_line("cold order 0 (ES only)", cold, gold, parts)
              + f" | ES requests per story {cold_requests / len(members):.3f} (a new assigner per batch: its"
              " one refresh counted, the benchmark's not)")
        clusters = {m.story_id: m.cluster_id for m in members}
        print(scores_line("baseline: wire copies", clusters, gold, parts))
        print(scores_line("baseline: singletons", {k: k for k in gold}, gold, parts))
        dev_gold = {k: v for k, v in gold.items() if parts[k] == "dev"}
        merges_and_splits(first, dev_gold, titles, top=6)
        told = run_burst(es, prefix, labelled, knowledge, args.batch)
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
        es.options(ignore_status=404).indices.delete_index_template(name=index)
    if args.burst_alerts:
        run_burst_alerts(args.es, args.kafka, told)
    return 0


def all_events(es: Elasticsearch, index: str) -> list[dict[str, Any]]:
    resp = es.search(index=index, size=10_000, source_includes=["event_id", "story_count"], query={"match_all": {}})
    return [hit["_source"] for hit in resp["hits"]["hits"]]


def run_burst(es: Elasticsearch, prefix: str, labelled: list[Labelled], knowledge: Knowledge,
              batch: int) -> list[EnrichedStory]:
    """30 stories of one event from 15 outlets over two days, among 120 labelled stories moved into those days;
    returns the burst's enriched stories."""
    start = min(s.published for s in labelled)
    told = burst(start)
    rng = random.Random(27)
    others = [replace(s, published=start + (told[i % len(told)].published - start))
              for i, s in enumerate(rng.sample(labelled, min(120, len(labelled))))]
    enriched = enrich_all(told + others, knowledge)
    members = members_of(enriched)
    gold = {m.story_id: s.event for m, s in zip(members, told + others, strict=True)}
    es.options(ignore_status=404).indices.delete(index=event_index.index_name(prefix))
    assigned, _, _, _ = online(es, prefix, shuffled(members, 7), batch)
    burst_events = Counter(assigned[m.story_id] for m in members if gold[m.story_id] == "burst")
    others_gold = {m.story_id: gold[m.story_id] for m in members if gold[m.story_id] != "burst"}
    p, r, f = bcubed(assigned, others_gold)
    intruders = sum(1 for m in members if gold[m.story_id] != "burst" and assigned[m.story_id] in burst_events)
    print(f"burst: {len(told)} stories / {len({s.outlet for s in told})} outlets over 48 h -> "
          f"{len(burst_events)} event(s) (sizes {sorted(burst_events.values(), reverse=True)}), "
          f"{intruders} unrelated stories joined them; {len(others)} unrelated stories "
          f"({len({s.event for s in others})} gold events) -> "
          f"{len({assigned[m.story_id] for m in members if gold[m.story_id] != 'burst'})} events "
          f"(B-cubed P {p:.3f} R {r:.3f} F1 {f:.3f}: all 150 stories in two days, denser than the labelled set)")
    return enriched[:len(told)]


if __name__ == "__main__":
    raise SystemExit(main())
