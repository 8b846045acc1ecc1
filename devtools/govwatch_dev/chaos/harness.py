"""One fault-injection scenario run end to end on a private stack, and the figures it is judged by.

    generated site --(poll flow, repeated, killable)--> enrich -> index -> alert -> notify -> faulty Slack

A run gets its own topic/index prefix on the private stack, releases stories over time while the poll
flow keeps polling, lets the scenario inject its faults, then waits for the pipeline to drain and counts:
stories released / published / indexed / lost; documents per story id across every monthly index;
ground-truth (subscription, cluster) pairs from Elasticsearch against the posts Slack received; dead
letters by reason; time to drain after the fault; processes that crashed or hung.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from govwatch.adapters import es_io, kafka_io
from govwatch.adapters.bootstrap import bootstrap, teardown
from govwatch.adapters.kafka_topics import topic_specs
from govwatch.alerts.query import subscription_query, validate
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Filters, Subscription
from govwatch_dev.chaos.event_site import generate_events
from govwatch_dev.chaos.events import measure_events
from govwatch_dev.chaos.private_stack import PrivateStack
from govwatch_dev.chaos.site import ChaosSite, generate
from govwatch_dev.chaos.slack import SEND_TIMEOUT_S, FaultySlack
from govwatch_dev.chaos.workers import Workers
from govwatch_dev.demo import CONSUMERS, INPUT_TOPIC, child_env

Say = Callable[[str], None]
SETTLE_S = 8.0  # no counter moved for this long (and no lag) = drained
STALL_S = 60.0  # ... or, with released stories never published, this long: they are reported as lost
DRAIN_TIMEOUT_S = 420.0  # past this the run is reported as hung, with what is still missing
EVENTS = 4  # news events of an event scenario's site (one per subscription's subject)
SLACK_MIN_INTERVAL_S = 0.1  # per-destination spacing: Slack's 1/s would make a run of ~100 alerts take minutes
BOT_TOKEN = "xoxb-chaos-local"
SUBSCRIPTIONS = [  # (name, query, kind): half webhooks, half bot-token destinations
    ("EU AI Act fines", '"AI Act" AND fines', "webhook"),
    ("Facial recognition", '"facial recognition" OR biometric*', "bot"),
    ("Chip export controls", '"export controls" AND (chips OR semiconductor*)', "webhook"),
    ("Election deepfakes", 'deepfake* OR "synthetic political advertising"', "bot"),
]


@dataclass
class Result:
    """The figures of one scenario (see :func:`govwatch_dev.chaos.scenarios.table`)."""

    scenario: str
    released: int = 0
    published: int = 0
    indexed: int = 0
    lost: int = 0
    docs: int = 0
    dup_docs: int = 0
    indices: list[str] = field(default_factory=list)
    expected_pairs: int = 0
    posted: int = 0
    dup_posts_bot: int = 0
    dup_posts_webhook: int = 0
    missing: int = 0
    extra: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    drain_s: float | None = None
    crashed: list[str] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)
    recovery: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=dict)
    lost_examples: list[str] = field(default_factory=list)
    missing_examples: list[str] = field(default_factory=list)
    bad_threads: int = 0  # event runs: (subscription, event) pairs without exactly one top-level post, misthreaded
    # Event runs (see govwatch_dev.chaos.events): news events the site released, distinct event ids among the
    # stories some subscription matches, (subscription, event) pairs, their top-level posts, pairs without exactly
    # one, bot-token replies outside their own event's thread.
    news_events: int = 0
    distinct_events: int = 0
    event_pairs: int = 0
    top_level_posts: int = 0
    pairs_not_one: int = 0
    misthreaded: int = 0
    # Restarts whose incarnation was killed again before it got there: no recovery figure, and no miss either.
    superseded: dict[str, int] = field(default_factory=dict)

    def ok(self) -> bool:
        return (self.lost == 0 and self.dup_docs == 0 and self.missing == 0 and self.dup_posts_bot == 0
                and self.bad_threads == 0 and self.distinct_events == self.news_events and not self.hung)


class ChaosRun:
    """Everything of one scenario: prefix, site, Slack, subscriptions, workers; :meth:`run` does it all."""

    def __init__(self, stack: PrivateStack, scenario: str, stories: int, seed: int, now: datetime,
                 work_dir: Path, say: Say = print, release_s: float = 60.0,
                 drain_timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        self.stack = stack
        self.scenario = scenario
        self.rng = random.Random(seed)
        self.say = say
        self.release_s = release_s
        self.drain_timeout_s = drain_timeout_s
        self.work_dir = work_dir
        prefix = f"chaos{uuid.uuid4().hex[:8]}"
        self.settings = stack.settings.model_copy(update={
            "topic_prefix": prefix, "index_prefix": prefix, "ssrf_allowlist": ["127.0.0.1/32"],
            "slack_webhook_hosts": ["127.0.0.1"]})
        # An event scenario ("event-..."): stories burst around a few news events, subscriptions per event.
        self.granularity = "event" if scenario.startswith("event") else "cluster"
        self.site = ChaosSite(generate_events(stories, seed, now, EVENTS) if self.granularity == "event"
                              else generate(stories, seed, now))
        self.slack = FaultySlack()
        self.es = es_io.make_client(self.settings.es_url)
        self.result = Result(scenario)
        self.fault_end: float | None = None  # monotonic time the last fault ended
        self.workers: Workers | None = None
        self.sub_of_path: dict[str, tuple[str, str]] = {}  # webhook path / bot channel -> (sub id, kind)
        self._release_done = threading.Event()

    # --- set-up ------------------------------------------------------------------------------------

    def setup(self) -> None:
        bootstrap(self.settings)
        base = self.site.start()
        self.slack.start()
        store = SubscriptionStore(self.es, self.settings.index("subscriptions"))
        for i, (name, query, kind) in enumerate(SUBSCRIPTIONS):
            validate(self.es, self.settings.index("stories"), query, Filters())
            if kind == "webhook":
                path = f"/services/TCHAOS/B{i}/sub{i}"
                dest = Destination(kind="webhook", webhook_url=SecretStr(f"{self.slack.base_url}{path}"))
            else:
                path = f"C-chaos-{i}"
                dest = Destination(kind="bot", bot_token=SecretStr(BOT_TOKEN), channel=path)
            sub = store.add(Subscription(name=name, query=query, filters=Filters(), destination=dest,
                                         mode="immediate", owner="chaos", granularity=self.granularity))
            self.sub_of_path[path] = (sub.id, kind)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env = child_env(self.settings, {
            "GOVWATCH_FEEDS_FILE": str(self.site.registry(self.work_dir)),
            "GOVWATCH_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap, "GOVWATCH_ES_URL": self.settings.es_url,
            "GOVWATCH_SLACK_API_BASE": self.slack.api_base, "GOVWATCH_SLACK_MIN_INTERVAL_S": str(SLACK_MIN_INTERVAL_S),
            "GOVWATCH_SLACK_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
            "GOVWATCH_POLL_MAX_ENTRIES": str(len(self.site.stories) + 10),  # the feeds list every released story
            "PREFECT_API_URL": self.settings.prefect_api_url, "GOVWATCH_PREFECT_API_URL": self.settings.prefect_api_url,
        })
        self.workers = Workers(env, self.work_dir / "logs")
        self.say(f"[{self.scenario}] site {base}, Slack {self.slack.base_url}, prefix {self.settings.topic_prefix}, "
                 f"{len(self.site.stories)} stories")

    def close(self) -> None:
        self.stack.resume_all()  # an interrupted es-pause must not leave teardown talking to a stopped server
        if self.workers is not None:
            self.workers.stop_all()
        self.site.stop()
        self.slack.stop()
        try:
            teardown(self.settings, self.es, groups=[f"{self.settings.topic_prefix}.{n}" for n in CONSUMERS])
        except Exception as exc:  # noqa: BLE001 - cleanup of a private stack must not hide the result
            self.say(f"[{self.scenario}] teardown: {type(exc).__name__}: {exc}")

    # --- the flow ----------------------------------------------------------------------------------

    def _release_loop(self) -> None:
        total = len(self.site.stories)
        steps = max(1, int(self.release_s / 2))
        per_step = max(1, -(-total // steps))
        while self.site.release(per_step) < total:
            time.sleep(self.release_s / steps)
        self._release_done.set()

    def run(self, inject: Callable[[ChaosRun], None]) -> Result:
        """Start everything, release stories, ``inject(self)`` the faults, drain, measure."""
        assert self.workers is not None, "setup() first"
        self.workers.start_all()
        self.workers.start_polling()
        releaser = threading.Thread(target=self._release_loop, name="chaos-release", daemon=True)
        releaser.start()
        inject(self)
        if self.fault_end is None:
            self.fault_end = time.monotonic()
        releaser.join()
        drained = self.drain()
        self.result.drain_s = round(drained - self.fault_end, 1) if drained is not None else None
        self.measure()
        return self.result

    def watch(self, seconds: float) -> None:
        """Wait ``seconds`` while restarting any consumer that crashed."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.workers is not None
            self.workers.check()
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    # --- draining and measuring --------------------------------------------------------------------

    def _progress(self) -> tuple:
        ids = self._stories()
        published = self._count(self.settings.index("published"))
        return (published, len(ids), len(self.slack.deliveries), self._lag())

    def _count(self, index: str) -> int:
        self.es.options(ignore_status=404).indices.refresh(index=index)
        return int(self.es.options(ignore_status=404).count(index=index).get("count", 0))

    def _lag(self) -> int:
        try:
            return sum(kafka_io.group_lag(self.settings.kafka_bootstrap, f"{self.settings.topic_prefix}.{name}",
                                          self.settings.topic(topic)) for name, topic in INPUT_TOPIC.items())
        except Exception:  # noqa: BLE001 - the broker may still be coming back
            return -1

    def _stories(self) -> list[dict[str, Any]]:
        """Every stored story document (id, index, url, cluster) across all monthly indices."""
        pattern = f"{self.settings.index_prefix}-stories-*"
        try:
            self.es.options(ignore_status=404).indices.refresh(index=pattern)
            resp = self.es.search(index=pattern, size=10_000, source_includes=["url", "cluster_id", "event_id"],
                                  query={"match_all": {}})
        except Exception:  # noqa: BLE001 - Elasticsearch may still be coming back
            return []
        return [{"id": h["_id"], "index": h["_index"], **h["_source"]} for h in resp["hits"]["hits"]]

    def drain(self) -> float | None:
        """Monotonic time the pipeline had drained (everything released was published and nothing moved for
        SETTLE_S with no lag); None if it did not within ``drain_timeout_s`` (reported as hung)."""
        assert self.workers is not None
        deadline = time.monotonic() + self.drain_timeout_s
        last, since = None, time.monotonic()
        released = set(self.site.released_ids())
        while time.monotonic() < deadline:
            self.workers.check()
            now = self._progress()
            if now != last:
                self.say(f"[{self.scenario}]   published {now[0]} | indexed ids {now[1]} | Slack posts {now[2]} "
                         f"| lag {now[3]} (released {len(released)})")
                last, since = now, time.monotonic()
            quiet = time.monotonic() - since
            complete = now[3] == 0 and ((now[0] >= len(released) and quiet >= SETTLE_S) or quiet >= STALL_S)
            if complete:
                self.workers.stop_polling()
                return since
            time.sleep(1.0)
        self.result.hung.append(f"not drained within {self.drain_timeout_s:.0f}s: last progress {last}")
        try:
            self.result.notes.append("stuck partitions (stage, partition, committed, end): " + ", ".join(
                str(x) for x in self.stuck_partitions()))
        except Exception as exc:  # noqa: BLE001 - naming the stuck partitions is a bonus, not the result
            self.result.notes.append(f"stuck partitions unknown ({type(exc).__name__})")
        return None

    def stuck_partitions(self) -> list[tuple[str, int, int, int]]:
        """Partitions whose group has not committed up to the end, per stage (to name what hung)."""
        from kafka import KafkaConsumer, TopicPartition

        stuck = []
        for name, topic in INPUT_TOPIC.items():
            full = self.settings.topic(topic)
            probe = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                  group_id=f"{self.settings.topic_prefix}.{name}", enable_auto_commit=False)
            try:
                parts = [TopicPartition(full, p) for p in sorted(probe.partitions_for_topic(full) or [])]
                ends = probe.end_offsets(parts)
                stuck += [(name, tp.partition, probe.committed(tp) or 0, ends[tp]) for tp in parts
                          if (probe.committed(tp) or 0) < ends[tp]]
            finally:
                probe.close(autocommit=False)
        return stuck

    def measure(self) -> None:
        res, workers = self.result, self.workers
        assert workers is not None
        released = self.site.released_ids()
        res.released = len(released)
        published = set()
        for hit in self.es.search(index=self.settings.index("published"), size=10_000,
                                  query={"match_all": {}}, source=False)["hits"]["hits"]:
            published.add(hit["_id"])
        res.published = len(published & set(released))
        if len(published) != len(published & set(released)):
            res.notes.append(f"{len(published - set(released))} published ids not among released stories")
        docs = self._stories()
        per_id = Counter(d["id"] for d in docs)
        res.docs, res.indices = len(docs), sorted({d["index"] for d in docs})
        res.dup_docs = sum(n - 1 for n in per_id.values())
        res.indexed = len(set(per_id) & set(released))
        lost = sorted(set(released) - set(per_id))
        res.lost = len(lost)
        res.lost_examples = [released[i].slug for i in lost[:5]]
        # Ground truth: each active subscription's own query against the stories (as the alert stage defines it).
        store = SubscriptionStore(self.es, self.settings.index("subscriptions"))
        expected: set[tuple[str, str]] = set()
        for sub in store.active():
            resp = self.es.search(index=self.settings.index("stories"), size=10_000, source_includes=["cluster_id"],
                                  query=subscription_query(sub.query, sub.filters, sub.allow_expensive))
            expected |= {(sub.id, h["_source"]["cluster_id"]) for h in resp["hits"]["hits"]}
        cluster_of = {d["url"]: d["cluster_id"] for d in docs}
        posts: list[tuple[str, str, str]] = []
        for req in self.slack.deliveries:
            key = req.path if req.path.startswith("/services/") else (req.payload or {}).get("channel", "")
            sub_id, kind = self.sub_of_path.get(key, ("?", "?"))
            text = json.dumps(req.payload)
            start = text.find("<http") + 1
            url = text[start:text.find("|", start)] if start else ""
            posts.append((sub_id, cluster_of.get(url, f"unknown:{url}"), kind))
        counted = Counter(posts)
        res.expected_pairs, res.posted = len(expected), len(posts)
        res.dup_posts_bot = sum(n - 1 for (_, _, kind), n in counted.items() if kind == "bot")
        res.dup_posts_webhook = sum(n - 1 for (_, _, kind), n in counted.items() if kind == "webhook")
        posted_pairs = {(s, c) for s, c, _ in posts}
        missing = sorted(expected - posted_pairs)
        res.missing, res.extra = len(missing), len(posted_pairs - expected)
        res.missing_examples = [f"{s[:8]}/{c[:12]}" for s, c in missing[:5]]
        res.dead_letters = self.dead_letters()
        res.crashed = [f"{c.name} exit {c.returncode}: {c.tail.splitlines()[-1][:160] if c.tail else ''}"
                       for c in workers.crashes]
        if workers.poll_failures:
            res.notes.append(f"{len(workers.poll_failures)} of {workers.poll_runs} poll runs failed, e.g. "
                             f"{workers.poll_failures[0]}")
        res.kills = dict(workers.kills)
        if self.granularity == "event":
            measure_events(self, docs)  # per (subscription, event, story), after the hourly roll-ups
        nodes = workers.count_in_logs("No node available")
        if nodes:
            res.notes.append(f"'No node available' logged {nodes} times")

    def dead_letters(self) -> dict[str, int]:
        """Dead letters of every stage, counted by stage and error type (first words of the reason)."""
        from kafka import KafkaConsumer, TopicPartition

        found: Counter = Counter()
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
                                 enable_auto_commit=False, client_id="chaos-dlq-reader")
        try:
            for spec in topic_specs(self.settings.topic_prefix):
                if not spec.name.endswith(".dlq"):
                    continue
                parts = [TopicPartition(spec.name, p) for p in sorted(consumer.partitions_for_topic(spec.name) or [])]
                if not parts:
                    continue
                ends = consumer.end_offsets(parts)
                if not any(ends.values()):
                    continue
                consumer.assign(parts)
                consumer.seek_to_beginning(*parts)
                seen = 0
                deadline = time.monotonic() + 30
                while seen < sum(ends.values()) and time.monotonic() < deadline:
                    for recs in consumer.poll(timeout_ms=500).values():
                        for rec in recs:
                            seen += 1
                            letter = json.loads(rec.value)
                            reason = " ".join(str(letter.get("reason", "")).split()[:6])
                            found[f"{letter.get('stage')}: {letter.get('error_type')}: {reason}"] += 1
        finally:
            consumer.close()
        return dict(found)
