"""The end-to-end run on the bundled offline news sample (README command 1), also used by the e2e test.

    demo site (feeds + pages on 127.0.0.1) -> poll flow -> enrich -> index -> alert -> notify -> Slack receiver

Every piece is the real one: the Prefect flow runs `govwatch poll --once` (against the stack's Prefect
server when it is up), the four consumers are real processes in their consumer groups, Slack is the
Slack-compatible receiver (webhook subscriptions go to real Slack when GOVWATCH_SLACK_WEBHOOK_URL is set; the
sample's bot-token subscriptions always post to the receiver, which keeps their event threads). Ports are fixed,
so the sample's URLs — and so the story ids — are the same every run: running it twice publishes nothing twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from govwatch.adapters import es_io, kafka_io
from govwatch.alerts.query import validate
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Filters, Subscription
from govwatch.settings import Settings
from govwatch_dev.slack_receiver import SlackReceiver, render

REPO = Path(__file__).resolve().parents[2]
CONSUMERS = ("enrich", "index", "alert", "notify")
INPUT_TOPIC = {"enrich": "stories.raw", "index": "stories.enriched", "alert": "stories.indexed", "notify": "alerts"}
DEMO_SITE_PORT = 8765
DEMO_SLACK_PORT = 8766
SETTLE_S = 6.0  # no change in any counter for this long = the pipeline has drained
# The bot token of the demo's bot-token subscriptions: valid only on the local Slack-compatible receiver, which
# accepts any Bearer token (the notifier's GOVWATCH_SLACK_API_BASE points at it).
DEMO_BOT_TOKEN = "xoxb-govwatch-demo-local-receiver"
WIDE_EVENT_OUTLETS = 4  # an event "covered widely" in the summary: four or more outlets

Say = Callable[[str], None]


@dataclass
class Counts:
    seen: int = 0
    indexed: int = 0
    relevant: int = 0
    clusters: int = 0
    events: int = 0
    wide_events: int = 0
    matched: int = 0
    delivered: int = 0
    failed: int = 0

    def line(self) -> str:
        return (f"stories seen {self.seen} | indexed {self.indexed} (AI-governance {self.relevant}, "
                f"{self.clusters} clusters, {self.events} events, {self.wide_events} with >= {WIDE_EVENT_OUTLETS} "
                f"outlets) | matched {self.matched} | delivered {self.delivered}"
                + (f" | failed {self.failed}" if self.failed else ""))


def counts(settings: Settings, es: Any) -> Counts:  # noqa: ANN401 - elasticsearch client
    """What the pipeline has done so far, read from Elasticsearch (published, stories, events, ledger)."""
    def count(index: str, query: dict | None = None) -> int:
        resp = es.options(ignore_status=404).count(index=index, query=query or {"match_all": {}})
        return int(resp.get("count", 0))

    for name in ("published", "stories", "events", "alert-ledger"):
        es.options(ignore_status=404).indices.refresh(index=settings.index(name))
    stories = settings.index("stories")
    clusters = es.options(ignore_status=404).search(
        index=stories, size=0, aggs={"c": {"cardinality": {"field": "cluster_id"}}})
    return Counts(
        seen=count(settings.index("published")), indexed=count(stories),
        relevant=count(stories, {"term": {"is_relevant": True}}),
        clusters=int(clusters.get("aggregations", {}).get("c", {}).get("value", 0)),
        events=count(settings.index("events")),
        wide_events=count(settings.index("events"), {"range": {"outlet_count": {"gte": WIDE_EVENT_OUTLETS}}}),
        matched=count(settings.index("alert-ledger")),
        delivered=count(settings.index("alert-ledger"), {"term": {"status": "delivered"}}),
        failed=count(settings.index("alert-ledger"), {"terms": {"status": ["failed", "dead_lettered"]}}),
    )


@dataclass
class Pipeline:
    """The consumer processes of one run."""

    settings: Settings
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in CONSUMERS:
            log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
            self.procs[name] = subprocess.Popen([sys.executable, str(REPO / "consumers" / f"{name}.py")],
                                                env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"consumer {name} exited with {proc.returncode}:\n" + "\n".join(tail))

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def child_env(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
                "GOVWATCH_SSRF_ALLOWLIST": ",".join(settings.ssrf_allowlist), "GOVWATCH_LOG_FORMAT": "json",
                "GOVWATCH_SLACK_WEBHOOK_HOSTS": ",".join(settings.slack_webhook_hosts),
                "GOVWATCH_CACHE_DIR": str(settings.cache_dir), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    env.update(extra)
    return env


def destination_of(spec: dict[str, Any], webhook_url: str) -> Destination:
    """A sample subscription's destination: the demo bot token on ``channel`` when it names one, else the webhook."""
    if spec.get("channel"):
        return Destination(kind="bot", bot_token=DEMO_BOT_TOKEN, channel=spec["channel"])
    return Destination(kind="webhook", webhook_url=webhook_url)


def ensure_subscriptions(settings: Settings, es: Any, path: Path, webhook_url: str) -> list[str]:  # noqa: ANN401
    """Create the sample subscriptions that do not exist yet (matched by name); returns all their names."""
    store = SubscriptionStore(es, settings.index("subscriptions"))
    existing = {s.name for s in store.list()}
    names = []
    for spec in yaml.safe_load(path.read_text())["subscriptions"]:
        names.append(spec["name"])
        if spec["name"] in existing:
            continue
        filters = Filters(**(spec.get("filters") or {}))
        validate(es, settings.index("stories"), spec["query"], filters)
        store.add(Subscription(name=spec["name"], query=spec["query"], filters=filters,
                               destination=destination_of(spec, webhook_url), granularity=spec["granularity"],
                               mode=spec.get("mode", "immediate"), owner=spec.get("owner", "demo")))
    return names


def bot_channels(path: Path) -> list[str]:
    """The channels of the sample's bot-token subscriptions, in file order."""
    specs = yaml.safe_load(path.read_text())["subscriptions"]
    return list(dict.fromkeys(spec["channel"] for spec in specs if spec.get("channel")))


def thread_lines(receiver: SlackReceiver, channels: list[str]) -> list[str]:
    """What the receiver's bot channels hold: top-level posts, threads and replies, and the widest thread."""
    lines = []
    for channel in channels:
        parents = receiver.top_level(channel)
        replies = {p["ts"]: len(receiver.replies(channel, p["ts"])) for p in parents}
        threaded = sum(1 for n in replies.values() if n)
        line = (f"#{channel}, this run: {len(parents)} top-level posts (one per event), {threaded} with a thread, "
                f"{sum(replies.values())} replies")
        if threaded:
            widest = max(parents, key=lambda p: replies[p["ts"]])
            line += f"; widest: {replies[widest['ts']]} replies under \"{render(widest).splitlines()[0][:90]}\""
        lines.append(line)
    return lines


def widest_events(settings: Settings, es: Any, n: int = 3) -> list[dict[str, Any]]:  # noqa: ANN401
    """The ``n`` events covered by the most outlets (event_id, title, outlet_count, story_count, first_seen)."""
    resp = es.options(ignore_status=404).search(
        index=settings.index("events"), size=n, sort=[{"outlet_count": "desc"}, {"story_count": "desc"}],
        source=["event_id", "title", "outlet_count", "story_count", "first_seen"])
    return [hit["_source"] for hit in resp.get("hits", {}).get("hits", [])]


def all_sent(now: Counts) -> bool:
    """Every alert matched so far has reached its end (delivered, failed or dead-lettered)."""
    return now.delivered + now.failed >= now.matched


def run_cli(env: dict[str, str], log: Path, *args: str) -> str:
    """Run ``govwatch <args>`` in its own process; returns what it printed (stdout)."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from govwatch.cli import main; sys.exit(main())",
                           *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"govwatch {' '.join(args)} failed (exit {proc.returncode}); see {log}:\n"
                           f"{proc.stderr[-2000:]}")
    return proc.stdout.strip()


def poll_once(env: dict[str, str], log: Path) -> str:
    """Run the Prefect poll flow once in its own process; returns its summary line(s)."""
    return run_cli(env, log, "poll", "--once")


def source_health_once(env: dict[str, str], log: Path) -> str:
    """Evaluate every sample feed's health once (what the evaluate-source-health flow does); its summary."""
    return run_cli(env, log, "sources", "run")


def wait_until_drained(settings: Settings, es: Any, pipeline: Pipeline, say: Say, timeout_s: float = 300.0,  # noqa: ANN401
                       want: Callable[[Counts], bool] | None = None) -> Counts:
    """Show progress until the counters stop moving (and ``want`` holds); returns the final counts."""
    deadline = time.monotonic() + timeout_s
    last, stable_since = None, time.monotonic()
    while True:
        pipeline.check()
        now = counts(settings, es)
        if now != last:
            say(f"  ... {now.line()}")
            last, stable_since = now, time.monotonic()
        done = now.indexed >= now.seen and (want is None or want(now)) and total_lag(settings) == 0
        if done and time.monotonic() - stable_since >= SETTLE_S:
            return now
        if time.monotonic() > deadline:
            raise RuntimeError(f"pipeline did not drain within {timeout_s:.0f}s: {now.line()}; "
                               f"logs in {pipeline.log_dir}")
        time.sleep(1.0)


def total_lag(settings: Settings) -> int:
    """Uncommitted messages over every consumer stage: 0 when all of them have caught up."""
    return sum(kafka_io.group_lag(settings.kafka_bootstrap, f"{settings.topic_prefix}.{name}",
                                  settings.topic(topic)) for name, topic in INPUT_TOPIC.items())


def es_client(settings: Settings) -> Any:  # noqa: ANN401
    return es_io.make_client(settings.es_url)
