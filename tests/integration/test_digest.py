"""Digest mode: pending ledger entries go out as one Slack message per period through a real Prefect flow run."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime

import pytest

from govwatch import es_io
from govwatch.alerts.ledger import Ledger, alert_id
from govwatch.alerts.slack_receiver import SlackReceiver
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.models import Alert, Trace
from tests.factories import sid

FLOW_FILE = __import__("pathlib").Path(__file__).resolve().parents[2] / "flows" / "send_digests.py"


def _flow_module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("send_digests_flow", FLOW_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _alert(sub: Subscription, n: int, cluster: int, source: str = "Example News") -> Alert:
    return Alert(alert_id=alert_id(sub.id, sid(cluster)), subscription_id=sub.id, subscription_name=sub.name,
                 mode="hourly", story_id=sid(n), cluster_id=sid(cluster), title=f"AI Act story {n}",
                 url=f"https://example.org/story/{n}", source=source, snippet="the <em>AI Act</em> applies",
                 trace=Trace(first_seen_at=datetime(2026, 11, 26, 9, n, tzinfo=UTC)))


def test_hourly_digest_sends_once_with_also_in(initialized, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Three pending matches (one with a syndicated copy) arrive as one digest; the next run sends nothing."""
    settings = initialized
    for key, value in {"GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
                       "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_SLACK_MIN_INTERVAL_S": "0"}.items():
        monkeypatch.setenv(key, value)
    es = es_io.make_client(settings.es_url)
    ledger = Ledger(es, settings.index("alert-ledger"))
    with SlackReceiver() as receiver:
        store = SubscriptionStore(es, settings.index("subscriptions"))
        hourly = store.add(Subscription(name="AI Act hourly", query='"AI Act"', mode="hourly",
                                        destination=Destination(kind="webhook", webhook_url=receiver.webhook_url("T/B/d"))))
        now = datetime.now(UTC)
        ledger.record([_alert(hourly, 1, 1), _alert(hourly, 2, 2), _alert(hourly, 3, 3)], now)
        ledger.record([_alert(hourly, 4, 1, source="Wire Copy Daily")], now)  # a copy of cluster 1

        flow = _flow_module().send_digests
        first = flow(period="hourly")
        second = flow(period="hourly")
        daily = flow(period="daily")

    assert first == "digests: AI Act hourly: 3 stories"
    assert second == "digests: nothing pending" and daily == "digests: nothing pending"
    assert len(receiver.deliveries) == 1
    text = json.dumps(receiver.deliveries[0].payload)
    assert all(f"AI Act story {n}" in text for n in (1, 2, 3)) and "AI Act story 4" not in text
    assert "also in 1 outlet" in text
    statuses = {ledger.get(alert_id(hourly.id, sid(c)))["status"] for c in (1, 2, 3)}
    assert statuses == {"delivered"}
