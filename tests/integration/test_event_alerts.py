"""Alerts per event on the real broker, node and a Slack-compatible receiver: a burst of one event's coverage gives a
bot-token subscription one top-level post and a thread, a webhook one post and a "more coverage" roll-up, a
cluster subscription one post per wire-copy cluster; a replay of everything posts nothing more."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import httpx

from govwatch.adapters import kafka_io
from govwatch.adapters.es_io import make_client
from govwatch.adapters.kafka_topics import ALERTS, INDEXED
from govwatch.adapters.story_index import bulk_index, indexed_batch
from govwatch.alerts.ledger import AlertLedger, key_for
from govwatch.alerts.rollup import send_rollups
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.alerts.threads import EventThreads
from govwatch.models import EnrichedStory, utcnow
from govwatch.stages.alerter import AlertStage, SubscriptionCache
from govwatch.stages.notifier import NotifyStage
from govwatch_dev.slack_receiver import UPDATE_PATH, SlackReceiver
from tests.integration._alert_helpers import story
from tests.support.alert_run import alert_records as _alert_records
from tests.support.alert_run import drained as _drained
from tests.support.alert_run import run_alert_stage as _run_alert_stage
from tests.support.alert_run import statuses as _statuses
from tests.support.alert_run import wait as _wait
from tests.support.stages import notify_loop

TOKEN = "xoxb-test-event-alerts-51d2"
THREADS, CLUSTERS = "C0EVENT", "C0CLUSTER"
HOOK_EVENT, HOOK_STORY = "T1/B1/eventHOOK0001", "T1/B2/storyHOOK0002"
OUTLETS = ["Outlet A", "Outlet B", "Outlet C", "Outlet D", "Outlet E", "Outlet F"]


def _burst() -> tuple[list[EnrichedStory], dict[str, str]]:
    """12 stories of the summit from 6 outlets (two of them one wire-copy cluster) and 2 of a second event."""
    summit = [story(100 + i, f"AI Action Summit day {i}", f"Leaders at the AI Action Summit, report {i}.", "FR",
                    cluster=100 if i < 2 else None, source=OUTLETS[i % 6]) for i in range(12)]
    seoul = [story(200 + i, f"AI Action Summit follow-up in Seoul {i}", "The AI Action Summit follow-up in Seoul.",
                   "KR", source=OUTLETS[i]) for i in range(2)]
    events = {s.story_id: summit[0].story_id for s in summit} | {s.story_id: seoul[0].story_id for s in seoul}
    return summit + seoul, events


def test_event_burst_threads_rollups_clusters_and_replay(initialized, unique) -> None:  # noqa: ANN001
    """One top-level post per (subscription, event), every other story once in its thread or roll-up, one post per
    cluster at cluster granularity, one per story at story granularity; replaying alerts and matches posts nothing."""
    settings = initialized
    es = make_client(settings.es_url)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    threads = EventThreads(es, settings.index("alert-threads"))
    stories, events = _burst()
    summit_event = events[stories[0].story_id]
    assert bulk_index(es, settings.index_prefix, stories, events) == {}
    with SlackReceiver() as receiver, httpx.Client(timeout=10.0) as client:
        bot = Destination(kind="bot", bot_token=TOKEN, channel=THREADS)
        by_event = store.add(Subscription(name="summit threads", query='"AI Action Summit"', granularity="event",
                                          destination=bot))
        hook = store.add(Subscription(name="summit hook", query='"AI Action Summit"', granularity="event",
                                      destination=Destination(kind="webhook",
                                                              webhook_url=receiver.webhook_url(HOOK_EVENT))))
        by_cluster = store.add(Subscription(name="summit clusters", query='"AI Action Summit"', granularity="cluster",
                                            destination=Destination(kind="bot", bot_token=TOKEN, channel=CLUSTERS)))
        by_story = store.add(Subscription(name="summit stories", query='"AI Action Summit"', granularity="story",
                                          destination=Destination(kind="webhook",
                                                                  webhook_url=receiver.webhook_url(HOOK_STORY))))
        producer = kafka_io.make_producer(settings.kafka_bootstrap)
        stage = AlertStage(es, producer, SubscriptionCache(store, ttl_s=0.0), ledger, settings.index("stories"),
                           settings.topic(ALERTS))
        now = utcnow()
        for part in (stories[:5], stories[5:9], stories[9:]):  # the burst arrives as three indexed batches
            producer.send(settings.topic(INDEXED), key=b"b",
                          value=indexed_batch(settings.index_prefix, part, now, events).to_bytes()).get(timeout=30)
        _run_alert_stage(settings, stage, f"a{unique}", records=3)

        sender = SlackSender(client, min_interval_s=0.0)
        notify = NotifyStage(store, ledger, sender, receiver.api_base, threads=threads)
        hooked = lambda path: [r for r in receiver.deliveries if r.path == f"/services/{path}"]  # noqa: E731
        with notify_loop(settings, notify, f"n{unique}") as check:
            _wait(lambda: (len(receiver.messages(THREADS)) == 14 and len(receiver.messages(CLUSTERS)) == 13
                           and len(hooked(HOOK_STORY)) == 14
                           and _statuses(es, ledger.index, hook.id) == Counter(delivered=2, rollup_pending=12)),
                  "every first post, reply and roll-up mark", check)
            _wait(lambda: _drained(settings, f"n{unique}"), "the notifier to commit every alert", check)

        parents = receiver.top_level(THREADS)
        assert len(parents) == 2  # one per event
        summit_parent = next(p for p in parents if p["metadata"]["event_payload"]["alert_id"] == key_for(
            "event", by_event.id, stories[0].cluster_id, stories[0].story_id, summit_event))
        seoul_parent = next(p for p in parents if p is not summit_parent)
        assert len(receiver.replies(THREADS, summit_parent["ts"])) == 11
        assert len(receiver.replies(THREADS, seoul_parent["ts"])) == 1
        posted = [m["metadata"]["event_payload"]["alert_id"] for m in receiver.messages(THREADS)]
        assert sorted(posted) == sorted(key_for("event", by_event.id, s.cluster_id, s.story_id, events[s.story_id])
                                        for s in stories)  # every story once, none twice
        assert "covered by 6 outlets (12 stories)" in json.dumps(summit_parent["blocks"])
        assert "covered by 2 outlets" in json.dumps(seoul_parent["blocks"])
        updates = [r for r in receiver.requests if r.path == UPDATE_PATH]
        assert updates and all(r.status == 200 for r in updates)
        assert len(receiver.top_level(CLUSTERS)) == 13  # 11 clusters of the summit, 2 of Seoul
        assert _statuses(es, ledger.index, by_event.id) == Counter(delivered=14)

        assert len(hooked(HOOK_EVENT)) == 2  # the two events' first stories, at once
        summary = send_rollups(store, ledger, threads, sender, receiver.api_base, utcnow())
        rollups = hooked(HOOK_EVENT)[2:]
        assert len(rollups) == 2 and summary.sent == {"summit hook (more coverage)": 12}  # one per event
        rolled = [json.dumps(r.payload) for r in rollups]
        assert sum("more coverage of" in text and "11 stories" in text for text in rolled) == 1
        assert sum("more coverage of" in text and "1 story" in text for text in rolled) == 1
        assert _statuses(es, ledger.index, hook.id) == Counter(delivered=14)

        # Replay: the indexed batches from offset 0 in a new group, then every alert record in a new group.
        alerts_before = _alert_records(settings)
        _run_alert_stage(settings, stage, f"a{unique}-replay", records=3)
        assert _alert_records(settings) == alerts_before  # every match already in the ledger: nothing produced
        with notify_loop(settings, notify, f"n{unique}-replay") as check:
            _wait(lambda: _drained(settings, f"n{unique}-replay"), "the replayed alerts to be read", check)
        assert send_rollups(store, ledger, threads, sender, receiver.api_base, utcnow() + timedelta(hours=1)).sent == {}
        producer.close()
        counts = (len(receiver.messages(THREADS)), len(receiver.messages(CLUSTERS)), len(hooked(HOOK_EVENT)),
                  len(hooked(HOOK_STORY)))
    assert counts == (14, 13, 4, 14)
    assert _statuses(es, ledger.index, by_cluster.id) == Counter(delivered=13)
    assert _statuses(es, ledger.index, by_story.id) == Counter(delivered=14)
