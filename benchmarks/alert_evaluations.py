"""Issue 28's scheduled evaluations at scale: every spike rule and every feed's health, against the bare engine.

    python benchmarks/alert_evaluations.py [--stories 50000] [--feeds 200] [--rules 500] [--days 30] [--rounds 3]

Needs the local stack (`govwatch stack up`); works under a private random index and topic prefix and removes both
after (``teardown``: the indices by name, the topics by prefix). The clock is fixed, never today: evaluations run
from 03:00 UTC on 1 November 2026 (feeds publish up to the last round), so every window straddles the October and
November monthly indices (read through the stories alias, as in production).

Seeded data: ``--stories`` relevant stories over ``--days`` days from ``--feeds`` feeds with Zipf-like cadences
(every few minutes to every few hours, jittered); texts mention taxonomy keywords and gazetteer entities with a
Zipf skew (benchmarks/matching.py's vocabulary); a tenth of the feeds always fall back to the feed text. Seeded
incidents: a fortieth of the feeds each fail (polls failing for 10 h), go silent (nothing for 6 typical gaps, at
least 18 h) or drift (every story after 23:30 two days before the clock falls back to the feed summary). ``--rules``
subscriptions with spike rules (7 in 10 on a query, 3 on an entity; 6 h / 28, 1 h / 24 and 24 h / 14 windows),
among them a twenty-fifth of **surging** rules (2 stories per window, then 15 in the last 6 h, on a token of their
own) and as many **flat** controls (the same total, evenly spread), whose outcome a Python oracle knows.

Measured, ``--rounds`` times at successive clock times (5 min apart for spikes, 10 min for health, the default
intervals' steps): the whole evaluation as ``run_spikes`` / ``run_source_health`` do it (clients, the rules'
read, resp. the feeds.state topic read, then each rule or feed through ``evaluate_all``), its wall time, latency
per rule / feed (p50 / p95 over all rounds), Elasticsearch HTTP requests per rule / feed (counted at the client
transport, by method and endpoint), the CPU of this process and of the Elasticsearch node (node-wide: other
clients of a shared node count too) per rule / feed. Log lines are rendered as JSON as in production and dropped.
**Bare baselines in the same run**, in alternating order with ours per round: one plain ``_count`` of the rule's
last window (and one ``size=0`` search with only the windows' ``range`` aggregation: the counts the decision
needs), and one plain ``_search size=0`` per feed. Not through Prefect: a flow run adds its own fixed cost.

Checked (not timed): surging rules fire exactly once, in the round the oracle says; flat ones never; every rule's
stored last count equals the bare ``_count``; the seeded feed incidents open in the first round, and nothing else.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import load_average, percentile
from benchmarks.matching import FILLER, es_cpu_ms, gen_query, phrase, vocab, zipf_weights

from govwatch.adapters import es_io, event_index
from govwatch.adapters.bootstrap import bootstrap, teardown
from govwatch.adapters.feed_stores import KafkaStateStore
from govwatch.adapters.kafka_topics import FEED_STATE
from govwatch.alerts import source_health_run, spike_run
from govwatch.alerts.spike import Series, SpikeRule, is_over, windows
from govwatch.alerts.spike_search import series_query
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.feeds.state import FeedState
from govwatch.log import configure_logging
from govwatch.settings import Settings
from govwatch.wiring.clients import producer_session
from govwatch.wiring.source_health import feeds as registry_feeds
from govwatch.wiring.source_health import health_context
from govwatch.wiring.spikes import spike_context

CLOCK = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # the first evaluation: its 6 h window starts on 31 October
SPIKE_STEP = timedelta(seconds=300)  # GOVWATCH_SPIKE_INTERVAL_S's default
HEALTH_STEP = timedelta(seconds=600)  # GOVWATCH_SOURCE_HEALTH_INTERVAL_S's default
SURGE = SpikeRule()  # 3x the mean of 28 six-hour windows, at least 5
SURGE_BASE, SURGE_PEAK = 2, 15  # stories per baseline window, then in the last window
# Rule shapes of the background rules, and their weights: the default, an hourly one, a daily one.
RULE_SHAPES = (SpikeRule(), SpikeRule(window_minutes=60, baseline_windows=24),
               SpikeRule(window_minutes=1440, baseline_windows=14, min_count=10))
RULE_WEIGHTS = (6, 3, 1)
FAILING_FOR, REDESIGN_BEFORE = timedelta(hours=10), timedelta(hours=24, minutes=30)
STATS_REFRESH_S = 1.1  # the node's process stats are cached for 1 s (monitor.process.refresh_interval)
DEST = Destination(kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/bench")


@dataclass
class Seed:
    """What was seeded and what the oracle expects of it."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    feeds: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, role)
    subs: list[Subscription] = field(default_factory=list)
    special: dict[str, list[datetime]] = field(default_factory=dict)  # surge / flat rule id -> its stories' times
    events: dict[str, str] = field(default_factory=dict)


def story(rng: random.Random, n: int, feed: tuple[str, str, str], seen: datetime, status: str, words: list[str],
          entities: list[tuple[str, str]], event: str | None) -> dict[str, Any]:
    fid, name, _ = feed
    body = [rng.choice(FILLER) for _ in range(60)]
    for w in words + [alias for _, alias in entities]:
        body.insert(rng.randrange(len(body)), w)
    summary = " ".join(body[:25])
    published = seen - timedelta(minutes=rng.randrange(0, 30))
    return {"@timestamp": published.isoformat(), "published_at": published.isoformat(), "story_id": f"s{n:08d}",
            "url": f"https://{fid}.example.org/{n}", "feed_id": fid, "source": name, "language": "en",
            "title": " ".join(words[:2] + [a for _, a in entities[:1]] + body[:5]), "summary": summary,
            "text": summary if status in ("feed_summary", "feed_content", "empty") else " ".join(body),
            "extraction_status": status, "entity_ids": [e for e, _ in entities],
            "entity_names": [a for _, a in entities], "event_id": event, "is_relevant": True,
            "relevance": round(0.5 + rng.random() / 2, 3), "trace": {"first_seen_at": seen.isoformat()}}


def seed(args: argparse.Namespace) -> Seed:
    """Feeds with roles and cadences, their stories, the rules (surging, flat, background)."""
    rng = random.Random(28)
    out = Seed()
    keywords, _names, _topics = vocab()
    gaz = yaml.safe_load((Path(__file__).resolve().parents[1] / "src/govwatch/data/gazetteer.yaml").read_text())
    entities = [(e.get("qid") or e["id"], e["aliases"][0]) for e in gaz["entities"] if e.get("aliases")]
    kws = rng.sample(keywords, len(keywords))
    ents = rng.sample(entities, len(entities))
    kw_w, ent_w = zipf_weights(len(kws)), zipf_weights(len(ents))
    special_n = max(1, args.rules // 25)
    special_stories = special_n * 2 * (SURGE_BASE * SURGE.baseline_windows + SURGE_PEAK)
    regular = max(args.feeds * 10, args.stories - special_stories)

    # Feeds: cadence by a mild Zipf weight; roles on feeds busy enough to show them.
    weights = zipf_weights(args.feeds, 0.7)
    counts = [max(10, round(regular * w / sum(weights))) for w in weights]
    k = max(1, args.feeds // 40)
    by_busy = list(range(args.feeds))  # busiest first
    roles = ["healthy"] * args.feeds
    for i in by_busy[1:3 * k + 1:3]:
        roles[i] = "drift"  # busy ones, so the last 24 h hold at least 5 stories
    rest = [i for i in by_busy if roles[i] == "healthy"]
    rng.shuffle(rest)
    for role, n in (("failing", k), ("silent", k), ("fallback", max(1, args.feeds // 10))):
        for i in rest[:n]:
            roles[i] = role
        rest = rest[n:]
    start = CLOCK - timedelta(days=args.days)
    n = 0
    for i in range(args.feeds):
        feed = (f"feed-{i:04d}", f"Outlet {i}", roles[i])
        out.feeds.append(feed)
        gap = timedelta(days=args.days) / counts[i]
        end = {"failing": CLOCK - FAILING_FOR, "silent": CLOCK - max(6 * gap, timedelta(hours=18))}.get(
            roles[i], CLOCK + args.rounds * max(SPIKE_STEP, HEALTH_STEP))  # later ones: out of every window
        at = start + gap * rng.random()
        while at < end:
            if roles[i] == "fallback":
                status = rng.choice(["feed_summary", "feed_content"])
            elif roles[i] == "drift":
                status = "extracted" if at < CLOCK - REDESIGN_BEFORE else "feed_summary"
            else:
                status = rng.choices(["extracted", "extracted_fallback", "feed_summary"], [95, 2, 3])[0]
            event = f"ev{rng.randrange(2000):05d}" if rng.random() < 0.3 else None
            out.docs.append(story(rng, n, feed, at, status, rng.choices(kws, kw_w, k=2),
                                  list({e: e for e in rng.choices(ents, ent_w, k=rng.choice((1, 2)))}), event))
            n += 1
            at += gap * rng.uniform(0.7, 1.3)

    # Surging and flat rules: a token (query) or an entity of their own; half of each kind on an entity.
    # Only on busy healthy feeds (every 2 h or more often): extra stories must not change whether a feed is silent.
    healthy = [f for i, f in enumerate(out.feeds) if f[2] == "healthy" and counts[i] >= args.days * 12][:20] or [
        f for f in out.feeds if f[2] == "healthy"][:5]
    width = SURGE.window
    for j in range(special_n):
        for kind in ("surge", "flat"):
            token, entity = f"{kind}{j:03d}", f"bench.{kind}.{j:03d}"
            on_entity = j % 2 == 1
            rule = SURGE.model_copy(update={"entity_id": entity} if on_entity else {})
            sub = Subscription(id=f"{kind}-{j:03d}", name=f"{kind} {j}", query=token, spike=rule, destination=DEST)
            total = SURGE_BASE * SURGE.baseline_windows + SURGE_PEAK
            if kind == "surge":
                times = [CLOCK - width * (w + 1) + width * (s + 0.5) / SURGE_BASE
                         for w in range(1, SURGE.baseline_windows + 1) for s in range(SURGE_BASE)]
                # the peak from 5 h 30 to 10 min before the clock: still in the window at the later rounds
                times += [CLOCK - timedelta(minutes=330) + timedelta(minutes=320) * s / SURGE_PEAK
                          for s in range(SURGE_PEAK)]
            else:
                span = width * (SURGE.baseline_windows + 1)
                times = [CLOCK - span + span * (s + 0.5) / total for s in range(total)]
            event = f"ev-{kind}-{j:03d}"
            out.events[event] = f"Bench {kind} {j}"
            for at in times:
                doc = story(rng, n, rng.choice(healthy), at, "extracted", [] if on_entity else [token],
                            [(entity, f"Entity {kind} {j}")] if on_entity else [], event)
                doc["@timestamp"] = at.isoformat()  # the oracle counts these exact times
                out.docs.append(doc)
                n += 1
            out.subs.append(sub)
            out.special[sub.id] = times
    for j in range(args.rules - len(out.subs)):
        rule = rng.choices(RULE_SHAPES, RULE_WEIGHTS)[0]
        if rng.random() < 0.3:
            entity_id, alias = rng.choices(ents, [w ** 0.5 for w in ent_w])[0]
            rule = rule.model_copy(update={"entity_id": entity_id})
            query = phrase(alias)
        else:
            query = gen_query(rng, kws, [a for _, a in ents])
        out.subs.append(Subscription(id=f"rule-{j:05d}", name=f"rule {j}", query=query, spike=rule,
                                     destination=DEST))
    return out


def load(es: Any, settings: Settings, data: Seed, registry: Path) -> None:  # noqa: ANN401
    """Bulk-index stories, events and subscriptions; write the registry and every feed's poll state."""
    from elasticsearch.helpers import bulk

    prefix = settings.index_prefix
    bulk(es, ({"_index": es_io.stories_index_for(prefix, datetime.fromisoformat(d["@timestamp"])),
               "_id": d["story_id"], "_source": d} for d in data.docs), chunk_size=2000, raise_on_error=True)
    bulk(es, ({"_index": event_index.index_name(prefix), "_id": e, "_source": {"event_id": e, "title": t}}
              for e, t in data.events.items()), raise_on_error=True)
    ops = Subscription(id="bench-ops", name="operations", query="govwatch-operations-only", destination=DEST)
    bulk(es, ({"_index": settings.index("subscriptions"), "_id": s.id, "_source": s.storage_document()}
              for s in [*data.subs, ops]), chunk_size=1000, raise_on_error=True)
    es.indices.refresh(index=f"{prefix}-*")
    registry.write_text(yaml.safe_dump({"feeds": [{"id": f, "name": name, "url": f"https://{f}.example.org/rss"}
                                                  for f, name, _ in data.feeds]}))
    polled = CLOCK - timedelta(minutes=5)
    with producer_session(settings) as producer:
        store = KafkaStateStore(settings, settings.topic(FEED_STATE), producer, decode=FeedState.from_bytes,
                                new=FeedState)
        for fid, _, role in data.feeds:
            store.put(FeedState(fid, last_attempt_at=polled, last_success_at=CLOCK - FAILING_FOR,
                                consecutive_failures=20, last_error="HTTP 503 from the publisher")
                      if role == "failing" else FeedState(fid, last_attempt_at=polled, last_success_at=polled))


# ------------------------------------------------------------------------------------------------ measuring


class Requests:
    """Counts a client's HTTP requests by method and endpoint (every client made with ``.options`` shares the
    transport)."""

    def __init__(self, es: Any) -> None:  # noqa: ANN401
        self.seen: Counter[str] = Counter()
        inner = es.transport.perform_request

        def perform(method: str, target: str, *a: Any, **kw: Any) -> Any:  # noqa: ANN401
            parts = target.split("?")[0].strip("/").split("/")
            self.seen[f"{method} {next((p for p in parts if p.startswith('_')), '/')}"] += 1
            return inner(method, target, *a, **kw)

        es.transport.perform_request = perform

    def take(self) -> Counter[str]:
        out, self.seen = self.seen, Counter()
        return out


@dataclass
class Run:
    """One design's figures over all rounds."""

    walls: list[float] = field(default_factory=list)  # per round, the whole evaluation
    setup: list[float] = field(default_factory=list)  # per round, before the first rule / feed
    lat: list[float] = field(default_factory=list)  # per rule / feed, all rounds
    requests: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0
    es_cpu_s: float = 0.0
    items: int = 0  # rules / feeds evaluated, all rounds
    started: float = 0.0  # perf_counter at the start of the current round


@contextlib.contextmanager
def measured(run: Run, es: Any) -> Iterator[None]:  # noqa: ANN401
    """Wall time, this process's CPU and the node's CPU of one round; log lines rendered, then dropped."""
    time.sleep(STATS_REFRESH_S)
    es_cpu = es_cpu_ms(es)
    wall, cpu = time.perf_counter(), time.process_time()
    run.started = wall
    saved, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:
        yield
    finally:
        sys.stderr.close()
        sys.stderr = saved
        run.walls.append(time.perf_counter() - wall)
        run.cpu_s += time.process_time() - cpu
        time.sleep(STATS_REFRESH_S)
        run.es_cpu_s += (es_cpu_ms(es) - es_cpu) / 1000


def timed_each(run: Run, counter: Requests, items: list[Any], one: Callable[[Any], None]) -> None:
    counter.take()
    run.setup.append(time.perf_counter() - run.started)
    for item in items:
        t = time.perf_counter()
        one(item)
        run.lat.append(time.perf_counter() - t)
    run.requests.update(counter.take())
    run.items += len(items)


def spike_round(settings: Settings, now: datetime, run: Run, fired: dict[str, list[int]], r: int,
                failed: Counter[str]) -> None:
    """What ``run_spikes`` does (clients, the rules' read, every rule), each rule through ``evaluate_all``."""
    with measured(run, es_io.make_client(settings)), spike_context(settings) as ctx:  # node CPU: own client
        counter = Requests(ctx.es)
        subs = SubscriptionStore(ctx.es, settings.index("subscriptions")).with_spike()

        def one(sub: Subscription) -> None:
            summary = spike_run.evaluate_all(ctx, [sub], now)
            failed.update(summary.failed)
            if summary.actions.get(sub.name) == "fire":
                fired.setdefault(sub.id, []).append(r)

        timed_each(run, counter, subs, one)


def spike_bare(es: Any, counter: Requests, alias: str, subs: list[Subscription], now: datetime,  # noqa: ANN401
               count_run: Run, agg_run: Run) -> dict[str, int]:
    """The bare engine: per rule one ``_count`` of the last window, then one ``size=0`` range aggregation."""
    counts: dict[str, int] = {}

    def bare_count(sub: Subscription) -> None:
        assert sub.spike is not None
        start, end = windows(sub.spike, now)[0]
        query = series_query(sub, sub.spike)
        query["bool"]["filter"].append({"range": {"@timestamp": {"gte": start.isoformat(), "lt": end.isoformat()}}})
        counts[sub.id] = int(es.count(index=alias, query=query)["count"])

    def bare_agg(sub: Subscription) -> None:
        assert sub.spike is not None
        spans = windows(sub.spike, now)
        query = series_query(sub, sub.spike)
        query["bool"]["filter"].append({"range": {"@timestamp": {"gte": spans[-1][0].isoformat(),
                                                                  "lt": now.isoformat()}}})
        ranges = [{"from": a.isoformat(), "to": b.isoformat()} for a, b in spans]
        es.search(index=alias, query=query, size=0, aggs={"w": {"range": {"field": "@timestamp", "ranges": ranges}}})

    for run, one in ((count_run, bare_count), (agg_run, bare_agg)):
        with measured(run, es):
            timed_each(run, counter, subs, one)
    return counts


def health_round(settings: Settings, now: datetime, run: Run, changed: dict[int, set[str]], r: int,
                 failed: Counter[str]) -> None:
    """What ``run_source_health`` does (registry, feeds.state read, clients), the feeds through ``evaluate_all`` in
    its own batches (one multi-search and one multi-get per MEASURE_BATCH feeds); a feed's latency is its batch's
    time over the batch's size."""
    with measured(run, es_io.make_client(settings)), health_context(settings) as (ctx, polls):
        feeds = registry_feeds(settings)
        counter = Requests(ctx.es)
        size = source_health_run.MEASURE_BATCH
        batches = [feeds[i:i + size] for i in range(0, len(feeds), size)]

        def one(batch: list[tuple[str, str]]) -> None:
            summary = source_health_run.evaluate_all(ctx, batch, polls, now)
            changed.setdefault(r, set()).update(summary.changed)
            failed.update(summary.failed)

        timed_each(run, counter, batches, one)
        per_feed = [t / len(b) for t, b in zip(run.lat[-len(batches):], batches, strict=True)]
        run.lat[-len(batches):] = [t for t, b in zip(per_feed, batches, strict=True) for _ in b]
        run.items += len(feeds) - len(batches)  # timed_each counted batches


def health_bare(es: Any, counter: Requests, alias: str, feeds: list[tuple[str, str, str]], run: Run,  # noqa: ANN401
                ) -> None:
    """The bare engine: one plain ``_search size=0`` per feed."""
    with measured(run, es):
        timed_each(run, counter, feeds, lambda f: es.search(index=alias, query={"term": {"feed_id": f[0]}}, size=0))


def row(label: str, run: Run, unit: str) -> str:
    per = max(1, run.items)
    total = statistics.median(run.walls)
    per_round = run.items / len(run.walls)
    return (f"{label:<44} {total:8.2f} {per_round / total:9.1f} {percentile(run.lat, 50) * 1000:8.1f} "
            f"{percentile(run.lat, 95) * 1000:8.1f} {sum(run.requests.values()) / per:8.2f} "
            f"{run.cpu_s * 1000 / per:9.2f} {run.es_cpu_s * 1000 / per:9.2f}")


def per_kind(run: Run) -> str:
    return ", ".join(f"{c / run.items:.2f} {k}" for k, c in run.requests.most_common())


def header(unit: str) -> str:
    return (f"{'':<44} {'wall s':>8} {unit + '/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'req/' + unit[:-1]:>8} "
            f"{'CPU ms':>9} {'ES CPU ms':>9}")


def oracle_round(times: list[datetime], rule: SpikeRule, now: datetime) -> bool:
    counts = [sum(a <= t < b for t in times) for a, b in windows(rule, now)]
    return is_over(rule, Series(counts[0], tuple(counts[1:])))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stories", type=int, default=50_000)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--rules", type=int, default=500)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.days < 9:
        raise SystemExit("--days must be at least 9: the 24 h x 14 rules and the 7-day extraction baseline look back")
    configure_logging("INFO", "json")
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    registry = Path(tempfile.mkstemp(prefix=f"{prefix}-", suffix=".yaml")[1])
    settings = Settings(topic_prefix=prefix, index_prefix=prefix, feeds_file=registry,
                        source_health_subscription="bench-ops")
    print(f"load average at start: {load_average()}")
    es = es_io.make_client(settings).options(request_timeout=300)
    try:
        t0 = time.perf_counter()
        data = seed(args)
        bootstrap(settings, es)
        load(es, settings, data, registry)
        alias = settings.index("stories")
        per_index = {i: int(c["count"]) for i, c in ((n, es.count(index=n)) for n in sorted(es.indices.get(
            index=f"{prefix}-stories-*")))}
        roles = Counter(role for _, _, role in data.feeds)
        special = len(data.special) // 2
        print(f"seeded in {time.perf_counter() - t0:.0f} s under prefix {prefix}: {len(data.docs)} relevant stories "
              f"over {args.days} days ending {CLOCK:%Y-%m-%d %H:%M} UTC ({per_index}); {len(data.feeds)} feeds "
              f"({dict(roles)}); {len(data.subs)} spike rules ({special} surging, {special} flat, "
              f"{sum(1 for s in data.subs if s.spike and s.spike.entity_id)} on an entity)")

        subs = list(data.subs)
        counter = Requests(es)
        spike, bare_count, bare_agg = Run(), Run(), Run()
        fired: dict[str, list[int]] = {}
        failed: Counter[str] = Counter()
        mismatched: list[tuple[int, str, Any, int]] = []
        spike_clocks = [CLOCK + r * SPIKE_STEP for r in range(args.rounds)]
        for r, now in enumerate(spike_clocks):
            if r % 2:
                counts = spike_bare(es, counter, alias, subs, now, bare_count, bare_agg)
                spike_round(settings, now, spike, fired, r, failed)
            else:  # alternate, so neither always gets the warm caches
                spike_round(settings, now, spike, fired, r, failed)
                counts = spike_bare(es, counter, alias, subs, now, bare_count, bare_agg)
            stored = es.mget(index=settings.index("spike-state"), ids=[s.id for s in subs])["docs"]
            mismatched += [(r, d["_id"], d.get("_source", {}).get("last_count"), counts[d["_id"]]) for d in stored
                           if d.get("_source", {}).get("last_count") != counts[d["_id"]]]
            print(f"  spike round {r + 1} at {now:%H:%M}: {spike.walls[-1]:.2f} s, "
                  f"{sum(1 for v in fired.values() if r in v)} fired")

        health, bare_health = Run(), Run()
        changed: dict[int, set[str]] = {}
        health_clocks = [CLOCK + r * HEALTH_STEP for r in range(args.rounds)]
        for r, now in enumerate(health_clocks):
            if r % 2:
                health_bare(es, counter, alias, data.feeds, bare_health)
                health_round(settings, now, health, changed, r, failed)
            else:
                health_round(settings, now, health, changed, r, failed)
                health_bare(es, counter, alias, data.feeds, bare_health)
            print(f"  health round {r + 1} at {now:%H:%M}: {health.walls[-1]:.2f} s, "
                  f"{len(changed.get(r, ()))} incidents opened or recovered")

        print(f"\nspike evaluation: {len(subs)} rules x {args.rounds} rounds at "
              f"{', '.join(f'{c:%H:%M}' for c in spike_clocks)} UTC on 1 Nov 2026 (wall: median round; "
              "CPU: this process / the Elasticsearch node, per rule)")
        print(header("rules"))
        print(row("govwatch (state, search, decision, state)", spike, "rules"))
        print(row("bare _count of the last window", bare_count, "rules"))
        print(row("bare size=0 search, range agg of all windows", bare_agg, "rules"))
        print(f"govwatch per rule: requests {per_kind(spike)}; before the first rule (clients, Kafka producer, "
              f"reading the rules) {statistics.median(spike.setup) * 1000:.0f} ms")
        print(f"\nsource health evaluation: {len(data.feeds)} feeds x {args.rounds} rounds at "
              f"{', '.join(f'{c:%H:%M}' for c in health_clocks)} UTC (wall: median round, with the feeds.state read)")
        print(header("feeds"))
        print(row("govwatch (batched search + state read, writes)", health, "feeds"))
        print(row("bare _search size=0 per feed", bare_health, "feeds"))
        print(f"govwatch per feed: requests {per_kind(health)}; before the first feed (registry, reading feeds.state "
              f"to its end, clients) {statistics.median(health.setup) * 1000:.0f} ms")

        spike_rate = len(subs) / statistics.median(spike.walls)
        health_rate = len(data.feeds) / statistics.median(health.walls)
        print(f"\none sequential evaluation per interval: GOVWATCH_SPIKE_INTERVAL_S=300 fits ~{spike_rate * 300:,.0f} "
              f"rules ({len(subs)} take {len(subs) / spike_rate / 300:.1%} of it); "
              f"GOVWATCH_SOURCE_HEALTH_INTERVAL_S=600 fits ~{health_rate * 600:,.0f} feeds ({len(data.feeds)} take "
              f"{len(data.feeds) / health_rate / 600:.1%} of it)")
        wall = statistics.median
        print(f"overhead over the bare engine (median round): spikes {wall(spike.walls) / wall(bare_count.walls):.1f}x "
              f"the bare _count, {wall(spike.walls) / wall(bare_agg.walls):.1f}x the bare range agg; health "
              f"{wall(health.walls) / wall(bare_health.walls):.1f}x the bare search")

        # Correctness (not speed)
        expect = {sid: next((r for r, c in enumerate(spike_clocks) if oracle_round(times, SURGE, c)), None)
                  for sid, times in data.special.items()}
        surge_ok = sum(1 for sid, r in expect.items() if sid.startswith("surge") and fired.get(sid) == [r])
        flat_fired = sum(1 for sid in expect if sid.startswith("flat") and sid in fired)
        oracle_fires = sum(1 for sid, r in expect.items() if sid.startswith("surge") and r is not None)
        background = sorted(sid for sid in fired if sid not in expect)
        twice = sorted(sid for sid, rounds in fired.items() if len(rounds) > 1)
        print(f"\ncorrect? surging rules that fired exactly once, in the oracle's round: {surge_ok} of {special} "
              f"(the oracle says {oracle_fires} cross the threshold); flat rules that fired: {flat_fired} of "
              f"{special}; "
              f"background rules that fired: {len(background)} {background[:5]}; rules that fired twice: {len(twice)}; "
              f"stored last count different from the bare _count: {len(mismatched)} of {len(subs) * args.rounds} "
              f"{mismatched[:3]}; evaluation failures: {sum(failed.values())} {dict(list(failed.items())[:3])}")
        want = {f"open: {fid} {kind}" for fid, _, role in data.feeds
                for r_, kind in (("failing", "failing"), ("silent", "silent"), ("drift", "extraction")) if role == r_}
        first = changed.get(0, set())
        later = set().union(*(changed.get(r, set()) for r in range(1, args.rounds)))
        print(f"correct? health incidents opened in round 1: {len(first & want)} of the {len(want)} seeded, "
              f"{len(first - want)} others {sorted(first - want)[:5]}; missing {sorted(want - first)[:5]}; "
              f"opened or recovered in later rounds: {len(later)} {sorted(later)[:5]}")
        print(f"load average at end: {load_average()}")
        return 0
    finally:
        teardown(settings, es)
        registry.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
