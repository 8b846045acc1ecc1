"""End-to-end latency through the whole running pipeline: first seen -> delivered to Slack.

Stories are trickled into ``stories.raw`` at a modest rate (the poll interval itself is excluded, as
the issue asks), their pages served by a local HTTP server, through the real enrich, index, alert and
notify processes, to the local Slack-compatible receiver. Per-stage and end-to-end p50/p95/max come from
the trace timestamps each message carries, plus the alert ledger's ``delivered_at``.

    python benchmarks/latency.py --stories 40 --rate 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.httpserve import Route, Site, serve  # noqa: E402

from govwatch.adapters.bootstrap import bootstrap, teardown  # noqa: E402
from govwatch.adapters.kafka_io import make_producer  # noqa: E402
from govwatch.alerts.store import SubscriptionStore  # noqa: E402
from govwatch.alerts.subscriptions import Destination, Subscription  # noqa: E402
from govwatch.identity import story_id  # noqa: E402
from govwatch.models import RawStory, Trace, utcnow  # noqa: E402
from govwatch.settings import Settings  # noqa: E402
from govwatch_dev import demo  # noqa: E402
from govwatch_dev.slack_receiver import SlackReceiver  # noqa: E402

PAGE = """<html lang="en"><head><title>{title}</title></head><body><article><h1>{title}</h1>
<p>Regulators in Brussels said on {n} that the artificial intelligence rules under the AI Act would be enforced
against providers of general-purpose AI models, and that fines could follow for breaches of the code of practice.</p>
<p>Story {n} of the latency benchmark; the European Commission and the EU AI Office commented ({uid}).</p>
</article></body></html>"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<28} (no data)"
    return (f"{name:<28} p50 {statistics.median(values) * 1000:8.0f} ms   p95 {pct(values, 0.95) * 1000:8.0f} ms"
            f"   max {max(values) * 1000:8.0f} ms   n={len(values)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=40)
    parser.add_argument("--rate", type=float, default=2.0, help="stories per second")
    args = parser.parse_args()
    unique = uuid.uuid4().hex[:8]
    settings = Settings(topic_prefix=f"lat{unique}", index_prefix=f"lat{unique}", ssrf_allowlist=["127.0.0.1/32"],
                        slack_min_interval_s=0.0, slack_webhook_hosts=["127.0.0.1"])
    bootstrap(settings)
    es = demo.es_client(settings)
    work = Path(tempfile.mkdtemp(prefix="govwatch-latency-"))
    try:
        with serve(Site()) as site, SlackReceiver() as receiver:
            SubscriptionStore(es, settings.index("subscriptions")).add(Subscription(
                name="everything about the AI Act", query='"AI Act"',
                destination=Destination(kind="webhook", webhook_url=receiver.webhook_url("T/B/lat"))))
            env = demo.child_env(settings, {"GOVWATCH_SLACK_MIN_INTERVAL_S": "0"})
            pipeline = demo.Pipeline(settings, env, work / "logs")
            pipeline.start()
            time.sleep(8)  # consumers join their groups before the first story, as in production
            producer = make_producer(settings.kafka_bootstrap, linger_ms=0)
            for n in range(args.stories):
                path = f"/s{n}"
                # A different body per story (different uid words) so no two stories fold into one cluster.
                site.routes[path] = Route(PAGE.format(title=f"AI Act enforcement update {n}", n=n,
                                                      uid=" ".join(uuid.uuid4().hex for _ in range(80))).encode())
                url = site.url(path)
                now = utcnow()
                raw = RawStory(story_id=story_id(url), url=url, feed_id="bench", feed_url=site.url("/feed"),
                               source="Latency Bench", title=f"AI Act enforcement update {n}",
                               trace=Trace(first_seen_at=now, published_to_kafka_at=now))
                producer.send(settings.topic("stories.raw"), key=raw.story_id.encode(), value=raw.to_bytes()).get(30)
                time.sleep(1.0 / args.rate)
            producer.close()
            deadline = time.monotonic() + 120
            while len(receiver.deliveries) < args.stories and time.monotonic() < deadline:
                pipeline.check()
                time.sleep(0.5)
            pipeline.stop()
        es.indices.refresh(index=settings.index("alert-ledger"))
        hits = es.search(index=settings.index("alert-ledger"), size=10_000)["hits"]["hits"]
    finally:
        teardown(settings)
    stages: dict[str, list[float]] = {k: [] for k in ("first_seen -> enriched", "enriched -> indexed",
                                                      "indexed -> delivered", "first_seen -> delivered")}
    for hit in hits:
        src = hit["_source"]
        if not src.get("delivered_at"):
            continue
        tr = src["alert"]["trace"]
        t = {k: datetime.fromisoformat(v) for k, v in tr.items() if v}
        delivered = datetime.fromisoformat(src["delivered_at"])
        stages["first_seen -> enriched"].append((t["enriched_at"] - t["first_seen_at"]).total_seconds())
        stages["enriched -> indexed"].append((t["indexed_at"] - t["enriched_at"]).total_seconds())
        stages["indexed -> delivered"].append((delivered - t["indexed_at"]).total_seconds())
        stages["first_seen -> delivered"].append((delivered - t["first_seen_at"]).total_seconds())
    print(f"latency: {args.stories} stories trickled at {args.rate}/s; "
          f"delivered {len(stages['first_seen -> delivered'])}")
    for name, values in stages.items():
        print(row(name, values))
    e2e = stages["first_seen -> delivered"]
    if e2e:
        print(f"goal: end-to-end p95 <= 2000 ms -> {'met' if pct(e2e, 0.95) <= 2.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
