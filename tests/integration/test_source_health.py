"""Source health end to end on the real stack: a registry of three feeds, their poll state on the compacted
``feeds.state`` topic, their stories in two monthly indices, the evaluate-source-health Prefect flow, the alert
ledger, the alerts topic and the notifier posting to the operations subscription's local Slack-compatible receiver.

The clock is the flow's ``now`` parameter, around midnight of 31 October 2026, so every history straddles the
October and November indices whatever day the test runs:

* ``broken``: its polls fail from 14:00 on 31 October: nothing at 18:00 (4 h < 6 h), an incident at 00:30 on
  1 November, its recovery at 02:00 when a poll succeeds and finds a new story;
* ``quiet``: every 3 h until 08:00 on 31 October, polls fine: nothing at 18:00 (10 h < 12 h), silent at 00:30,
  recovered at 02:00 when a new story comes;
* ``drifting``: hourly; from 31 October 00:45 its stories fall back to the feed summary: 29 % extracted in the
  last 24 h at 18:00 (no alert), 0 % at 00:30 (incident), all extracted again in the 24 h before 03:00 on
  2 November (recovered).

Each incident alerts once and recovers once; evaluating again in between, and replaying the topic through the
notifier, post nothing more.
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from govwatch.adapters import es_io, kafka_io
from govwatch.adapters.feed_stores import KafkaStateStore
from govwatch.adapters.kafka_topics import ALERTS, FEED_STATE
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.source_health_state import HealthStates
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.cli import main
from govwatch.feeds.state import FeedState
from govwatch.models import Alert
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.wiring.clients import producer_session, slack_sender
from govwatch.wiring.source_health import overviews
from govwatch_dev.slack_receiver import SlackReceiver
from tests.factories import sid
from tests.support.webapp import admin_pages, admin_settings, run_web_app

FLOW_FILE = Path(__file__).resolve().parents[2] / "flows" / "source_health.py"
OCT31 = datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
T0 = OCT31 + timedelta(hours=18)  # nothing is wrong enough yet
T1 = OCT31 + timedelta(hours=24, minutes=30)  # 1 November 00:30: three incidents
T2 = OCT31 + timedelta(hours=26)  # 1 November 02:00: broken and quiet heal
T3 = OCT31 + timedelta(hours=51)  # 2 November 03:00: drifting heals
BROKEN_SINCE = OCT31 + timedelta(hours=14)
REDESIGN = OCT31 + timedelta(minutes=45)
WAIT_S = 30.0
REGISTRY = """feeds:
  - {id: broken, name: Broken Feed, url: "https://broken.example.org/rss"}
  - {id: quiet, name: Quiet Feed, url: "https://quiet.example.org/rss"}
  - {id: drifting, name: Drifting Feed, url: "https://drifting.example.org/rss"}
"""


def _flow():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("source_health_flow", FLOW_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.evaluate_source_health


def _story(feed: str, n: int, at: datetime, status: str = "extracted") -> dict[str, Any]:
    return {"@timestamp": at.isoformat(), "story_id": sid(f"{feed}-{n}"), "title": f"{feed} story {n}",
            "url": f"https://{feed}.example.org/{n}", "source": feed.title(), "feed_id": feed,
            "extraction_status": status, "trace": {"first_seen_at": at.isoformat()}}


def _hourly(feed: str, start: datetime, end: datetime, step: timedelta, first: int = 0,
            status: Any = None) -> list[dict[str, Any]]:  # noqa: ANN401
    out, at, n = [], start, first
    while at <= end:
        out.append(_story(feed, n, at, status(at) if status else "extracted"))
        at, n = at + step, n + 1
    return out


def _index(es: Any, prefix: str, stories: list[dict[str, Any]]) -> None:  # noqa: ANN401
    ops: list[dict[str, Any]] = []
    for doc in stories:
        ops += [{"index": {"_index": es_io.stories_index_for(prefix, datetime.fromisoformat(doc["@timestamp"])),
                           "_id": doc["story_id"]}}, doc]
    resp = es.bulk(operations=ops, refresh="wait_for")
    assert not resp["errors"], resp["items"][:2]


def _poll_states(settings: Settings, *states: FeedState) -> None:
    with producer_session(settings) as producer:
        store = KafkaStateStore(settings, settings.topic(FEED_STATE), producer, decode=FeedState.from_bytes,
                                new=FeedState)
        for state in states:
            store.put(state)


def _alerts_on_topic(settings: Settings) -> list[Any]:
    consumer = KafkaConsumer(**kafka_io.client_config(settings), enable_auto_commit=False)
    try:
        topic = settings.topic(ALERTS)
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        records: list[Any] = []
        deadline = time.monotonic() + WAIT_S
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            assert time.monotonic() < deadline, "timed out reading the alerts topic"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close(autocommit=False)


def _seed(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:  # noqa: ANN401
    """The three feeds' stories, their poll state at T1, and the environment the flow builds its Settings from."""
    registry = tmp_path / "feeds.yaml"
    registry.write_text(REGISTRY)
    es = es_io.make_client(settings.es_url)
    _index(es, settings.index_prefix,
           _hourly("broken", OCT31 - timedelta(days=3), BROKEN_SINCE - timedelta(hours=1), timedelta(hours=1))
           + _hourly("quiet", OCT31 - timedelta(days=4, hours=-2), OCT31 + timedelta(hours=8), timedelta(hours=3))
           + _hourly("drifting", OCT31 - timedelta(days=8), T1 - timedelta(minutes=30), timedelta(hours=1),
                     status=lambda at: "extracted" if at < REDESIGN else "feed_summary"))
    months = {es_io.stories_index_for(settings.index_prefix, at) for at in (OCT31, T1)}
    assert len(months) == 2  # October and November indices
    _poll_states(settings,
                 FeedState("broken", last_success_at=BROKEN_SINCE, last_attempt_at=T1, consecutive_failures=7,
                           last_error="HTTP 503 from broken.example.org"),
                 FeedState("quiet", last_success_at=T1 - timedelta(minutes=5), last_attempt_at=T1),
                 FeedState("drifting", last_success_at=T1 - timedelta(minutes=5), last_attempt_at=T1))
    for key, value in {"GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
                       "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_SLACK_MIN_INTERVAL_S": "0",
                       "GOVWATCH_SLACK_WEBHOOK_HOSTS": "127.0.0.1", "GOVWATCH_FEEDS_FILE": str(registry),
                       "GOVWATCH_SOURCE_HEALTH_WEB_BASE": "https://govwatch.example.org"}.items():
        monkeypatch.setenv(key, value)
    return es


def test_failing_silent_and_drifting_feeds_alert_once_and_recover_once(
        initialized, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # noqa: ANN001
    settings = initialized
    es = _seed(settings, monkeypatch, tmp_path)

    with SlackReceiver() as receiver:
        store = SubscriptionStore(es, settings.index("subscriptions"))
        ops = store.add(Subscription(name="operations", query="govwatch-operations-only", destination=Destination(
            kind="webhook", webhook_url=receiver.webhook_url("T/B/ops"))))
        monkeypatch.setenv("GOVWATCH_SOURCE_HEALTH_SUBSCRIPTION", ops.id)
        flow = _flow()
        early = flow(now=T0.isoformat())
        opened = flow(now=T1.isoformat())
        again = flow(now=(T1 + timedelta(minutes=10)).isoformat())
        view = {v["feed_id"]: v for v in overviews(Settings(), T1 + timedelta(minutes=10))}

        # broken polls again and finds a story; quiet publishes one
        _index(es, settings.index_prefix, [_story("broken", 900, T2 - timedelta(minutes=5)),
                                           _story("quiet", 900, T2 - timedelta(minutes=10))])
        _poll_states(settings, FeedState("broken", last_success_at=T2, last_attempt_at=T2, stories_published=1))
        healed = flow(now=T2.isoformat())
        # drifting's pages extract again from 1 November 01:00
        _index(es, settings.index_prefix, _hourly("drifting", T1 + timedelta(minutes=30), T3 - timedelta(hours=1),
                                                  timedelta(hours=1), first=5000))
        _poll_states(settings, FeedState("broken", last_success_at=T3, last_attempt_at=T3),
                     FeedState("quiet", last_success_at=T3, last_attempt_at=T3),
                     FeedState("drifting", last_success_at=T3, last_attempt_at=T3))
        # quiet and broken publish through the night too, so only the drift changes at T3
        _index(es, settings.index_prefix,
               _hourly("quiet", T2 + timedelta(hours=3), T3, timedelta(hours=3), first=1000)
               + _hourly("broken", T2 + timedelta(hours=1), T3, timedelta(hours=1), first=1000))
        drift_healed = flow(now=T3.isoformat())

        records = _alerts_on_topic(settings)
        ledger = AlertLedger(es, settings.index("alert-ledger"))
        _, client = slack_sender(settings)
        with client:
            stage = NotifyStage(store, ledger, SlackSender(client, min_interval_s=0.0), receiver.api_base)
            assert stage(records) == {}
            assert stage(records) == {}  # a replay posts nothing more
        posted = [json.dumps(d.payload) for d in receiver.deliveries]
    (history,) = admin_pages([f"/alerts?subscription={ops.id}"], T3)

    assert "0 incidents opened or recovered" in early, early
    assert sorted(opened.split("; ")[1:]) == ["open: broken failing", "open: drifting extraction", "open: quiet silent"]
    assert "0 incidents opened or recovered" in again, again
    assert sorted(healed.split("; ")[1:]) == ["recover: broken failing", "recover: quiet silent"], healed
    assert drift_healed.split("; ")[1:] == ["recover: drifting extraction"], drift_healed

    alerts = [Alert.from_bytes(r.value) for r in records]
    assert len(alerts) == 6 == len({a.alert_id for a in alerts}) and {a.kind for a in alerts} == {"health"}
    assert len(posted) == 6
    text = "\n".join(posted)
    assert "Broken Feed is failing" in text and "HTTP 503" in text
    assert "Quiet Feed has gone silent" in text and "usually publishes every 3.0 h" in text
    assert "Drifting Feed extraction dropped" in text and "0% of its last 24 h stories (0/24)" in text
    assert "Recovered: Broken Feed (failing)" in text and "Recovered: Drifting Feed (extraction)" in text
    assert "https://govwatch.example.org/sources/quiet" in text

    assert history.count('data-testid="alert-row"') == 6 and history.count(">source health</span>") == 6
    assert '<a href="https://govwatch.example.org/sources/quiet" data-testid="alert-story-link">' in history
    assert "/stories/" not in history  # an incident is not a story: its row links to the feed's source page
    assert [i["kind"] for i in view["broken"]["incidents"]] == ["failing"]
    assert view["quiet"]["typical_gap_h"] == 3.0 and view["drifting"]["extraction_today"] == 0.0
    assert view["drifting"]["extraction_before"] == 1.0
    stored = HealthStates(es, settings.index("source-health")).many(["broken", "quiet", "drifting"])
    states = {(feed, kind): d for feed, kinds in stored.items() for kind, d in kinds.items()}
    assert all(not d["open"] for d in states.values())
    assert {k: d["incidents"] for k, d in states.items() if d.get("incidents")} == {
        ("broken", "failing"): 1, ("quiet", "silent"): 1, ("drifting", "extraction"): 1}


def test_sources_pages_and_cli_show_each_feeds_state(initialized, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without an operations subscription the incidents are recorded, not sent; /sources lists the feeds with open
    incidents first, /sources/{id} shows one feed's state and recent stories, ``govwatch sources list|show`` the
    same; an unknown or malformed feed id is a 404."""
    settings = initialized
    es = _seed(settings, monkeypatch, tmp_path)
    summary = _flow()(now=T1.isoformat())
    at = T1 + timedelta(minutes=10)
    web_settings, admin = admin_settings(Settings())
    with run_web_app(web_settings, clock=lambda: at) as base_url:
        client = httpx.Client(base_url=base_url, timeout=60)
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        assert client.post("/login", data={"token": admin, "csrf": csrf}).status_code == 303
        listing = client.get("/sources")
        quiet = client.get("/sources/quiet")
        broken = client.get("/sources/broken")
        missing, malformed = client.get("/sources/nope"), client.get("/sources/NOT_AN_ID")
    assert main(["sources", "list", "--now", at.isoformat()]) == 0
    assert main(["sources", "show", "drifting", "--now", at.isoformat()]) == 0
    printed = capsys.readouterr().out

    assert "3 incidents opened or recovered" in summary
    assert _alerts_on_topic(settings) == []  # no operations subscription: nothing sent
    assert listing.status_code == 200 and listing.text.count('data-testid="source-row"') == 3
    assert quiet.status_code == 200 and "3 h (median gap" in quiet.text and "has gone silent" not in quiet.text
    assert "no new story for 16.5 h" in quiet.text and quiet.text.count('data-testid="source-story"') == 35
    assert "HTTP 503 from broken.example.org" in broken.text and "every poll has failed for 10.5 h" in broken.text
    assert missing.status_code == 404 and malformed.status_code == 404
    lines = printed.splitlines()
    assert any(line.startswith("broken  [failing]") for line in lines), printed
    assert any(line.startswith("quiet  [silent]") and "every 3 h" in line for line in lines), printed
    assert "extracted 0% today vs 100% before" in printed and "stories: 24 in the last 24 h, 168 the days before" \
        in printed
    assert "open incident: extraction since 2026-11-01 00:30" in printed
    stored = HealthStates(es, settings.index("source-health")).many(["broken", "quiet", "drifting"])
    assert sorted((feed, kind) for feed, kinds in stored.items() for kind, d in kinds.items() if d["open"]) == [
        ("broken", "failing"), ("drifting", "extraction"), ("quiet", "silent")]
