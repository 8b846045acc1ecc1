"""End to end on the real stack: feed server -> Prefect poll flow -> enrich -> index -> alert -> Slack receiver."""

from __future__ import annotations

import json
from pathlib import Path

from govwatch.adapters.kafka_io import admin_client
from govwatch.alerts.store import SubscriptionStore
from govwatch_dev import demo
from govwatch_dev.demo_site import DemoSite
from govwatch_dev.slack_receiver import SlackReceiver

SAMPLE = demo.REPO / "deploy" / "demo"


def _delivered_urls(receiver: SlackReceiver) -> list[str]:
    """The story URL of every delivered message (the title link in the first section block)."""
    urls = []
    for req in receiver.deliveries:
        text = json.dumps(req.payload)
        start = text.index("<http") + 1
        urls.append(text[start:text.index("|", start)])
    return urls


def _expected_pairs(settings, es, store) -> set[tuple[str, str]]:  # noqa: ANN001
    """(subscription id, cluster id) for every story ES returns for each subscription's query + filters."""
    from govwatch.alerts.query import subscription_query

    pairs = set()
    for sub in store.active():
        resp = es.search(index=settings.index("stories"), size=500, source=["cluster_id"],
                         query=subscription_query(sub.query, sub.filters, sub.allow_expensive))
        pairs |= {(sub.id, hit["_source"]["cluster_id"]) for hit in resp["hits"]["hits"]}
    return pairs


def test_pipeline_end_to_end_then_replay_sends_nothing(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """Each (subscription, story cluster) match reaches Slack exactly once, and a full replay from offset 0 sends
    none."""
    settings = initialized
    es = demo.es_client(settings)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    site = DemoSite(SAMPLE, port=0)
    with SlackReceiver() as receiver:
        base = site.start()
        try:
            env = demo.child_env(settings, {"GOVWATCH_FEEDS_FILE": str(site.registry_path(tmp_path))})
            demo.ensure_subscriptions(settings, es, SAMPLE / "subscriptions.yaml", receiver.webhook_url("T1/B1/e2e"))
            pipeline = demo.Pipeline(settings, env, tmp_path / "logs")
            pipeline.start()
            try:
                summary = demo.poll_once(env, tmp_path / "poll.log")
                final = demo.wait_until_drained(settings, es, pipeline, print, timeout_s=240,
                                                want=lambda c: c.matched > 0 and c.delivered == c.matched)
            finally:
                pipeline.stop()
            assert "new" in summary and final.seen == final.indexed > 0
            expected = _expected_pairs(settings, es, store)
            urls = _delivered_urls(receiver)
            stories = es.search(index=settings.index("stories"), size=500, source=["url", "cluster_id"])["hits"]["hits"]
            cluster_of = {h["_source"]["url"]: h["_source"]["cluster_id"] for h in stories}
            assert all(url.startswith(base) for url in urls)
            delivered_clusters = [cluster_of[u] for u in urls]
            assert len(urls) == len(expected) == final.delivered, (urls, expected)
            assert {c for _, c in expected} == set(delivered_clusters)
            # Near-duplicate copies fold: fewer clusters than stories, and no cluster alerted twice per subscription.
            assert final.clusters < final.indexed

            # Replay every consumer group from offset 0 with restarted consumers: nothing new reaches Slack.
            admin = admin_client(settings.kafka_bootstrap)
            try:
                groups = [f"{settings.topic_prefix}.{name}" for name in demo.CONSUMERS]
                admin.delete_groups(groups)
            finally:
                admin.close()
            before = len(receiver.deliveries)
            pipeline = demo.Pipeline(settings, env, tmp_path / "logs-replay")
            pipeline.start()
            try:
                again = demo.wait_until_drained(settings, es, pipeline, print, timeout_s=240)
                replay_log = (tmp_path / "logs-replay" / "notify.log").read_text()
                replayed = [json.loads(line) for line in replay_log.splitlines() if line.startswith("{")]
            finally:
                pipeline.stop()
            assert len(receiver.deliveries) == before
            assert again.delivered == final.delivered and again.indexed == final.indexed
            # Every record of the alerts topic is skipped: one per alert, plus the copies the re-drive produced for
            # alerts deferred while their (shared, paced) destination was busy.
            first_run = [json.loads(line) for line in (tmp_path / "logs" / "notify.log").read_text().splitlines()
                         if line.startswith("{")]
            redriven = sum(1 for e in first_run if e.get("event") == "redriven")
            assert sum(1 for e in replayed if e.get("event") == "notify_skipped") == final.delivered + redriven
        finally:
            site.stop()
