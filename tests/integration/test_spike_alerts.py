"""Spike alerts end to end on the real stack: stories in two monthly indices, the evaluate-spikes Prefect flow, the
alert ledger, the alerts topic and the notifier posting to a local Slack-compatible receiver.

The clock is the flow's ``now`` parameter, set around midnight of 31 October 2026: the spike's window spans the
October and November indices, whatever day the test runs.
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from govwatch.adapters import es_io, kafka_io
from govwatch.adapters.kafka_topics import ALERTS
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.spike import Series, SpikeRule, is_over, windows
from govwatch.alerts.spike_run import evaluate_all
from govwatch.alerts.spike_state import SpikeStates
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.errors import TransientError
from govwatch.models import Alert
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.wiring.clients import slack_sender
from govwatch.wiring.spikes import spike_context
from govwatch_dev.slack_receiver import SlackReceiver
from tests.factories import sid
from tests.support.webapp import admin_pages

FLOW_FILE = Path(__file__).resolve().parents[2] / "flows" / "spikes.py"
MIDNIGHT = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # the month boundary the spike straddles
RULE = SpikeRule(k=3.0, window_minutes=360, baseline_windows=4, min_count=5)
INTERVAL = timedelta(minutes=20)  # the evaluation step replayed here (the flow's default is 5 min)
WAIT_S = 30.0


def _flow():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("spikes_flow", FLOW_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.evaluate_spikes


def _use(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The flow builds its own Settings from the environment: point it at this test's topics and indices."""
    for key, value in {"GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
                       "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_SLACK_MIN_INTERVAL_S": "0",
                       "GOVWATCH_SLACK_WEBHOOK_HOSTS": "127.0.0.1"}.items():
        monkeypatch.setenv(key, value)


def _story(n: int, at: datetime, word: str, event: str | None = None) -> dict[str, Any]:
    return {"@timestamp": at.isoformat(), "story_id": sid(n), "title": f"{word} story {n}", "url":
            f"https://example.org/{word}/{n}", "source": f"Outlet {n % 7}", "text": f"The {word} rules were discussed.",
            "is_relevant": True, "relevance": 0.5 + (n % 10) / 100, "entity_ids": ["Q458"], "event_id": event}


def _index(es: Any, prefix: str, stories: list[dict[str, Any]]) -> None:  # noqa: ANN401
    ops: list[dict[str, Any]] = []
    for doc in stories:
        ts = datetime.fromisoformat(doc["@timestamp"])
        ops += [{"index": {"_index": es_io.stories_index_for(prefix, ts), "_id": doc["story_id"]}}, doc]
    resp = es.bulk(operations=ops, refresh="wait_for")
    assert not resp["errors"], resp["items"][:2]


def _series(word: str, first: int, counts: list[int], window_ends: list[datetime], width: timedelta,
            event: str | None = None) -> list[dict[str, Any]]:
    """``counts[i]`` stories spread evenly inside the window ending at ``window_ends[i]``."""
    out: list[dict[str, Any]] = []
    n = first
    for count, end in zip(counts, window_ends, strict=True):
        for j in range(count):
            out.append(_story(n, end - width + width * (j + 0.5) / count, word, event))
            n += 1
    return out


def _over_at(stories: list[dict[str, Any]], at: datetime) -> bool:
    """Whether the rule's threshold is reached at ``at``, counted in Python from the stories' timestamps."""
    stamps = [datetime.fromisoformat(d["@timestamp"]) for d in stories]
    counts = [sum(start <= ts < stop for ts in stamps) for start, stop in windows(RULE, at)]
    return is_over(RULE, Series(counts[0], tuple(counts[1:])))


def _alerts_on_topic(settings: Settings) -> list[Any]:
    """Every record of the test's alerts topic so far."""
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


def test_spike_across_a_month_boundary_fires_once_and_rearms(initialized, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """A spike straddling midnight of 31 October fires at the first evaluation after it crosses the threshold, once;
    repeated evaluations post nothing more; a flat series with the same total never fires; once the series falls
    back the rule re-arms, and a second spike fires a second alert."""
    settings = initialized
    _use(settings, monkeypatch)
    es = es_io.make_client(settings.es_url)
    width = RULE.window
    ends = [MIDNIGHT + timedelta(hours=3) - i * width for i in range(5)][::-1]  # 4 baseline windows, then the spike
    event = "e" * 64
    es.index(index=f"{settings.index_prefix}-events", id=event, document={"event_id": event, "title": "AI Act fine"},
             refresh="wait_for")
    spiky = _series("surge", 1000, [2, 2, 2, 2, 12], ends, width, event)  # 20 stories
    flat = _series("steady", 2000, [4, 4, 4, 4, 4], ends, width)  # the same 20, evenly spread
    _index(es, settings.index_prefix, spiky + flat)
    months = {es_io.stories_index_for(settings.index_prefix, datetime.fromisoformat(d["@timestamp"])) for d in spiky}
    assert len(months) == 2  # October and November indices

    with SlackReceiver() as receiver:
        store = SubscriptionStore(es, settings.index("subscriptions"))
        subs = {word: store.add(Subscription(name=f"{word} coverage", query=word, spike=RULE, destination=Destination(
            kind="webhook", webhook_url=receiver.webhook_url(f"T/B/{word}")))) for word in ("surge", "steady")}
        flow = _flow()
        # Evaluations every interval from before the spike to past its end; the oracle counts the stories' own
        # timestamps per window to say at which evaluation the series first reaches the threshold.
        clocks = [ends[4] - width + i * INTERVAL for i in range(int(width / INTERVAL) + 2)]
        crossing = next(at for at in clocks if _over_at(spiky, at))
        summaries = [(at, flow(now=at.isoformat())) for at in clocks if at >= crossing - 2 * INTERVAL]
        fired_at = [at for at, text in summaries if "fired: surge coverage" in text]
        records = _alerts_on_topic(settings)

        ledger = AlertLedger(es, settings.index("alert-ledger"))
        _, client = slack_sender(settings)  # the SSRF-guarded client
        with client:
            stage = NotifyStage(store, ledger, SlackSender(client, min_interval_s=0.0), receiver.api_base)
            assert stage(records) == {}
            assert stage(records) == {}  # a replay of the topic posts nothing more
        first_deliveries = list(receiver.deliveries)
        pages = admin_pages([f"/subscriptions/{subs['surge'].id}", f"/subscriptions/{subs['steady'].id}",
                                     f"/alerts?subscription={subs['surge'].id}"], crossing)

        # The spike leaves the window: the rule re-arms; a second spike later fires once more.
        calm = ends[4] + width + INTERVAL
        rearm = flow(now=calm.isoformat())
        state = SpikeStates(es, settings.index("spike-state")).get(subs["surge"].id).doc
        later = [calm + width * (i + 1) for i in range(5)]
        _index(es, settings.index_prefix, _series("surge", 3000, [0, 0, 0, 1, 15], later, width))
        second = flow(now=later[-1].isoformat())
        assert "fired: surge coverage" in second and "fired: steady" not in second

    assert fired_at == [crossing]  # the first evaluation after the crossing story, and only that one
    assert all("fired: steady" not in text for _, text in summaries)
    assert len(records) == 1 and len(first_deliveries) == 1
    surge_page, steady_page, history = pages
    assert history.count('data-testid="alert-row"') == 1 and '>spike</span> <a href="/stories/' in history
    assert re.search(r'data-testid="sub-spike-state">\s*<span class="badge failed">in a spike</span> since', surge_page)
    assert "fired 1 time" in surge_page and "at least 3 &times; the mean of the 4 windows before" in surge_page
    assert re.search(r'data-testid="sub-spike-state">\s*<span class="badge active">armed</span>', steady_page)
    assert "fired" not in steady_page.split('data-testid="sub-spike-state"')[1].split("</dd>")[0]
    text = json.dumps(first_deliveries[0].payload)
    assert "surge coverage" in text and "AI Act fine" in text and "https://example.org/surge/" in text
    assert "rules evaluated, 0 fired" in rearm and state["armed"] is True and state["fired_count"] == 1
    es.indices.refresh(index=settings.index("alert-ledger"))  # the second spike's entry was written a moment ago
    entries = es.search(index=settings.index("alert-ledger"), query={"term": {"subscription_id": subs["surge"].id}},
                        size=10)["hits"]["hits"]
    assert len(entries) == 2 and {e["_source"]["status"] for e in entries} == {"delivered", "pending"}


def test_a_spike_whose_alert_could_not_be_produced_is_announced_by_the_next_evaluation(initialized) -> None:  # noqa: ANN001
    """Kafka refusing the spike's alert fails that rule only; the next evaluation (the spike still on) produces
    it, once, with the same spike id, and a third evaluation produces nothing more."""
    settings = initialized
    es = es_io.make_client(settings.es_url)
    width = RULE.window
    ends = [MIDNIGHT + timedelta(hours=3) - i * width for i in range(5)][::-1]
    _index(es, settings.index_prefix, _series("surge", 1000, [2, 2, 2, 2, 12], ends, width))
    store = SubscriptionStore(es, settings.index("subscriptions"))
    sub = store.add(Subscription(name="surge", query="surge", spike=RULE, destination=Destination(
        kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/x")))
    refused: list[str] = []
    with spike_context(settings) as ctx:
        publish = ctx.publish

        def broker_down_once(alerts: Sequence[Alert]) -> None:
            if not refused:
                refused.append(alerts[0].alert_id)
                raise TransientError("broker down (injected)")
            publish(alerts)

        ctx.publish = broker_down_once
        first = evaluate_all(ctx, [sub], ends[4])
        second = evaluate_all(ctx, [sub], ends[4] + INTERVAL)
        third = evaluate_all(ctx, [sub], ends[4] + 2 * INTERVAL)
    records = _alerts_on_topic(settings)

    assert "failed: surge: broker down" in first.render()
    assert second.actions == {"surge": "hold"} and third.actions == {"surge": "hold"}
    assert [Alert.from_bytes(r.value).alert_id for r in records] == refused
    assert AlertLedger(es, settings.index("alert-ledger")).get(refused[0])["produced_at"] is not None
