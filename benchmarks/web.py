"""The web app's response times: the pages and API calls an analyst makes, against /healthz in the same run.

    python benchmarks/web.py [--stories 2000] [--alerts 200] [--requests 40]

Needs the local stack (`govwatch stack up`); works under a private index prefix and removes it after. Indexes
``--stories`` generated stories over 30 days, one subscription matching about a third of them, and records the
alerts the real matcher finds in the ledger (``--alerts`` at most); then serves the app with uvicorn on 127.0.0.1
and sends ``--requests`` sequential requests per endpoint from one client. Prints p50/p95 latency and requests/s per
endpoint; the baseline is /healthz (HTTP, the security gate, no Elasticsearch), so the difference is the work
behind each page. One client, one server process: this is latency, not capacity.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test factories and the app fixture
from tests.factories import enriched_story, raw_story
from tests.support.webapp import admin_settings, make_token, run_web_app

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
WORDS = ["AI Act", "Ofcom", "NIST", "deepfakes", "summit", "guidance", "enforcement", "fine", "lawmakers"]


def _seed(settings, n_stories: int, max_alerts: int) -> tuple[str, str, int]:  # noqa: ANN001 - Settings
    from govwatch.adapters.es_io import make_client
    from govwatch.adapters.story_index import bulk_index
    from govwatch.alerts.ledger import AlertLedger
    from govwatch.alerts.matcher import fetch_stories, match_batch
    from govwatch.alerts.store import SubscriptionStore
    from govwatch.alerts.subscriptions import Destination, Subscription
    from govwatch.models import IndexedStory, Trace
    from govwatch.stages.alerter import build_alert

    es = make_client(settings)
    stories = []
    for n in range(n_stories):
        a, b = WORDS[n % len(WORDS)], WORDS[(n * 7 + 3) % len(WORDS)]
        when = NOW - timedelta(hours=(n * 7) % (30 * 24))
        raw = raw_story(n, title=f"{a} and {b}: item {n}", published_at=when, trace=Trace(first_seen_at=when))
        stories.append(enriched_story(n, text=f"Reporting on {a}. Also {b}, with more words around them. " * 5,
                                      raw=raw))
    for start in range(0, len(stories), 500):
        assert bulk_index(es, settings.index_prefix, stories[start:start + 500]) == {}
    sub = SubscriptionStore(es, settings.index("subscriptions")).add(Subscription(
        name="bench", query='"AI Act" OR Ofcom OR NIST', owner="analyst",
        destination=Destination(kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/x")))
    alias = settings.index("stories")
    picked = list(stories[: max_alerts * 3])
    docs = fetch_stories(es, alias, [s.story_id for s in picked])
    by_id = {s.story_id: s for s in picked}
    matches = list(match_batch(es, alias, [sub], docs))[:max_alerts]
    alerts = [build_alert(sub, docs[m.story_id], m, IndexedStory(story_id=m.story_id,
                                                                 cluster_id=by_id[m.story_id].cluster_id,
                                                                 trace=by_id[m.story_id].trace)) for m in matches]
    AlertLedger(es, settings.index("alert-ledger")).record(alerts, NOW)
    es.indices.refresh(index=settings.index("alert-ledger"))
    return sub.id, alerts[0].story_id, len(alerts)


def _time(client: httpx.Client, n: int, method: str, path: str, **kwargs: object) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.request(method, path, **kwargs)
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code, response.text[:200])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args(argv)

    from govwatch.adapters.bootstrap import bootstrap, teardown
    from govwatch.settings import Settings

    prefix = f"benchweb{uuid.uuid4().hex[:6]}"
    settings = Settings(topic_prefix=prefix, index_prefix=prefix, cache_dir=Path(f"/tmp/govwatch-{prefix}"))
    bootstrap(settings)
    try:
        settings, _ = admin_settings(settings)
        sub_id, story_id, n_alerts = _seed(settings, args.stories, args.alerts)
        token = make_token(settings, "analyst")
        with run_web_app(settings, clock=lambda: NOW) as base:
            api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            pages = httpx.Client(base_url=base, timeout=60)
            csrf_page = pages.get("/login").text
            csrf = csrf_page.split('name="csrf" value="')[1].split('"')[0]
            assert pages.post("/login", data={"token": token, "csrf": csrf}).status_code == 303
            cases = [
                ("GET /healthz (baseline)", pages, "GET", "/healthz", {}),
                ("GET /api/v1/subscriptions", api, "GET", "/api/v1/subscriptions", {}),
                ("POST /api/v1/query/check", api, "POST", "/api/v1/query/check",
                 {"json": {"query": '"AI Act" AND fine'}}),
                ("POST /api/v1/preview (30 days)", api, "POST", "/api/v1/preview",
                 {"json": {"query": '"AI Act" OR Ofcom', "days": 30, "top": 5}}),
                ("GET /subscriptions (page)", pages, "GET", "/subscriptions", {}),
                (f"GET /alerts (page, {min(n_alerts, 100)} rows)", pages, "GET", f"/alerts?subscription={sub_id}", {}),
                ("GET /stories/{id} (page)", pages, "GET", f"/stories/{story_id}", {}),
            ]
            print(f"{args.stories} stories, {n_alerts} alerts in the ledger, "
                  f"{args.requests} sequential requests per endpoint")
            print(f"{'endpoint':40} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7}")
            for label, client, method, path, kwargs in cases:
                _time(client, 3, method, path, **kwargs)  # warm-up: first-use costs (PBKDF2, caches) are not latency
                samples = _time(client, args.requests, method, path, **kwargs)
                p95 = statistics.quantiles(samples, n=20)[-1]
                print(f"{label:40} {statistics.median(samples) * 1000:8.1f} {p95 * 1000:8.1f} "
                      f"{len(samples) / sum(samples):7.1f}")
            api.close()
            pages.close()
    finally:
        teardown(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
