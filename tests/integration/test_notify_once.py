"""The notifier never posts twice where Slack lets us know, never crash-loops, and holds a paused subscription's
alerts: real SlackReceiver, real Elasticsearch ledger, real Kafka (the notify loop, or consumers/notify.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import TopicPartition

from govwatch.adapters import kafka_io
from govwatch.adapters.kafka_topics import ALERTS, dlq
from govwatch.alerts.ledger import AlertLedger, alert_id
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.models import Alert, Trace
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.wiring.clients import slack_sender
from govwatch_dev import demo
from govwatch_dev.slack_receiver import HISTORY_PATH, POST_MESSAGE_PATH, Fault, SlackReceiver
from tests.factories import sid
from tests.support.kafka_util import produce
from tests.support.stages import notify_loop

REPO = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-test-notify-once-7c1e"
CHANNEL = "C0ONCE"
HOOK = "T1/B1/onceSECRET42"
NO_ANSWER_S = 600.0  # "Slack" holds its answer this long (ended early when the receiver stops)
WAIT_S = 180.0  # generous readiness deadline on a busy 2-core machine; tests wait on state, never on time


def _alert(sub: Subscription, n: int, title: str | None = None) -> Alert:
    return Alert(alert_id=alert_id(sub.id, sid(n)), subscription_id=sub.id, subscription_name=sub.name,
                 story_id=sid(n), cluster_id=sid(n), title=title or f"AI Act story {n}",
                 url=f"https://example.org/story/{n}", source="Example News",
                 trace=Trace(first_seen_at=datetime(2026, 11, 20, 9, 1, tzinfo=UTC)))


def _destination(receiver: SlackReceiver, kind: str) -> Destination:
    if kind == "bot":
        return Destination(kind="bot", bot_token=TOKEN, channel=CHANNEL)
    return Destination(kind="webhook", webhook_url=receiver.webhook_url(HOOK))


def _message_path(kind: str) -> str:
    return POST_MESSAGE_PATH if kind == "bot" else f"/services/{HOOK}"


def wait_for(condition: Callable[[], bool], what: str, check: Callable[[], None] | None = None) -> None:
    """Poll ``condition`` until true; ``check`` fails fast (a crashed loop, a dead process)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if check is not None:
            check()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class _Record:
    """The fields of a Kafka record the stage reads."""

    def __init__(self, value: bytes) -> None:
        self.value, self.key, self.topic, self.partition, self.offset = value, b"k", "alerts", 0, 0


def _committed_and_end(settings: Settings, group: str, topic: str) -> tuple[int, int]:
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, group, [])
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        ends = consumer.end_offsets(parts)
        return sum(consumer.committed(tp) or 0 for tp in parts), sum(ends.values())
    finally:
        consumer.close(autocommit=False)


def _ledger_and_store(settings: Settings) -> tuple[AlertLedger, SubscriptionStore]:
    es = demo.es_client(settings)
    return AlertLedger(es, settings.index("alert-ledger")), SubscriptionStore(es, settings.index("subscriptions"))


def test_bot_slack_answering_after_the_timeout_gets_exactly_one_message(initialized) -> None:  # noqa: ANN001
    """A bot-token post whose answer comes after the sender's timeout is found in channel history, not re-posted."""
    settings = initialized.model_copy(update={"slack_send_timeout_s": 0.5})
    ledger, store = _ledger_and_store(settings)
    with SlackReceiver() as receiver:
        receiver.fault(POST_MESSAGE_PATH, Fault(delay_s=NO_ANSWER_S))  # accepted at once, answered far too late
        sub = store.add(Subscription(name="slow bot", query='"AI Act"', destination=_destination(receiver, "bot")))
        alert = _alert(sub, 1)
        ledger.record([alert], alert.trace.first_seen_at)

        def after_receipt(seconds: float) -> None:  # retries begin once "Slack" holds the first post
            wait_for(lambda: len(receiver.deliveries) >= 1, "the receiver to hold the first post")
            time.sleep(seconds)

        _, client = slack_sender(settings)  # the SSRF-guarded client with the 0.5 s answer timeout
        with client:
            stage = NotifyStage(store, ledger, SlackSender(client, min_interval_s=0.0, sleep=after_receipt),
                                receiver.api_base)
            rejected = stage([_Record(alert.to_bytes())])
        messages = receiver.messages(CHANNEL)
        history_reads = [r for r in receiver.requests if r.path == HISTORY_PATH]

    assert rejected == {}
    assert len(receiver.deliveries) == 1 and len(messages) == 1
    assert messages[0]["metadata"]["event_payload"] == {"alert_id": alert.alert_id}
    assert history_reads and history_reads[0].payload["include_all_metadata"] == "true"
    entry = ledger.get(alert.alert_id)
    assert entry["status"] == "delivered" and entry["delivered_via"] == "history"


@pytest.mark.parametrize("kind", ["bot", "webhook"])
def test_notifier_killed_while_slack_is_slow_then_restarted(initialized, tmp_path: Path, kind: str) -> None:  # noqa: ANN001
    """A notifier SIGKILLed after Slack got the post but before it answered: bot -> one message; webhook -> at
    most two, with the ledger saying possible_duplicate."""
    settings = initialized
    ledger, store = _ledger_and_store(settings)
    with SlackReceiver() as receiver:
        receiver.fault(_message_path(kind), Fault(delay_s=NO_ANSWER_S))  # only the first post is left unanswered
        sub = store.add(Subscription(name=f"killed {kind}", query='"AI Act"', destination=_destination(receiver, kind)))
        alert = _alert(sub, 2)
        ledger.record([alert], alert.trace.first_seen_at)
        produce(settings.kafka_bootstrap, settings.topic(ALERTS), [(sub.id.encode(), alert.to_bytes())])
        # A long answer timeout: the process is killed while it waits, never because it gave up.
        env = {"GOVWATCH_SLACK_API_BASE": receiver.api_base, "GOVWATCH_SLACK_SEND_TIMEOUT_S": str(NO_ANSWER_S),
               "GOVWATCH_SLACK_MIN_INTERVAL_S": "0"}
        first = _notify_process(settings, env, tmp_path / "notify-1.log")
        try:
            wait_for(lambda: len(receiver.deliveries) >= 1, "the first post to reach the receiver",
                     _alive(first, tmp_path / "notify-1.log"))
        finally:
            first.kill()
            first.wait(timeout=60)
        assert ledger.get(alert.alert_id)["status"] == "sending"  # recorded before posting, answer never recorded

        second = _notify_process(settings, env, tmp_path / "notify-2.log")
        try:
            wait_for(lambda: ledger.get(alert.alert_id)["status"] == "delivered", "the restarted notifier",
                     _alive(second, tmp_path / "notify-2.log"))
        finally:
            second.terminate()
            second.wait(timeout=60)
        deliveries = receiver.deliveries

    entry = ledger.get(alert.alert_id)
    if kind == "bot":
        assert len(deliveries) == 1 and entry["delivered_via"] == "history"
        assert not entry.get("possible_duplicate")
    else:
        assert 1 <= len(deliveries) <= 2 and entry["possible_duplicate"] is True


def _notify_process(settings: Settings, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """consumers/notify.py as a real process (like tests.support.stages.consumer_process, plus ``env``)."""
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, str(REPO / "consumers" / "notify.py")], cwd=REPO,
                                env=demo.child_env(settings, env), stdout=log, stderr=subprocess.STDOUT)


def _alive(proc: subprocess.Popen, log_path: Path) -> Callable[[], None]:
    def check() -> None:
        assert proc.poll() is None, f"notify exited {proc.returncode}: {log_path.read_text()[-2000:]}"
    return check


def test_missing_ledger_entry_is_recreated_without_crash_loop(initialized) -> None:  # noqa: ANN001
    """An alert with no ledger entry is recorded, posted once, and its offset committed: no crash, no re-post."""
    settings = initialized
    ledger, store = _ledger_and_store(settings)
    group = f"{settings.topic_prefix}.notify"
    with SlackReceiver() as receiver:
        sub = store.add(Subscription(name="no entry", query='"AI Act"', destination=_destination(receiver, "webhook")))
        alert = _alert(sub, 3)  # produced, but never recorded in the ledger
        produce(settings.kafka_bootstrap, settings.topic(ALERTS), [(sub.id.encode(), alert.to_bytes())])
        sender = SlackSender(_client(), min_interval_s=0.0)
        stage = NotifyStage(store, ledger, sender, receiver.api_base)
        with notify_loop(settings, stage, group) as check:
            wait_for(lambda: (ledger.get(alert.alert_id) or {}).get("status") == "delivered", "delivery", check)
            wait_for(lambda: _committed_and_end(settings, group, settings.topic(ALERTS))[0] == 1,
                     "the offset commit", check)
        assert stage([_Record(alert.to_bytes())]) == {}  # a replay is skipped
        deliveries = receiver.deliveries
        sender._client.close()

    assert len(deliveries) == 1
    assert _committed_and_end(settings, group, settings.topic(ALERTS)) == (1, 1)
    assert ledger.get(alert.alert_id)["alert"]["alert_id"] == alert.alert_id


def test_paused_alerts_are_held_then_released_once_on_resume(initialized) -> None:  # noqa: ANN001
    """While paused nothing is posted or dead-lettered (alerts are held); `resume` sends one catch-up message."""
    settings = initialized
    ledger, store = _ledger_and_store(settings)
    group = f"{settings.topic_prefix}.notify"
    with SlackReceiver() as receiver:
        sub = store.add(Subscription(name="paused hook", query='"AI Act"', paused=True,
                                     destination=_destination(receiver, "webhook")))
        alerts = [_alert(sub, n, title=f"Held story number {n}") for n in (10, 11, 12)]
        ledger.record(alerts, alerts[0].trace.first_seen_at)
        produce(settings.kafka_bootstrap, settings.topic(ALERTS), [(sub.id.encode(), a.to_bytes()) for a in alerts])
        sender = SlackSender(_client(), min_interval_s=0.0)
        with notify_loop(settings, NotifyStage(store, ledger, sender, receiver.api_base), group) as check:
            def held() -> bool:
                statuses = [ledger.get(a.alert_id)["status"] for a in alerts]
                assert "dead_lettered" not in statuses, statuses
                return statuses == ["held"] * 3

            wait_for(held, "the paused subscription's alerts to be held", check)
            wait_for(lambda: _committed_and_end(settings, group, settings.topic(ALERTS))[0] == 3, "commit", check)
        sender._client.close()
        assert receiver.requests == []
        assert _committed_and_end(settings, group, settings.topic(dlq(ALERTS)))[1] == 0  # nothing dead-lettered

        resumed = _cli(settings, "subscriptions", "resume", sub.id)
        again = _cli(settings, "subscriptions", "resume", sub.id)
        deliveries = receiver.deliveries

    assert "3 alert(s) held while paused sent as one catch-up message" in resumed
    assert again.strip() == f"{sub.id} active"  # nothing held any more: nothing sent again
    assert len(deliveries) == 1
    text = str(deliveries[0].payload)
    assert all(f"Held story number {n}" in text for n in (10, 11, 12))
    entries = [ledger.get(a.alert_id) for a in alerts]
    assert [(e["status"], e["delivered_via"]) for e in entries] == [("delivered", "catch_up")] * 3
    assert store.get(sub.id).paused is False


def _client() -> Any:  # noqa: ANN401
    import httpx

    return httpx.Client(timeout=30.0, trust_env=False)


def _cli(settings: Settings, *argv: str) -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "govwatch"), *argv], env=demo.child_env(settings, {}),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
