"""Digest mode: pending ledger entries go out as one Slack message per period through a real Prefect flow run."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime

import pytest

from govwatch.adapters import es_io
from govwatch.alerts.ledger import AlertLedger, alert_id
from govwatch.alerts.slack_send import MAX_TRANSIENT_ATTEMPTS
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.models import Alert, Trace
from govwatch.settings import Settings
from govwatch_dev.slack_receiver import ScriptedResponse, SlackReceiver
from tests.factories import sid

FLOW_FILE = __import__("pathlib").Path(__file__).resolve().parents[2] / "flows" / "send_digests.py"


def _flow_module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("send_digests_flow", FLOW_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _alert(sub: Subscription, n: int, cluster: int, source: str = "Example News", title: str | None = None,
           url: str | None = None) -> Alert:
    return Alert(alert_id=alert_id(sub.id, sid(cluster)), subscription_id=sub.id, subscription_name=sub.name,
                 mode="hourly", story_id=sid(n), cluster_id=sid(cluster), title=title or f"AI Act story {n}",
                 url=url or f"https://example.org/story/{n}", source=source, snippet="the <em>AI Act</em> applies",
                 trace=Trace(first_seen_at=datetime(2026, 11, 26, 9, n % 60, tzinfo=UTC)))


def _use(settings, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The flow builds its own Settings from the environment: point it at this test's indices."""
    for key, value in {"GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
                       "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_SLACK_MIN_INTERVAL_S": "0",
                       "GOVWATCH_SLACK_WEBHOOK_HOSTS": "127.0.0.1"}.items():
        monkeypatch.setenv(key, value)


def _hourly(store: SubscriptionStore, receiver: SlackReceiver, sub_id: str, name: str) -> Subscription:
    return store.add(Subscription(id=sub_id, name=name, query='"AI Act"', mode="hourly", destination=Destination(
        kind="webhook", webhook_url=receiver.webhook_url(f"T/B/{sub_id}"))))


def test_hourly_digest_sends_once_with_also_in(initialized, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Three pending matches (one with a syndicated copy) arrive as one digest; the next run sends nothing."""
    settings = initialized
    for key, value in {"GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
                       "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_SLACK_MIN_INTERVAL_S": "0",
                       "GOVWATCH_SLACK_WEBHOOK_HOSTS": "127.0.0.1"}.items():
        monkeypatch.setenv(key, value)
    es = es_io.make_client(settings.es_url)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    with SlackReceiver() as receiver:
        store = SubscriptionStore(es, settings.index("subscriptions"))
        hourly = store.add(Subscription(name="AI Act hourly", query='"AI Act"', mode="hourly",
                                        destination=Destination(kind="webhook",
                                                                webhook_url=receiver.webhook_url("T/B/d"))))
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


def _tag(n: int) -> str:
    return f"[story-{n:03d}]"


def test_partial_digest_failure_marks_sent_messages_delivered_and_resends_only_the_rest(
        initialized, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """When message 2 of a digest gets 500s, message 1's alerts are delivered; the next run sends only the rest."""
    settings = initialized
    _use(settings, monkeypatch)
    es = es_io.make_client(settings.es_url)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    with SlackReceiver() as receiver:
        sub = _hourly(SubscriptionStore(es, settings.index("subscriptions")), receiver, f"sub-{sid('p')[:8]}",
                      "AI Act partial")
        # 40 long headlines need about three messages of the 10,000-character payload budget.
        ledger.record([_alert(sub, n, n, title=f"{_tag(n)} " + "AI governance headline " * 19)
                       for n in range(40)], datetime.now(UTC))
        path = f"/services/T/B/{sub.id}"
        receiver.script(path, ScriptedResponse(200, "ok"), *[ScriptedResponse(500, "internal_error")] *
                        MAX_TRANSIENT_ATTEMPTS)  # message 1 accepted; message 2 fails every retry of the sender
        flow = _flow_module().send_digests
        first = flow(period="hourly")
        first_sent = [json.dumps(d.payload) for d in receiver.deliveries]
        second = flow(period="hourly")
        third = flow(period="hourly")

    assert len(first_sent) == 1
    in_first = {n for n in range(40) if _tag(n) in first_sent[0]}
    assert 0 < len(in_first) < 40
    assert first.startswith(f"digests: AI Act partial: {len(in_first)} stories; AI Act partial: FAILED (message 2 of")
    later = [json.dumps(d.payload) for d in receiver.deliveries[1:]]
    assert len(later) >= 2  # the rest still needs more than one message
    shown_later = {n for n in range(40) if any(_tag(n) in text for text in later)}
    assert shown_later == set(range(40)) - in_first  # the rest, and none of message 1's stories again
    assert second == f"digests: AI Act partial: {40 - len(in_first)} stories" and third == "digests: nothing pending"
    entries = ledger.get_many([alert_id(sub.id, sid(n)) for n in range(40)])
    assert {e["status"] for e in entries.values()} == {"delivered"} and len(entries) == 40
    assert {entries[alert_id(sub.id, sid(n))]["attempts"] for n in shown_later} == {1}  # the failed run counted
    assert {entries[alert_id(sub.id, sid(n))]["attempts"] for n in in_first} == {0}


def test_one_subscriptions_failing_digest_does_not_stop_the_next(initialized: Settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A subscription whose digest raises (an unreadable ledger entry) is reported; the next still gets its digest."""
    settings = initialized
    _use(settings, monkeypatch)
    es = es_io.make_client(settings.es_url)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    with SlackReceiver() as receiver:
        store = SubscriptionStore(es, settings.index("subscriptions"))
        broken = _hourly(store, receiver, "sub-a-broken", "Broken first")  # ids sort: this one is sent first
        healthy = _hourly(store, receiver, "sub-b-healthy", "Healthy second")
        now = datetime.now(UTC)
        ledger.record([_alert(healthy, 1, 1), _alert(healthy, 2, 2)], now)
        # An entry written by an older, incompatible version: its alert no longer matches the contract.
        es.index(index=ledger.index, id=alert_id(broken.id, sid(9)), document={
            "alert_id": alert_id(broken.id, sid(9)), "subscription_id": broken.id, "cluster_id": sid(9),
            "story_id": sid(9), "mode": "hourly", "status": "digest_pending", "attempts": 0,
            "matched_at": now.isoformat(), "updated_at": now.isoformat(), "alert": {"title": "no other field"}})
        summary = _flow_module().send_digests(period="hourly")

    assert summary.startswith("digests: Healthy second: 2 stories; Broken first: FAILED (ValidationError")
    assert [d.path for d in receiver.deliveries] == [f"/services/T/B/{healthy.id}"]
    assert {ledger.get(alert_id(healthy.id, sid(c)))["status"] for c in (1, 2)} == {"delivered"}


def test_oversized_non_ascii_link_is_shortened_and_every_digest_is_sent(initialized: Settings,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A story whose URL is 11,940 characters once encoded is sent without the link, and later digests still go."""
    settings = initialized
    _use(settings, monkeypatch)
    es = es_io.make_client(settings.es_url)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    with SlackReceiver() as receiver:
        store = SubscriptionStore(es, settings.index("subscriptions"))
        first = _hourly(store, receiver, "sub-a-idn", "Non-ASCII first")
        second = _hourly(store, receiver, "sub-b-plain", "Plain second")
        now = datetime.now(UTC)
        ledger.record([_alert(first, 1, 1, title="Régulation de l'IA", url="https://exemple.fr/" + "é" * 1975),
                       _alert(first, 2, 2)], now)
        ledger.record([_alert(second, 3, 3)], now)
        summary = _flow_module().send_digests(period="hourly")

    assert summary == "digests: Non-ASCII first: 2 stories; Plain second: 1 stories"
    assert [d.path for d in receiver.deliveries] == [f"/services/T/B/{first.id}", f"/services/T/B/{second.id}"]
    text = json.dumps(receiver.deliveries[0].payload, ensure_ascii=False)
    assert "*Régulation de l'IA*" in text and "<https://example.org/story/2|AI Act story 2>" in text


def test_digest_entries_are_dead_lettered_with_the_reason_after_the_attempt_bound(
        initialized, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Entries whose digest failed MAX_ATTEMPTS runs are dead-lettered with the reason, not retried for ever."""
    from govwatch.alerts.digest import MAX_ATTEMPTS

    settings = initialized
    _use(settings, monkeypatch)
    es = es_io.make_client(settings.es_url)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    with SlackReceiver() as receiver:
        sub = _hourly(SubscriptionStore(es, settings.index("subscriptions")), receiver, "sub-bound", "Bound")
        now = datetime.now(UTC)
        ledger.record([_alert(sub, 1, 1), _alert(sub, 2, 2)], now)
        ledger.mark_digest_retry(alert_id(sub.id, sid(1)), "HTTP 500 earlier", MAX_ATTEMPTS - 1, now)  # one run left
        receiver.script(f"/services/T/B/{sub.id}", ScriptedResponse(500, "internal_error"), forever=True)
        summary = _flow_module().send_digests(period="hourly")

    assert ("FAILED (message 1 of 1 failed after 0 of 2 stories were sent; 1 left for the next run, "
            "1 dead-lettered") in summary
    gave_up, retried = ledger.get(alert_id(sub.id, sid(1))), ledger.get(alert_id(sub.id, sid(2)))
    assert gave_up["status"] == "dead_lettered" and gave_up["attempts"] == MAX_ATTEMPTS
    assert gave_up["last_error"].startswith(f"digest gave up after {MAX_ATTEMPTS} attempts: Slack delivery")
    assert retried["status"] == "digest_pending" and retried["attempts"] == 1 and "HTTP 500" in retried["last_error"]
