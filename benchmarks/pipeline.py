"""End-to-end throughput of the enrich + index consumers on the real broker and Elasticsearch.

    python benchmarks/pipeline.py [--stories 500] [--enrich-procs 2] [--pages DIR] [--timeout SECONDS]

Needs the local stack (`govwatch stack up`). Under a private topic/index prefix (``bench<random>``) it
bootstraps the layout, starts ``consumers/enrich.py`` x ``--enrich-procs`` and ``consumers/index.py`` x 1 as
real processes, waits until their consumer groups are stable, then produces N RawStory messages whose URLs
point at a local threaded HTTP server serving the Zyte benchmark pages (cycled; gzip-encoded, as news sites
serve them), and waits until each of the N story ids has appeared in the "indexed" topic (or in a stage's
dead-letter topic: those are reported, and not counted as throughput).

Reported: stories/s from the first raw message produced to the Kafka timestamp of the "indexed" message
that completed the set; per-stage p50/p95 latency from the traces in the IndexedBatch messages; peak RSS
(VmHWM) of each consumer; per-stage batch figures from the consumers' JSON logs; and, in the same run after
the consumers have stopped (so it has the CPUs to itself), bare single-process ``trafilatura.extract`` over
the same N pages, with the ratio pipeline stories/s / bare pages/s, the enrich processes' CPU per story against
bare extraction's CPU per page (goal <= 1.3), and where the enrich CPU went: the per-component split the stage
logs per batch (``enrich_cpu``, govwatch.enrich.cpusplit). Topics, indices, the index template and
the consumer groups are deleted afterwards; the consumer logs are kept and their directory printed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trafilatura
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CoordinatorNotAvailableError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    REPO_ROOT,
    Page,
    cpu_seconds,
    load_average,
    load_pages,
    machine_cpu,
    percentile,
    serve_pages,
    vm_hwm_mb,
)

from govwatch.adapters import kafka_io
from govwatch.adapters.bootstrap import bootstrap, teardown
from govwatch.adapters.kafka_topics import ENRICHED, INDEXED, RAW, dlq
from govwatch.identity import story_id
from govwatch.models import DeadLetter, IndexedBatch, RawStory, Trace, utcnow
from govwatch.settings import Settings

DEFAULT_PAGES = REPO_ROOT.parent / "shared" / "eval-data" / "extraction" / "scrapinghub-aeb" / "html"
GOAL_STORIES_PER_S = 50.0  # the goals
GOAL_RATIO = 1.0
GOAL_CPU_RATIO = 1.3  # enrich CPU per story <= 1.3x bare extraction's CPU per page
GOAL_RSS_MB = 300.0  # each consumer process
READY_TIMEOUT_S = 120.0  # consumer start-up: imports, gazetteer load, group join
STOP_TIMEOUT_S = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=500, help="stories to push through (default 500)")
    parser.add_argument("--enrich-procs", type=int, default=2, help="enrich consumer processes (default 2)")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="directory of *.html.gz pages")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for all stories "
                        "(default max(120, stories/2))")
    return parser.parse_args()


# --- consumers --------------------------------------------------------------------------------------------

def start_consumer(settings: Settings, name: str, log_path: Path) -> subprocess.Popen:
    """``consumers/<name>.py`` as a real process with the benchmark's prefixes in its environment."""
    env = {**os.environ,
           "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
           "GOVWATCH_SSRF_ALLOWLIST": ",".join(settings.ssrf_allowlist), "GOVWATCH_LOG_FORMAT": "json"}
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, str(REPO_ROOT / "consumers" / f"{name}.py")], env=env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)


def check_alive(procs: list[tuple[str, subprocess.Popen, Path]]) -> None:
    for name, proc, log in procs:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{name} (pid {proc.pid}) exited with {proc.returncode}; log tail:\n{tail}")


def wait_until_ready(settings: Settings, expected: dict[str, int], procs: list) -> float:
    """Wait until each consumer group is Stable with its expected members; returns the seconds it took."""
    admin = kafka_io.admin_client(settings.kafka_bootstrap)
    started = time.monotonic()
    try:
        while True:
            check_alive(procs)
            try:
                groups = admin.describe_groups(list(expected))
            except CoordinatorNotAvailableError:  # the group coordinator is still being elected: not ready yet
                groups = {}
            if all(_stable_members(groups.get(g)) == n for g, n in expected.items()):
                return time.monotonic() - started
            if time.monotonic() - started > READY_TIMEOUT_S:
                raise SystemExit(f"consumer groups not stable after {READY_TIMEOUT_S}s: {groups}")
            time.sleep(0.25)
    finally:
        admin.close()


def _stable_members(group: dict | None) -> int:
    if not group or group.get("group_state") != "Stable":
        return -1
    return len(group.get("members") or [])


def stop_consumers(procs: list[tuple[str, subprocess.Popen, Path]]) -> None:
    for _, proc, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the loop finishes its batch and leaves the group
    for _, proc, _ in procs:
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- producing and collecting -----------------------------------------------------------------------------

def raw_story(base_url: str, n: int, page: Page) -> RawStory:
    url = f"{base_url}/p/{n}/{page.key}.html"
    return RawStory(story_id=story_id(url), url=url, feed_id="bench", feed_url=f"{base_url}/feed.xml",
                    source="Benchmark", trace=Trace(first_seen_at=utcnow()))


def produce_raw(settings: Settings, base_url: str, pages: list[Page], n: int) -> tuple[float, set[str]]:
    """Produce N raw stories; returns (wall-clock time of the first send, the story ids)."""
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    try:
        stories = []
        started = time.time()
        futures = []
        for i in range(n):
            story = raw_story(base_url, i, pages[i % len(pages)])
            stories.append(story.story_id)
            futures.append(producer.send(settings.topic(RAW), key=story.story_id.encode(), value=story.to_bytes()))
        for fut in futures:
            fut.get(timeout=30)
        return started, set(stories)
    finally:
        producer.close()


def outcome_reader(settings: Settings) -> KafkaConsumer:
    """A group-less reader of the "indexed" topic and the stage DLQs, positioned before anything is produced."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                             client_id=f"bench-reader-{uuid.uuid4().hex[:6]}")
    topics = [settings.topic(INDEXED), settings.topic(dlq(RAW)), settings.topic(dlq(ENRICHED))]
    parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or [])]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    return consumer


def collect_outcomes(reader: KafkaConsumer, wanted: set[str], deadline: float,
                     procs: list) -> tuple[dict[str, tuple[Trace, float]], set[str], int]:
    """Until every wanted story is indexed or dead-lettered: story id -> (trace, Kafka timestamp in s) of its
    first "indexed" message, the dead-lettered ids, and the count of replayed duplicates."""
    seen: dict[str, tuple[Trace, float]] = {}
    dead: set[str] = set()
    duplicates = 0
    while not wanted <= seen.keys() | dead:
        check_alive(procs)
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {len(wanted & seen.keys())}/{len(wanted)} stories indexed, "
                             f"{len(dead)} dead-lettered; see the consumer logs")
        for tp, recs in reader.poll(timeout_ms=200).items():
            for rec in recs:
                if tp.topic.endswith(".dlq"):
                    dead.add(DeadLetter.from_bytes(rec.value).story_id or "")
                    continue
                for story in IndexedBatch.from_bytes(rec.value).stories:
                    if story.story_id in seen:
                        duplicates += 1
                    else:
                        seen[story.story_id] = (story.trace, rec.timestamp / 1000)
    return seen, dead & wanted, duplicates


# --- measurements -----------------------------------------------------------------------------------------

def latency_rows(seen: dict[str, tuple[Trace, float]]) -> list[tuple[str, list[float]]]:
    def secs(a: datetime | None, b: datetime | None) -> float | None:
        return (b - a).total_seconds() if a and b else None

    rows: dict[str, list[float]] = {"first_seen -> enriched": [], "enriched -> indexed": [],
                                    "first_seen -> indexed": [], "first_seen -> indexed msg": []}
    for trace, ts in seen.values():
        msg_at = datetime.fromtimestamp(ts, UTC)
        for label, value in (("first_seen -> enriched", secs(trace.first_seen_at, trace.enriched_at)),
                             ("enriched -> indexed", secs(trace.enriched_at, trace.indexed_at)),
                             ("first_seen -> indexed", secs(trace.first_seen_at, trace.indexed_at)),
                             ("first_seen -> indexed msg", secs(trace.first_seen_at, msg_at))):
            if value is not None:
                rows[label].append(value)
    return list(rows.items())


def batch_figures(log_path: Path) -> tuple[int, int, list[float]]:
    """(batches, records, per-batch elapsed ms) from a consumer's ``batch_done`` canonical lines."""
    batches = records = 0
    elapsed: list[float] = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "batch_done":
            batches += 1
            records += event.get("size", 0)
            elapsed.append(float(event.get("elapsed_ms", 0.0)))
    return batches, records, elapsed


def cpu_components(log_path: Path) -> dict[str, float]:
    """Component -> CPU ms summed over a consumer's ``enrich_cpu`` lines (govwatch.enrich.cpusplit)."""
    totals: dict[str, float] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "enrich_cpu":
            for component, ms in event.get("cpu_ms", {}).items():
                totals[component] = totals.get(component, 0.0) + float(ms)
    return totals


def bare_trafilatura(pages: list[Page], n: int) -> tuple[float, float]:
    """(pages/s, CPU ms per page) of ``trafilatura.extract(html)`` over the same N pages, one process, no network."""
    htmls = [pages[i % len(pages)].html for i in range(n)]
    trafilatura.extract(htmls[0])  # its lazy loads, as the consumers' warm-up does them
    started, cpu_started = time.perf_counter(), time.thread_time()
    for html in htmls:
        trafilatura.extract(html)
    return n / (time.perf_counter() - started), (time.thread_time() - cpu_started) * 1000 / n


def cleanup(settings: Settings, groups: list[str]) -> list[str]:
    """Delete the benchmark's indices, template, topics and consumer groups; say what went."""
    names, topics = teardown(settings, groups=groups)
    return [f"{len(names)} indices + template", f"{len(topics)} topics + {len(groups)} consumer groups"]


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _per(cpu_s: float | None, records: int) -> float:
    return cpu_s * 1000 / records if cpu_s is not None and records else float("nan")


def verdict(value: float, goal: float) -> str:
    return f"goal >= {goal:g}: {'MET' if value >= goal else 'NOT MET'}"


@dataclass
class Measured:
    """What one pipeline run produced, before the bare-trafilatura comparison."""

    n: int
    ready_s: float
    produced_s: float
    wall_s: float
    duplicates: int
    dead: set[str]
    seen: dict[str, tuple[Trace, float]]
    rss_mb: dict[str, float | None]
    cpu_s: dict[str, float | None]
    machine_busy: float
    own_cpu_s: float | None

    @property
    def rate(self) -> float:
        return len(self.seen) / self.wall_s


def run_pipeline(settings: Settings, pages: list[Page], n: int, procs: list, log_dir: Path, enrich_procs: int,
                 timeout: float) -> Measured:
    """Start the consumers (appended to ``procs`` so the caller can stop them), push N stories, measure."""
    groups = {f"{settings.topic_prefix}.enrich": enrich_procs, f"{settings.topic_prefix}.index": 1}
    bootstrap(settings)
    with serve_pages(pages) as base_url:
        for name, count in (("enrich", enrich_procs), ("index", 1)):
            for i in range(count):
                log = log_dir / f"{name}-{i}.log"
                procs.append((f"{name}-{i}", start_consumer(settings, name, log), log))
        ready_s = wait_until_ready(settings, groups, procs)
        cpu_start = {name: cpu_seconds(proc.pid) for name, proc, _ in procs}
        machine_start, own_start = machine_cpu(), cpu_seconds(os.getpid())
        reader = outcome_reader(settings)
        try:
            t0, wanted = produce_raw(settings, base_url, pages, n)
            produced_s = time.time() - t0
            seen, dead, duplicates = collect_outcomes(reader, wanted, time.monotonic() + timeout, procs)
        finally:
            reader.close()
        rss = {name: vm_hwm_mb(proc.pid) for name, proc, _ in procs}  # VmHWM vanishes with the process
        cpu = {name: _minus(cpu_seconds(proc.pid), cpu_start[name]) for name, proc, _ in procs}
        machine_end, own_end = machine_cpu(), cpu_seconds(os.getpid())
    busy, total = machine_end[0] - machine_start[0], machine_end[1] - machine_start[1]
    return Measured(n=n, ready_s=ready_s, produced_s=produced_s, wall_s=max(ts for _, ts in seen.values()) - t0,
                    duplicates=duplicates, dead=dead, seen=seen, rss_mb=rss, cpu_s=cpu,
                    machine_busy=busy / total if total else float("nan"), own_cpu_s=_minus(own_end, own_start))


def print_pipeline(m: Measured, procs: list) -> None:
    print(f"\nconsumers ready after {m.ready_s:.1f}s; {m.n} raw stories produced in {m.produced_s:.2f}s")
    replays = f"  ({m.duplicates} replayed duplicates)" if m.duplicates else ""
    if m.dead:
        replays += f"  ({len(m.dead)} dead-lettered, not indexed: see the consumer logs)"
    print(f"end to end: {len(m.seen)} stories in {m.wall_s:.2f}s = {m.rate:.1f} stories/s   "
          f"[{verdict(m.rate, GOAL_STORIES_PER_S)}]{replays}")
    print("\nlatency (s)                      p50      p95      max")
    for label, values in latency_rows(m.seen):
        print(f"  {label:<28} {percentile(values, 50):7.2f}  {percentile(values, 95):7.2f}  "
              f"{max(values, default=float('nan')):7.2f}")
    print("  (trace.indexed_at is stamped before the bulk request; 'indexed msg' is the Kafka timestamp of the\n"
          "   IndexedBatch message, sent after refresh=wait_for returned)")
    print("\nconsumer               peak RSS   batches  mean size  batch ms p50/p95   ms/story  busy  CPU ms/story")
    for name, _, log in procs:
        batches, records, elapsed = batch_figures(log)
        hwm = m.rss_mb[name]
        print(f"  {name:<18} {hwm if hwm is not None else float('nan'):7.0f} MiB  {batches:7d}  "
              f"{records / batches if batches else 0:9.1f}  "
              f"{percentile(elapsed, 50):7.0f}/{percentile(elapsed, 95):<7.0f}  "
              f"{sum(elapsed) / records if records else float('nan'):8.1f}  {sum(elapsed) / 1000 / m.wall_s:4.0%}  "
              f"{_per(m.cpu_s[name], records):10.1f}")
    print("  (busy = time inside batches / end-to-end wall time; CPU = user+system CPU of the process\n"
          "   while the stories flowed, per story it handled)")
    rss_verdicts = [f"{name} {m.rss_mb[name]:.0f}" for name, _, _ in procs if m.rss_mb[name] is not None]
    worst = max((m.rss_mb[name] or 0.0 for name, _, _ in procs), default=float("nan"))
    print(f"peak RSS per consumer (MiB): {', '.join(rss_verdicts)}   "
          f"[goal <= {GOAL_RSS_MB:g} each: {'MET' if worst <= GOAL_RSS_MB else 'NOT MET'}]")
    print(f"machine CPU busy while the stories flowed: {m.machine_busy:.0%} of all cores "
          "(consumers + broker + Elasticsearch + page server + anything else on the host)")
    print(f"this process (page server, producer, reader): {_per(m.own_cpu_s, m.n):.1f} CPU ms/story")


def print_cpu_split(m: Measured, procs: list, bare_cpu_ms: float) -> None:
    """Enrich CPU per story against bare extraction's, and where it went (all enrich processes together)."""
    enrich = [(name, log) for name, _, log in procs if name.startswith("enrich")]
    stories = sum(batch_figures(log)[1] for _, log in enrich)
    process_ms = sum((m.cpu_s[name] or 0.0) * 1000 for name, _ in enrich)
    if not stories:
        return
    per_story = process_ms / stories
    cpu_ratio = per_story / bare_cpu_ms
    print(f"enrich CPU per story / bare extraction CPU per page: {per_story:.1f} / {bare_cpu_ms:.1f} = "
          f"{cpu_ratio:.2f}   [goal <= {GOAL_CPU_RATIO:g}: {'MET' if cpu_ratio <= GOAL_CPU_RATIO else 'NOT MET'}]")
    totals: dict[str, float] = {}
    for _, log in enrich:
        for component, ms in cpu_components(log).items():
            totals[component] = totals.get(component, 0.0) + ms
    booked = sum(totals.values())
    # Everything the stage's own timers do not see: the loop's poll and commit (Kafka consume), kafka-python's
    # I/O threads (produce and fetch on the wire), the loop's logging, garbage collection.
    totals["other: kafka consume/poll, client I/O threads, loop"] = process_ms - booked
    print("\nenrich CPU split (thread CPU per component, both processes)   ms/story   share   x bare extraction")
    for component, ms in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {component:<58} {ms / stories:8.2f}  {ms / process_ms:6.1%}   {ms / stories / bare_cpu_ms:5.2f}")
    print(f"  {'(process CPU)':<58} {per_story:8.2f}")
    print("  (fetch = the fetch threads' CPU; model = building the pydantic message; serialise = to_bytes;\n"
          "   kafka_produce = send() + waiting for the acks; deserialise = decoding the raw records)")


def main() -> int:
    args = parse_args()
    pages = load_pages(args.pages)
    n = args.stories
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(topic_prefix=prefix, index_prefix=prefix, ssrf_allowlist=["127.0.0.1/32"])
    log_dir = Path(tempfile.mkdtemp(prefix=f"govwatch-{prefix}-"))
    print(f"pipeline benchmark: {n} stories over {len(pages)} pages from {args.pages}")
    print(f"  prefix {prefix}, enrich procs {args.enrich_procs}, index procs 1, fetch_workers "
          f"{settings.fetch_workers}, load average {load_average()}")
    procs: list[tuple[str, subprocess.Popen, Path]] = []
    try:
        measured = run_pipeline(settings, pages, n, procs, log_dir, args.enrich_procs,
                                args.timeout or max(120.0, n / 2))
        stop_consumers(procs)
        print_pipeline(measured, procs)
        print(f"\nbare trafilatura.extract, 1 process, same {n} pages (consumers stopped) ...", flush=True)
        bare, bare_cpu_ms = bare_trafilatura(pages, n)
        ratio = measured.rate / bare
        print(f"  {bare:.1f} pages/s, {bare_cpu_ms:.1f} CPU ms/page")
        print(f"ratio pipeline / bare: {measured.rate:.1f} / {bare:.1f} = {ratio:.2f}   [{verdict(ratio, GOAL_RATIO)}]")
        print_cpu_split(measured, procs, bare_cpu_ms)
        print(f"\nload average after: {load_average()}; consumer logs in {log_dir}")
    finally:
        stop_consumers(procs)
        for line in cleanup(settings, [f"{prefix}.enrich", f"{prefix}.index"]):
            print(f"cleaned up: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
