"""Poll benchmark: 1,000 feeds served on 127.0.0.1, the real Poller against the real broker and Elasticsearch.

    /tmp/gwvenv/bin/python benchmarks/poll.py [--feeds 1000] [--concurrency 16]

Each feed gets its own host name (feed<i>.localtest, mapped to 127.0.0.1 by a resolver injected into the
Fetcher, which still enforces the SSRF guard with GOVWATCH_SSRF_ALLOWLIST=127.0.0.1/32), so per-host politeness
stays on (one request at a time per host, spacing 1 s) without serialising the run. Round 1 = first poll (all
changed); round 2 = a mix: half the feeds answer 304, half gained 2 entries. Baseline: plain httpx GET +
feedparser of the same feeds on the same thread count, no Kafka/ES. Uses its own topic/index prefix; cleans up.
The feed server runs in its own process, as publishers' servers do, so its CPU does not share the poller's GIL.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import feedparser
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from feedserver import FeedServer, Route  # noqa: E402

from govwatch.bootstrap import bootstrap, teardown  # noqa: E402
from govwatch.feeds.poller import poll_all  # noqa: E402
from govwatch.feeds.runtime import build_runtime  # noqa: E402
from govwatch.settings import Settings  # noqa: E402

ITEMS = 20


def rss(i: int, first: int, count: int) -> bytes:
    items = "".join(
        f"<item><title>Feed {i} story {n}: AI Act update</title><link>https://news{i}.example/story/{n}?utm_source=rss</link>"
        f"<guid>feed{i}-{n}</guid><pubDate>Mon, 0{1 + n % 9} Sep 2025 1{n % 10}:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Summary of story {n} about AI governance.&lt;/p&gt;</description></item>"
        for n in range(first + count - 1, first - 1, -1))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {i}</title>'
            f"<link>https://news{i}.example/</link>{items}</channel></rss>").encode()


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


def serve_feeds(feeds: int, ready: mp.Queue, round_two, stop) -> None:  # noqa: ANN001 - mp events
    """Child process: serve the feeds; after ``round_two`` is set, even feeds carry 2 more entries."""
    with FeedServer() as server:
        for i in range(feeds):
            server.routes[f"/f{i}"] = Route(rss(i, 0, ITEMS), etag=f'"{i}-a"', headers={"Content-Type": "application/rss+xml"})
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
            try:
                print(f"poll benchmark: {args.feeds} feeds x {ITEMS} items, concurrency {args.concurrency}, "
                      "distinct host per feed (injected resolver), host spacing on")
                for label in ("round 1 (all changed)", "round 2 (50% 304, 50% +2 entries)"):
                    if label.startswith("round 2"):
                        round_two.set()
                        ready.get(timeout=60)  # the server has swapped the even feeds' bodies
                    summary, outcomes = poll_all(runtime.poller, runtime.feeds, args.concurrency)
                    lat = [o.elapsed_s for o in outcomes]
                    print(f"  {label}: {summary.feeds_polled / summary.elapsed_s:7.1f} feeds/s, "
                          f"{summary.new_stories / summary.elapsed_s:8.1f} stories/s published "
                          f"({summary.new_stories} stories, {summary.not_modified} not-modified, "
                          f"errors {dict(summary.errors) or 'none'}), p95 per-feed latency {p95(lat) * 1000:.0f} ms, "
                          f"{summary.elapsed_s:.1f}s")
            finally:
                runtime.close()
            urls = [f.url for f in runtime.feeds]
            took = baseline(urls, args.concurrency, port)
            print(f"  baseline (httpx GET + feedparser, no Kafka/ES, no state): {len(urls) / took:7.1f} feeds/s, {took:.1f}s")
        finally:
            teardown(settings)
            registry.unlink(missing_ok=True)
    finally:
        stop.set()
        server_proc.join(timeout=10)


if __name__ == "__main__":
    main()
