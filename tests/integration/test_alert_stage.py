"""The alert stage on the real broker and node: exactly one alert per (subscription, story cluster), even on replay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kafka import TopicPartition
from structlog.testing import capture_logs

from govwatch.adapters.es_io import make_client
from govwatch.adapters.kafka_io import make_consumer, make_producer
from govwatch.adapters.kafka_topics import ALERTS, INDEXED
from govwatch.adapters.story_index import bulk_index, indexed_batch
from govwatch.alerts.ledger import AlertLedger, alert_id
from govwatch.alerts.match_result import Match
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Filters
from govwatch.loop.batch import LoopStats
from govwatch.loop.batch_loop import run_loop
from govwatch.loop.stop import StopFlag
from govwatch.models import Alert, utcnow
from govwatch.stages.alerter import AlertStage, SubscriptionCache, build_alert
from tests.integration._alert_helpers import corpus, story, sub


class Env:
    """The stage wired to a test's private topics and indices."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        self.settings = settings
        self.es = make_client(settings.es_url)
        self.producer = make_producer(settings.kafka_bootstrap)
        self.store = SubscriptionStore(self.es, settings.index("subscriptions"))
        self.ledger = AlertLedger(self.es, settings.index("alert-ledger"))
        self.stage = AlertStage(self.es, self.producer, SubscriptionCache(self.store, ttl_s=0.0), self.ledger,
                                settings.index("stories"), settings.topic(ALERTS),
                                search_timeout_s=settings.alert_search_timeout_s)

    def publish(self, *values: bytes) -> None:
        for value in values:
            self.producer.send(self.settings.topic(INDEXED), key=b"b", value=value).get(timeout=30)

    def run(self, group: str, records: int, timeout_s: float = 60.0) -> LoopStats:
        """Run the loop in a fresh consumer group until ``records`` records were handled."""
        consumer = make_consumer(self.settings.kafka_bootstrap, group, [self.settings.topic(INDEXED)])
        stats = LoopStats()
        deadline = time.monotonic() + timeout_s
        try:
            while stats.counts["processed"] + stats.counts["dead_lettered"] < records and time.monotonic() < deadline:
                run_loop(consumer, self.stage, self.producer, "alert", StopFlag(), stats, max_batches=stats.batches + 1)
        finally:
            consumer.close(autocommit=False)
        return stats

    def alerts(self) -> list[Alert]:
        """Every message in the alerts topic so far."""
        topic = self.settings.topic(ALERTS)
        consumer = make_consumer(self.settings.kafka_bootstrap, f"read-{time.monotonic_ns()}", [])
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        want = sum(consumer.end_offsets(parts).values())
        got: list[Alert] = []
        deadline = time.monotonic() + 30
        while len(got) < want and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=500).values():
                got.extend(Alert.from_bytes(r.value) for r in recs)
        consumer.close(autocommit=False)
        return got


def test_alerts_once_replay_and_cluster_copies(initialized, unique) -> None:  # noqa: ANN001
    """Expected (subscription, story) alerts are produced once; a replay adds none; a cluster's second copy is recorded
    in also_in, not alerted."""
    settings = initialized
    env = Env(settings)
    stories = corpus()
    copies = [story(10, "Ofcom fines platform", "Ofcom fined the platform.", "GB", cluster=10, source="Outlet A"),
              story(11, "Ofcom fines platform (syndicated)", "Ofcom fined the platform.", "GB", cluster=10,
                    source="Outlet B")]
    assert bulk_index(env.es, settings.index_prefix, stories + copies) == {}
    act = env.store.add(sub("act", '"AI Act" AND (fine OR enforcement)'))
    ofcom = env.store.add(sub("uk", "Ofcom OR NIST", Filters(countries=["GB", "US"])))
    digest = env.store.add(sub("digest", "NIST", mode="daily"))
    env.store.add(sub("paused", "Seoul", paused=True))
    now = utcnow()
    env.publish(indexed_batch(settings.index_prefix, stories, now).to_bytes(), b"not json",
                indexed_batch(settings.index_prefix, copies[:1], now).to_bytes(),
                indexed_batch(settings.index_prefix, copies[1:], now).to_bytes())
    stats = env.run(f"g{unique}", records=4)
    assert stats.counts["dead_lettered"] == 1 and stats.counts["processed"] == 3

    got = sorted((a.subscription_id, a.story_id) for a in env.alerts())
    assert got == sorted([(act.id, stories[0].story_id), (ofcom.id, stories[2].story_id),
                          (ofcom.id, stories[3].story_id), (ofcom.id, copies[0].story_id)])
    cluster_entry = env.ledger.get(alert_id(ofcom.id, copies[0].cluster_id))
    assert cluster_entry["also_in"] == [copies[1].story_id] and cluster_entry["also_in_sources"] == ["Outlet B"]
    assert env.ledger.also_in_count(alert_id(ofcom.id, copies[0].cluster_id)) == 1
    assert cluster_entry["produced_at"] is not None and cluster_entry["status"] == "pending"
    waiting = env.ledger.pending_digest(digest.id, now.replace(hour=0, minute=0))
    assert [a.story_id for a in waiting] == [stories[3].story_id]

    replay = env.run(f"g{unique}-replay", records=4)  # a new group reads everything again from offset 0
    assert replay.counts["processed"] == 3
    assert len(env.alerts()) == 4
    env.producer.close()


def test_entry_recorded_but_never_produced_is_produced_on_retry(initialized, unique) -> None:  # noqa: ANN001
    """A ledger entry left pending without produced_at (crash after the create) is produced by the next attempt,
    once."""
    settings = initialized
    env = Env(settings)
    stories = corpus()
    bulk_index(env.es, settings.index_prefix, stories)
    nist = env.store.add(sub("nist", "NIST"))
    batch = indexed_batch(settings.index_prefix, stories, utcnow())
    doc = env.es.search(index=settings.index("stories"), query={"ids": {"values": [stories[3].story_id]}},
                        size=1)["hits"]["hits"][0]["_source"]
    lost = build_alert(nist, doc, Match(nist.id, stories[3].story_id, ""), batch.stories[3])
    assert env.ledger.record([lost], utcnow())[0].created  # the "crashed" attempt: recorded, never produced
    env.publish(batch.to_bytes())
    env.run(f"g{unique}", records=1)
    env.run(f"g{unique}-again", records=1)
    assert [(a.alert_id, a.story_id) for a in env.alerts()] == [(lost.alert_id, stories[3].story_id)]
    assert env.ledger.get(lost.alert_id)["produced_at"] is not None
    env.ledger.mark_delivered(lost.alert_id, utcnow())
    env.ledger.mark_failed(lost.alert_id, "HTTP 404 no_service", attempts=2, permanent=True)
    entry = env.ledger.get(lost.alert_id)
    assert (entry["status"], entry["attempts"], entry["delivered_at"] is not None) == ("dead_lettered", 2, True)
    env.producer.close()


def test_hostile_query_in_the_index_is_flagged_and_others_alerted_once(initialized, unique) -> None:  # noqa: ANN001
    """A 1,000-deep query written straight into the subscriptions index (no validation) next to an ordinary one:
    the ordinary subscription's alerts are recorded and produced once (again after a restart: a replay by a new
    stage), the hostile one is skipped and flagged on its document, and the flag shows in `subscriptions list`."""
    from govwatch.alerts.subscription_service import CLI
    from govwatch.wiring.web import subscription_service

    settings = initialized
    env = Env(settings)
    stories = corpus()
    assert bulk_index(env.es, settings.index_prefix, stories) == {}
    act = env.store.add(sub("act", '"AI Act" AND fine'))
    deep = "(" * 1000 + "fine" + ")" * 1000
    hostile = sub("hostile", "placeholder").model_copy(update={"query": deep})
    env.es.index(index=settings.index("subscriptions"), id=hostile.id, document=hostile.storage_document(),
                 refresh="wait_for")
    env.publish(indexed_batch(settings.index_prefix, stories[:2], utcnow()).to_bytes(),
                indexed_batch(settings.index_prefix, stories[2:], utcnow()).to_bytes())
    stats = env.run(f"g{unique}", records=2)
    assert stats.counts["processed"] == 2 and stats.counts["dead_lettered"] == 0

    assert [(a.subscription_id, a.story_id) for a in env.alerts()] == [(act.id, stories[0].story_id)]
    flagged = subscription_service(settings, env.es).get(CLI, hostile.id)
    assert flagged.problem is not None and flagged.problem.stage == "limits"
    assert "nested 1000 deep" in flagged.problem.reason
    assert subscription_service(settings, env.es).get(CLI, act.id).problem is None

    restarted = Env(settings)  # a new process: fresh cache, reads the flag from the store, produces nothing twice
    restarted.run(f"g{unique}-replay", records=2)
    assert [(a.subscription_id, a.story_id) for a in env.alerts()] == [(act.id, stories[0].story_id)]

    env_vars = {**os.environ, "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix,
                "GOVWATCH_INDEX_PREFIX": settings.index_prefix, "GOVWATCH_LOG_FORMAT": "json"}
    listed = subprocess.run([str(Path(sys.executable).with_name("govwatch")), "subscriptions", "list"], env=env_vars,
                            capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0, listed.stderr
    listing = listed.stdout
    assert f"{hostile.id}  active" in listing and "PROBLEM limits: query refused: " in listing
    assert f"({len(deep)} chars)" in listing  # the listed query is cut, not 2,002 characters on one line
    env.producer.close()
    restarted.producer.close()


def test_subscription_failing_at_search_time_is_flagged_once(initialized, unique) -> None:  # noqa: ANN001
    """A saved query that parses but fails when Elasticsearch builds it ('relevance:abc': relevance is a float)
    is a fault of its own: flagged with stage "search" (written once, not every batch), the others alerted."""
    settings = initialized
    env = Env(settings)
    stories = corpus()
    assert bulk_index(env.es, settings.index_prefix, stories) == {}
    nist = env.store.add(sub("nist", "NIST"))
    broken = env.store.add(sub("broken", "relevance:abc OR AI"))
    env.publish(indexed_batch(settings.index_prefix, stories[:3], utcnow()).to_bytes(),
                indexed_batch(settings.index_prefix, stories[3:], utcnow()).to_bytes())
    with capture_logs() as logs:
        stats = env.run(f"g{unique}", records=2)
    assert stats.counts["processed"] == 2 and stats.counts["dead_lettered"] == 0
    assert [(a.subscription_id, a.story_id) for a in env.alerts()] == [(nist.id, stories[3].story_id)]
    problem = env.store.get(broken.id).problem
    assert problem is not None and problem.stage == "search" and "For input string" in problem.reason
    assert env.store.get(nist.id).problem is None
    flags = [e for e in logs if e["event"] == "subscription_flagged"]
    assert [e["subscription_id"] for e in flags] == [broken.id]  # two batches, one write
    env.producer.close()
