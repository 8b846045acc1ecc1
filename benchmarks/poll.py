"""Poll benchmark: 1,000 feeds served on 127.0.0.1, the real Poller against the real broker and Elasticsearch.

    python benchmarks/poll.py [--feeds 1000] [--concurrency 16] [--no-flow]

Each feed gets its own host name (feed<i>.localtest, mapped to 127.0.0.1 by a resolver injected into the
Fetcher, which still enforces the SSRF guard with GOVWATCH_SSRF_ALLOWLIST=127.0.0.1/32), so per-host politeness
stays on (one request at a time per host, spacing 1 s) without serialising the run. Round 1 = first poll (all
changed); round 2 = a mix: half the feeds answer 304, half gained 2 entries. Baseline: plain httpx GET +
feedparser of the same feeds on the same thread count, no Kafka/ES. Uses its own topic/index prefix; cleans up.
The feed server runs in its own process, as publishers' servers do, so its CPU does not share the poller's GIL.

Printed per round: feeds/s, stories/s, p95 per-feed latency, and the poller's CPU split by component (thread CPU
time of the calls into each adapter, measured by wrapping them here; parse = the parse workers' own CPU plus the
poller's side of the hand-off; "kafka I/O thread + other" = the process CPU no poll thread accounted for). The
cold round's ratio to the baseline is the goal (>= 0.90). Peak RSS: the polling process (this one, before the
baseline runs in it) and each parse worker. Last, a cold round through the Prefect flow itself (one task per
chunk of feeds), in a child process on fresh topics, with that process's CPU and peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import feedparser
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from feedserver import FeedServer, Route  # noqa: E402

from govwatch.adapters.bootstrap import bootstrap, teardown  # noqa: E402
from govwatch.feeds.parser_pool import ParserPool  # noqa: E402
from govwatch.feeds.poller import poll_all  # noqa: E402
from govwatch.settings import Settings  # noqa: E402
from govwatch.wiring.poll import build_runtime  # noqa: E402

ITEMS = 20


def rss(i: int, first: int, count: int) -> bytes:
    items = "".join(
        f"<item><title>Feed {i} story {n}: AI Act update</title><link>https://news{i}.example/story/{n}?utm_source=rss</link>"
        f"<guid>feed{i}-{n}</guid><pubDate>Mon, 0{1 + n % 9} Sep 2025 1{n % 10}:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Summary of story {n} about AI governance.&lt;/p&gt;</description></item>"
        for n in range(first + count - 1, first - 1, -1))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {i}</title>'
            f"<link>https://news{i}.example/</link>{items}</channel></rss>").encode()


class CpuMeter:
    """Thread CPU seconds spent inside wrapped callables, by component (a call inside another is not subtracted:
    wrap only disjoint calls)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self._lock = threading.Lock()

    def wrap(self, name: str, fn):  # noqa: ANN001, ANN201 - any callable
        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            started, wall = time.thread_time(), time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                spent, waited = time.thread_time() - started, time.monotonic() - wall
                with self._lock:
                    self.seconds[name] = self.seconds.get(name, 0.0) + spent
                    self.wall[name] = self.wall.get(name, 0.0) + waited
        return timed

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.wall = {}, {}


def process_cpu(pid: int | None = None) -> float:
    """utime + stime of a process (this one by default), in seconds."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers_cpu(parser: ParserPool) -> float:
    total = 0.0
    for pid in parser.worker_pids():
        with contextlib.suppress(OSError):  # a worker replaced mid-round: its CPU is lost to the split, not to the run
            total += process_cpu(pid)
    return total


SERVERS = {"Elasticsearch": "org.elasticsearch.bootstrap.Elasticsearch", "Kafka": "kafka.Kafka "}


def server_pids() -> dict[str, int]:
    """The local stack's server processes (read from /proc; they are shared with whatever else runs)."""
    found: dict[str, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for name, marker in SERVERS.items():
            if marker in cmdline:
                found[name] = int(proc.name)
    return found


def servers_cpu(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = process_cpu(pid)
        except OSError:
            out[name] = 0.0
    return out


def instrument(runtime, meter: CpuMeter) -> None:  # noqa: ANN001 - a PollRuntime
    """Wrap the poller's adapters so each call's thread CPU lands in its component."""
    poller = runtime.poller
    poller.fetcher.fetch = meter.wrap("fetch (httpx, SSRF guard)", poller.fetcher.fetch)
    poller.parser.parse = meter.wrap("parse: hand-off to worker (poller side)", poller.parser.parse)
    poller.stories_from = meter.wrap("stories: identity + RawStory", poller.stories_from)
    poller.published_ids.already_published = meter.wrap("dedupe lookup (ES mget)",
                                                        poller.published_ids.already_published)
    poller.publisher.publish = meter.wrap("publish (serialise, Kafka send, ack wait)", poller.publisher.publish)
    poller.published_ids.record = meter.wrap("ledger record (ES bulk create)", poller.published_ids.record)
    poller.states.put = meter.wrap("feed state (Kafka send, ack wait)", poller.states.put)
    poller.poll_feed = meter.wrap("poll thread total", poller.poll_feed)


def print_split(meter: CpuMeter, process_s: float, workers_s: float, feeds: int,
                servers: dict[str, float]) -> None:
    seconds = dict(meter.seconds)
    threads = seconds.pop("poll thread total", 0.0)
    parts = dict(seconds)
    parts["poll thread, outside the adapters (poller logic, logging)"] = threads - sum(seconds.values())
    parts["kafka I/O thread + other threads"] = process_s - threads
    parts["parse workers (feedparser + clean_text, own processes)"] = workers_s
    total = process_s + workers_s
    print(f"    CPU: {total:.1f} s = {total / feeds * 1000:.1f} ms per feed (poller process {process_s:.1f} s, "
          f"parse workers {workers_s:.1f} s)")
    print(f"      {'component':<58} {'CPU s':>6}   {'ms/feed':>6} {'share':>6}  wall in call, ms/feed")
    for name, value in sorted(parts.items(), key=lambda kv: -kv[1]):
        wall = meter.wall.get(name)
        print(f"      {name:<58} {value:6.2f} s {value / feeds * 1000:6.2f} ms {value / total * 100:5.1f}%"
              + (f"  {wall / feeds * 1000:8.1f}" if wall is not None else ""))
    for name, value in servers.items():
        print(f"      [not in the total] {name} server process (shared machine): {value:.2f} s, "
              f"{value / feeds * 1000:.2f} ms/feed")
    print(f"      {'(a poll thread, whole feed)':<58} {'':>6}   {'':>6} {'':>6}  "
          f"{meter.wall.get('poll thread total', 0.0) / feeds * 1000:8.1f}")


# The Prefect flow as `govwatch poll --once` runs it, in a child process of its own (its CPU and peak RSS are
# its own), with the benchmark's resolver: build_runtime's default resolver is swapped for the child only.
FLOW_CHILD = """
import json, resource, sys, time
import logging, structlog
logging.disable(logging.INFO)
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
import govwatch.wiring.poll as runtime
runtime.build_runtime.__defaults__ = (lambda host, port: ["127.0.0.1"], None)
from govwatch.commands.poll import load_flow_module
flow = load_flow_module()
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
started, before = time.monotonic(), cpu()
result = flow.poll_feeds(force=True, overrides=json.loads(sys.argv[1]))
elapsed, run_cpu = time.monotonic() - started, cpu() - before
# the flow closed its runtime, whose parser pool reaped the workers: their CPU counts in RUSAGE_CHILDREN
usage = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"elapsed_s": elapsed, "run_cpu_s": run_cpu, "polled": result["polled"],
                  "new_stories": result["new_stories"], "errors": result["errors"],
                  "cpu_s": usage.ru_utime + usage.ru_stime, "workers_cpu_s": children.ru_utime + children.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def flow_round(feeds: int, port: int, concurrency: int, registry: Path) -> str:
    """A cold round (fresh topics and ledger index) through the Prefect flow; one summary line. The server
    already serves round two's bodies, so half the feeds carry 22 entries."""
    prefix = f"benchflow{uuid.uuid4().hex[:8]}"
    overrides = {"topic_prefix": prefix, "index_prefix": prefix, "feeds_file": str(registry),
                 "ssrf_allowlist": ["127.0.0.1/32"], "poll_concurrency": concurrency}
    settings = Settings(**overrides)
    bootstrap(settings)
    try:
        env = dict(os.environ, PREFECT_API_URL=settings.prefect_api_url, PREFECT_LOGGING_LEVEL="WARNING",
                   PREFECT_LOGGING_TO_API_ENABLED="false")
        out = subprocess.run([sys.executable, "-c", FLOW_CHILD, json.dumps(overrides)], env=env, check=True,
                             capture_output=True, text=True, timeout=900).stdout
        r = json.loads(out.strip().splitlines()[-1])
    finally:
        teardown(settings)
    cpu = r["run_cpu_s"] + r["workers_cpu_s"]
    return (f"  cold round via the Prefect flow (own process, Prefect server {settings.prefect_api_url}): "
            f"{r['polled'] / r['elapsed_s']:7.1f} feeds/s "
            f"({r['new_stories']} stories, errors {r['errors'] or 'none'}), "
            f"{r['elapsed_s']:.1f}s; CPU {cpu / r['polled'] * 1000:.1f} ms per feed (flow run {r['run_cpu_s']:.1f} s, "
            f"parse workers {r['workers_cpu_s']:.1f} s; the process in all {r['cpu_s']:.1f} s with imports and "
            "start-up); "
            f"peak RSS of the flow process {r['peak_rss_mb']:.0f} MB")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def baseline(urls: list[str], concurrency: int, resolve_port: int) -> float:
    transport = httpx.HTTPTransport()
    with httpx.Client(transport=transport, trust_env=False) as client:
        def one(url: str) -> int:
            host = url.split("/")[2].split(":")[0]
            body = client.get(url.replace(host, "127.0.0.1"), headers={"Host": f"{host}:{resolve_port}"}).content
            return len(feedparser.parse(body).entries)

        started = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, urls))
        return time.monotonic() - started


def baseline_cpu(urls: list[str], concurrency: int, resolve_port: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of the baseline."""
    cpu = process_cpu()
    took = baseline(urls, concurrency, resolve_port)
    return took, process_cpu() - cpu


def serve_feeds(feeds: int, ready: mp.Queue, round_two, stop) -> None:  # noqa: ANN001 - mp events
    """Child process: serve the feeds; after ``round_two`` is set, even feeds carry 2 more entries."""
    with FeedServer() as server:
        for i in range(feeds):
            server.routes[f"/f{i}"] = Route(rss(i, 0, ITEMS), etag=f'"{i}-a"',
                                            headers={"Content-Type": "application/rss+xml"})
        ready.put(server.port)
        round_two.wait()
        for i in range(0, feeds, 2):
            route = server.routes[f"/f{i}"]
            route.body, route.etag = rss(i, 0, ITEMS + 2), f'"{i}-b"'
        ready.put("round two")
        stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-flow", action="store_true", help="skip the cold round through the Prefect flow")
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    import logging

    logging.disable(logging.INFO)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    ready: mp.Queue = mp.Queue()
    round_two = mp.Event()
    stop = mp.Event()
    server_proc = mp.Process(target=serve_feeds, args=(args.feeds, ready, round_two, stop), daemon=True)
    server_proc.start()
    port = ready.get(timeout=60)
    try:
        registry = Path(f"/tmp/{prefix}-feeds.yaml")
        lines = ["feeds:"]
        for i in range(args.feeds):
            lines.append(f'  - {{id: feed-{i}, name: "Feed {i}", url: "http://feed{i}.localtest:{port}/f{i}", '
                         "kind: news, language: en, needs_relevance_filter: true}")
        registry.write_text("\n".join(lines) + "\n")
        settings = Settings(topic_prefix=prefix, index_prefix=prefix, feeds_file=registry,
                            ssrf_allowlist=["127.0.0.1/32"], poll_concurrency=args.concurrency)
        bootstrap(settings)
        try:
            runtime = build_runtime(settings, resolver=lambda host, port: ["127.0.0.1"])
            meter, pids = CpuMeter(), server_pids()
            instrument(runtime, meter)
            rates = []
            try:
                print(f"poll benchmark: {args.feeds} feeds x {ITEMS} items, concurrency {args.concurrency}, "
                      "distinct host per feed (injected resolver), host spacing on")
                for label in ("round 1 (all changed)", "round 2 (50% 304, 50% +2 entries)"):
                    if label.startswith("round 2"):
                        round_two.set()
                        ready.get(timeout=60)  # the server has swapped the even feeds' bodies
                    meter.reset()
                    cpu, wcpu, scpu = process_cpu(), workers_cpu(runtime.poller.parser), servers_cpu(pids)
                    summary, outcomes = poll_all(runtime.poller, runtime.feeds, args.concurrency)
                    cpu, wcpu = process_cpu() - cpu, workers_cpu(runtime.poller.parser) - wcpu
                    scpu = {name: value - scpu[name] for name, value in servers_cpu(pids).items()}
                    lat = [o.elapsed_s for o in outcomes]
                    rates.append(summary.feeds_polled / summary.elapsed_s)
                    print(f"  {label}: {rates[-1]:7.1f} feeds/s, "
                          f"{summary.new_stories / summary.elapsed_s:8.1f} stories/s published "
                          f"({summary.new_stories} stories, {summary.not_modified} not-modified, "
                          f"errors {dict(summary.errors) or 'none'}), p95 per-feed latency {p95(lat) * 1000:.0f} ms, "
                          f"{summary.elapsed_s:.1f}s")
                    print_split(meter, cpu, wcpu, summary.feeds_polled, scpu)
                workers = [peak_rss_mb(pid) for pid in runtime.poller.parser.worker_pids()]
                print(f"  peak RSS: polling process {peak_rss_mb():.0f} MB, parse workers "
                      f"{', '.join(f'{w:.0f}' for w in workers) or '-'} MB")
            finally:
                runtime.close()
            urls = [f.url for f in runtime.feeds]
            took, cpu = baseline_cpu(urls, args.concurrency, port)
            print(f"  baseline (httpx GET + feedparser, no Kafka/ES, no state): {len(urls) / took:7.1f} feeds/s, "
                  f"{took:.1f}s, CPU {cpu / len(urls) * 1000:.1f} ms per feed")
            print(f"  ratio cold round / baseline: {rates[0] / (len(urls) / took):.2f} (goal >= 0.90); "
                  f"steady round / baseline: {rates[1] / (len(urls) / took):.2f}")
            if not args.no_flow:
                print(flow_round(args.feeds, port, args.concurrency, registry))
            print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
                  f"({os.cpu_count()} CPUs)")
        finally:
            teardown(settings)
            registry.unlink(missing_ok=True)
    finally:
        stop.set()
        server_proc.join(timeout=10)


if __name__ == "__main__":
    main()
