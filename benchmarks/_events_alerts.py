"""The burst's alerts in benchmarks/events.py (--burst-alerts): what a subscription's channel receives.

The burst's stories (govwatch-enriched, benchmarks/_events_data.burst) go through the real pipeline on the local
stack, under throwaway prefixes (``bench<hex>``: topics, indices, templates deleted after): produced to the enriched
topic, the real index stage (event assignment) in its consumer loop, the real alert stage, the real notifier against
the Slack-compatible receiver (govwatch_dev.slack_receiver), then the webhook roll-up step run once with a clock past
its window. Four subscriptions on the burst's subject: event granularity on a bot token (threads), event on a
webhook (roll-up), cluster on a webhook, story on a webhook. The stage drivers are the integration test's
(tests/support/alert_run.py, tests/support/stages.py; tests/integration/test_event_alerts.py uses them too).

Per subscription: top-level posts, thread replies, roll-up messages, stories reachable (burst stories whose link is
in a delivered message: post, reply or roll-up) vs matched (burst stories with a ledger entry; at cluster
granularity, the stories of every announced cluster), ledger statuses and Slack requests (every request the
receiver got for that channel or webhook: posts, parent updates, history reads).
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from elasticsearch import Elasticsearch
from tests.support.alert_run import WAIT_S, drained, run_alert_stage, topic_records, wait
from tests.support.kafka_util import produce, read_all
from tests.support.stages import notify_loop, run_stage_until

from govwatch.adapters import es_io, kafka_io
from govwatch.adapters.bootstrap import bootstrap, teardown
from govwatch.adapters.kafka_topics import ALERTS, ENRICHED, INDEXED
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.rollup import WINDOW, send_rollups
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.alerts.threads import EventThreads
from govwatch.log import configure_logging
from govwatch.models import EnrichedStory, IndexedBatch, utcnow
from govwatch.settings import Settings
from govwatch.stages.alerter import AlertStage, SubscriptionCache
from govwatch.stages.notifier import NotifyStage
from govwatch_dev.slack_receiver import ReceivedRequest, SlackReceiver

QUERY = '"Clearview AI"'  # every burst story names the company; nothing else in the run does
TOKEN = "xoxb-bench-burst-alerts"  # noqa: S105 - the local receiver's fake bot token
CHANNEL = "C0BURST"


@dataclass(frozen=True)
class Target:
    """One subscription of the run and where its messages land (a bot channel or a webhook path)."""

    name: str
    granularity: str
    channel: str | None = None
    hook: str | None = None


TARGETS = [Target("event / bot token", "event", channel=CHANNEL),
           Target("event / webhook", "event", hook="T9/B1/burstEVENT01"),
           Target("cluster / webhook", "cluster", hook="T9/B2/burstCLUSTER1"),
           Target("story / webhook", "story", hook="T9/B3/burstSTORY001")]


def run_burst_alerts(es_url: str, kafka: str, stories: list[EnrichedStory]) -> None:
    """Run ``stories`` through index, alert and notify stages; print what each subscription's channel got."""
    configure_logging("WARNING")  # the stages' per-message lines would bury the printout
    token = secrets.token_hex(4)
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as cache:
        settings = Settings(es_url=es_url, kafka_bootstrap=kafka, topic_prefix=f"bench{token}",
                            index_prefix=f"bench{token}", cache_dir=Path(cache), ssrf_allowlist=["127.0.0.1/32"],
                            slack_webhook_hosts=["hooks.slack.com", "slack.com", "127.0.0.1"])
        bootstrap(settings)
        try:
            _run(settings, stories)
        finally:
            teardown(settings)


def _indexed(settings: Settings) -> list[IndexedBatch]:
    records = read_all(settings.kafka_bootstrap, settings.topic(INDEXED), settle_s=0.2, timeout_s=2)
    return [IndexedBatch.from_bytes(r.value) for r in records]


def _run(settings: Settings, stories: list[EnrichedStory]) -> None:
    t0 = time.monotonic()
    es = es_io.make_client(settings.es_url)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    threads = EventThreads(es, settings.index("alert-threads"))
    arriving = sorted(stories, key=lambda s: (s.raw.published_at or s.raw.trace.first_seen_at, s.story_id))
    produce(settings.kafka_bootstrap, settings.topic(ENRICHED), [(s.story_id.encode(), s.to_bytes()) for s in arriving])
    run_stage_until(settings, "index", lambda: sum(len(b.stories) for b in _indexed(settings)) >= len(stories),
                    timeout_s=WAIT_S, group=f"{settings.topic_prefix}.index")
    batches = _indexed(settings)
    events = Counter(s.event_id for b in batches for s in b.stories)
    print(f"burst alerts: {len(stories)} stories -> index stage: {len(batches)} indexed batch(es), "
          f"{len(events)} event(s) (sizes {sorted(events.values(), reverse=True)}), "
          f"{len({s.cluster_id for s in stories})} wire-copy clusters; subscriptions query {QUERY}")
    with SlackReceiver() as receiver, httpx.Client(timeout=10.0) as client:
        subs = {t.name: store.add(Subscription(name=t.name, query=QUERY, granularity=t.granularity, destination=(
            Destination(kind="bot", bot_token=TOKEN, channel=t.channel) if t.channel else
            Destination(kind="webhook", webhook_url=receiver.webhook_url(t.hook or ""))))) for t in TARGETS}
        producer = kafka_io.make_producer(settings.kafka_bootstrap)
        try:
            stage = AlertStage(es, producer, SubscriptionCache(store, ttl_s=0.0), ledger, settings.index("stories"),
                               settings.topic(ALERTS))
            run_alert_stage(settings, stage, f"{settings.topic_prefix}.alert", records=topic_records(settings, INDEXED))
        finally:
            producer.close()
        sender = SlackSender(client, min_interval_s=0.0)
        notify = NotifyStage(store, ledger, sender, receiver.api_base, threads=threads)
        group = f"{settings.topic_prefix}.notify"
        with notify_loop(settings, notify, group) as check:
            wait(lambda: drained(settings, group), "the notifier to commit every alert", check)
        before = {t.name: len(_hooked(receiver, t)) for t in TARGETS if t.hook}
        summary = send_rollups(store, ledger, threads, sender, receiver.api_base, utcnow() + WINDOW * 2)
        print(f"  roll-up step once, clock {WINDOW * 2} ahead: sent {summary.sent}, failed {summary.failed}")
        for t in TARGETS:
            _report(es, ledger, receiver, t, subs[t.name].id, stories, before.get(t.name, 0))
    print(f"  burst alerts run: {time.monotonic() - t0:.1f} s wall")


def _hooked(receiver: SlackReceiver, target: Target) -> list[ReceivedRequest]:
    return [r for r in receiver.deliveries if r.path == f"/services/{target.hook}"]


def _report(es: Elasticsearch, ledger: AlertLedger, receiver: SlackReceiver, target: Target, subscription_id: str,
            stories: list[EnrichedStory], immediate: int) -> None:
    """One subscription's line (``immediate``: webhook messages sent before the roll-up step)."""
    es.indices.refresh(index=ledger.index)
    hits = es.search(index=ledger.index, query={"term": {"subscription_id": subscription_id}},
                     size=1000)["hits"]["hits"]
    status = Counter(h["_source"]["status"] for h in hits)
    alerted = [h["_source"]["alert"] for h in hits]
    clusters = {a["cluster_id"] for a in alerted}
    matched = {s.story_id for s in stories if (s.cluster_id in clusters if target.granularity == "cluster"
                                               else s.story_id in {a["story_id"] for a in alerted})}
    if target.channel:
        messages = receiver.messages(target.channel)
        posts, replies, rollups = len(receiver.top_level(target.channel)), len(messages) - len(
            receiver.top_level(target.channel)), 0
        bodies = [json.dumps(m) for m in messages]
        requests = [r for r in receiver.requests if (r.payload or {}).get("channel") == target.channel]
    else:
        delivered = _hooked(receiver, target)
        posts, replies, rollups = immediate, 0, len(delivered) - immediate
        bodies = [json.dumps(r.payload) for r in delivered]
        requests = [r for r in receiver.requests if r.path == f"/services/{target.hook}"]
    reachable = {s.story_id for s in stories if any(s.raw.url in body for body in bodies)}
    kinds = Counter(r.path.rsplit("/", 1)[-1] if r.path.startswith("/api/") else "webhook" for r in requests)
    print(f"  {target.name:<18} top-level posts {posts:>2} | thread replies {replies:>2} | roll-up messages "
          f"{rollups} | stories reachable {len(reachable):>2} of {len(matched)} matched ({len(stories)} in the "
          f"burst) | ledger {dict(status)} | Slack requests {len(requests)} "
          f"({dict(kinds)})")
