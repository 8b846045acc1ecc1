"""Teams, JSON webhooks and e-mail pass Slack's delivery tests on real parts: the real ChannelReceiver (Teams and
webhook) and aiosmtpd (SMTP) on 127.0.0.1, the real Elasticsearch ledger and subscriptions, real Kafka and a real
notifier process for the kill test. Outage -> retried with backoff, then the breaker; slow answer -> unknown outcome,
resent with the same alert id (Idempotency-Key / Message-ID), possible_duplicate on the ledger; killed mid-send ->
nothing lost, at most the one documented duplicate; a refusal dead-letters; a host not allowed is never contacted;
an event's later stories roll up (only Slack bot tokens thread)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from govwatch.adapters.kafka_topics import ALERTS
from govwatch.alerts.breaker import DestinationBusy
from govwatch.alerts.channel_send import ChannelSender, SmtpConfig
from govwatch.alerts.ledger import AlertLedger, alert_id, key_for
from govwatch.alerts.rollup import send_rollups
from govwatch.alerts.slack_destination import WebhookHostRefused
from govwatch.alerts.slack_format import alert_blocks
from govwatch.alerts.slack_outcome import DestinationDown
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscription_service import CLI
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.alerts.threads import EventThreads
from govwatch.errors import DeliveryRejected
from govwatch.models import Alert, AlertLink, Trace, utcnow
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.wiring.clients import slack_sender
from govwatch.wiring.web import subscription_service
from govwatch_dev import demo
from govwatch_dev.channel_receiver import ChannelReceiver
from govwatch_dev.slack_receiver import Fault, ScriptedResponse
from govwatch_dev.smtp_receiver import SmtpReceiver
from tests.factories import sid
from tests.support.kafka_util import produce

REPO = Path(__file__).resolve().parents[2]
KINDS = ["teams", "json", "email"]
SECRET = "whsec-local-test-0123456789"
NO_ANSWER_S = 600.0  # the receiver holds its answer this long (ended early when it stops)
WAIT_S = 180.0  # readiness deadline on a busy machine; tests wait on state, never on time


@dataclass
class Channel:
    """One kind's receiver side: its destination, and what arrived (requests or mails, unique ids)."""

    kind: str
    http: ChannelReceiver
    smtp: SmtpReceiver

    @property
    def path(self) -> str:
        return {"teams": "/teams/workflow", "json": "/hooks/alerts"}.get(self.kind, "")

    def destination(self) -> Destination:
        if self.kind == "teams":
            return Destination(kind="teams", webhook_url=self.http.teams_url())
        if self.kind == "json":
            self.http.expect_signature(self.path, SECRET)
            return Destination(kind="json", webhook_url=self.http.hook_url(), signing_secret=SECRET)
        return Destination(kind="email", to=["policy-team@example.org"])

    def arrived(self) -> int:
        """Messages the receiver accepted (copies included)."""
        if self.kind == "email":
            return len(self.smtp.messages)
        return len([r for r in self.http.deliveries if r.path == self.path])

    def requests(self) -> int:
        return len(self.smtp.messages) if self.kind == "email" else len(
            [r for r in self.http.requests if r.path == self.path])

    def unique(self) -> int:
        """What a receiver that drops known ids keeps (Teams has no id: every copy counts)."""
        if self.kind == "email":
            return len(self.smtp.unique_message_ids())
        return len(self.http.unique(self.path)) if self.kind == "json" else self.arrived()

    def outage(self, times: int) -> None:
        if self.kind == "email":
            self.smtp.script(*["451 4.3.0 try again later"] * times)
        else:
            self.http.script(self.path, *[ScriptedResponse(503, "down")] * times)

    def refuse(self) -> None:
        if self.kind == "email":
            self.smtp.script("550 5.1.1 no such mailbox")
        else:
            self.http.script(self.path, ScriptedResponse(410, "gone"))

    def fault(self, fault: Fault) -> None:
        if self.kind == "email":
            self.smtp.fault(fault)
        else:
            self.http.fault(self.path, fault)

    def env(self) -> dict[str, str]:
        return {"GOVWATCH_TEAMS_WEBHOOK_HOSTS": "127.0.0.1", "GOVWATCH_JSON_WEBHOOK_HOSTS": "127.0.0.1",
                "GOVWATCH_SMTP_HOST": self.smtp.host, "GOVWATCH_SMTP_PORT": str(self.smtp.port),
                "GOVWATCH_SMTP_STARTTLS": "false", "GOVWATCH_SMTP_FROM": "alerts@govwatch.example"}


@pytest.fixture(params=KINDS)
def channel(request: pytest.FixtureRequest) -> Iterator[Channel]:
    with ChannelReceiver() as http, SmtpReceiver() as smtp:
        yield Channel(request.param, http, smtp)


def _settings(base: Settings, channel: Channel, **update: object) -> Settings:
    return base.model_copy(update={"teams_webhook_hosts": ["127.0.0.1"], "json_webhook_hosts": ["127.0.0.1"],
                                   "smtp_host": channel.smtp.host, "smtp_port": channel.smtp.port,
                                   "smtp_starttls": False, "smtp_from": "alerts@govwatch.example", **update})


def _sender(channel: Channel, client: httpx.Client, smtp_timeout_s: float = 5.0) -> ChannelSender:
    smtp = SmtpConfig(channel.smtp.host, channel.smtp.port, starttls=False, sender="alerts@govwatch.example",
                      timeout_s=smtp_timeout_s)
    return ChannelSender(client, teams_hosts=["127.0.0.1"], json_hosts=["127.0.0.1"], smtp=smtp,
                         min_interval_s=0.0)


def _alert(sub: Subscription, n: int) -> Alert:
    return Alert(alert_id=alert_id(sub.id, sid(n)), subscription_id=sub.id, subscription_name=sub.name,
                 story_id=sid(n), cluster_id=sid(n), title=f"AI Act story {n}", url=f"https://example.org/story/{n}",
                 source="Example News", published_at=datetime(2026, 11, 30, 23, 50, tzinfo=UTC),
                 trace=Trace(first_seen_at=datetime(2026, 12, 1, 0, 5, tzinfo=UTC)))


class _Record:
    def __init__(self, value: bytes) -> None:
        self.value, self.key, self.topic, self.partition, self.offset = value, b"k", "alerts", 0, 0


def _ledger_and_store(settings: Settings) -> tuple[AlertLedger, SubscriptionStore]:
    es = demo.es_client(settings)
    return AlertLedger(es, settings.index("alert-ledger")), SubscriptionStore(es, settings.index("subscriptions"))


def _send(sender: ChannelSender, channel: Channel, payload: dict, key: str = "a" * 64) -> object:
    dest = channel.destination()
    url = dest.webhook_url.get_secret_value() if dest.webhook_url else ""
    if channel.kind == "teams":
        return sender.send_teams(url, payload)
    if channel.kind == "json":
        return sender.send_json(url, payload, alert_id=key, secret=SECRET)
    return sender.send_email(list(dest.to), payload, alert_id=key)


def _payload() -> dict:
    sub = Subscription(name="EU AI Act", query='"AI Act"', destination=Destination(kind="email", to=["a@example.org"]))
    return alert_blocks(_alert(sub, 1))


def test_outage_is_retried_with_backoff_then_delivered_once(channel: Channel) -> None:
    channel.outage(2)
    with httpx.Client(timeout=5.0) as client:
        started = time.monotonic()
        result = _send(_sender(channel, client), channel, _payload())
        elapsed = time.monotonic() - started
    assert channel.arrived() == 1 and channel.unique() == 1
    assert getattr(result, "posts", None) == 3 and not getattr(result, "possible_duplicate", True)
    assert elapsed >= 1.5 - 0.05  # backoff of 0.5 s then 1 s between the three attempts


def test_outage_past_the_budget_opens_the_breaker(channel: Channel) -> None:
    channel.outage(50)
    with httpx.Client(timeout=5.0) as client:
        sender = _sender(channel, client)
        with pytest.raises(DestinationDown) as down:
            _send(sender, channel, _payload())
        before = channel.requests() + len(channel.http.requests)
        with pytest.raises(DestinationBusy):
            _send(sender, channel, _payload(), key="b" * 64)
    assert (down.value.retry_after or 0) > 0
    assert channel.requests() + len(channel.http.requests) == before  # the open circuit sent nothing
    assert channel.arrived() == 0


def test_refusal_is_permanent_and_names_no_secret(channel: Channel) -> None:
    channel.refuse()
    with httpx.Client(timeout=5.0) as client, pytest.raises(DeliveryRejected) as refused:
        _send(_sender(channel, client), channel, _payload())
    assert "410" in str(refused.value) or "550" in str(refused.value)
    assert "/teams/workflow" not in str(refused.value) and "/hooks/alerts" not in str(refused.value)
    assert channel.arrived() == 0


def test_host_not_on_the_allowlist_is_never_contacted() -> None:
    with ChannelReceiver() as http, httpx.Client(timeout=5.0) as client:
        sender = ChannelSender(client, teams_hosts=["*.webhook.office.com"], json_hosts=[], min_interval_s=0.0)
        with pytest.raises(WebhookHostRefused, match="GOVWATCH_TEAMS_WEBHOOK_HOSTS"):
            sender.send_teams(http.teams_url(), _payload())
        with pytest.raises(WebhookHostRefused, match="GOVWATCH_JSON_WEBHOOK_HOSTS"):
            sender.send_json(http.hook_url(), _payload(), alert_id="x")
        with pytest.raises(DeliveryRejected, match="GOVWATCH_SMTP_HOST"):
            sender.send_email(["a@example.org"], _payload(), alert_id="x")
        assert http.requests == []


def test_wrong_signing_secret_is_refused_by_the_receiver() -> None:
    with ChannelReceiver() as http, httpx.Client(timeout=5.0) as client:
        http.expect_signature("/hooks/alerts", SECRET)
        sender = ChannelSender(client, json_hosts=["127.0.0.1"], min_interval_s=0.0)
        with pytest.raises(DeliveryRejected, match="401"):
            sender.send_json(http.hook_url(), _payload(), alert_id="x", secret="another-secret-0123456789")
        sender.send_json(http.hook_url(), _payload(), alert_id="y", secret=SECRET)
        received = http.deliveries[-1]
    assert received.headers["idempotency-key"] == "y" and received.headers["x-govwatch-signature"].startswith("v1=")


def test_slow_answer_through_the_notifier_resends_with_the_same_id(initialized, channel: Channel) -> None:  # noqa: ANN001
    """The first send is accepted but answered after the timeout: unknown outcome, resent once, the ledger says
    possible_duplicate; the JSON receiver and the mailbox see one id, Teams (no id) may show two."""
    settings = _settings(initialized, channel, slack_send_timeout_s=0.5, smtp_timeout_s=0.5)
    ledger, store = _ledger_and_store(settings)
    channel.fault(Fault(delay_s=NO_ANSWER_S))
    sub = store.add(Subscription(name=f"slow {channel.kind}", query='"AI Act"', destination=channel.destination()))
    alert = _alert(sub, 1)
    ledger.record([alert], alert.trace.first_seen_at)
    sender, client = slack_sender(settings)
    with client:
        rejected = NotifyStage(store, ledger, sender, settings.slack_api_base)([_Record(alert.to_bytes())])
    assert rejected == {}
    entry = ledger.get(alert.alert_id)
    assert entry["status"] == "delivered" and entry["possible_duplicate"] is True
    assert channel.arrived() == 2 and channel.unique() == (2 if channel.kind == "teams" else 1)


def test_send_test_message_through_the_service(initialized, channel: Channel) -> None:  # noqa: ANN001
    """What `govwatch subscriptions send-test` and the web app's "Send test message" call."""
    settings = _settings(initialized, channel)
    service = subscription_service(settings)
    sub = service.create(CLI, Subscription(name="EU <!channel> test", query='"AI Act"',
                                           destination=channel.destination()))
    where = service.send_test(CLI, sub.id)
    assert where == sub.destination.masked() and channel.arrived() == 1
    if channel.kind == "email":
        mail = channel.smtp.messages[0].message
        assert "EU <!channel> test" in mail.get_body(("plain",)).get_content()
        assert "EU &lt;!channel&gt; test" in mail.get_body(("html",)).get_content()
    elif channel.kind == "teams":
        card = channel.http.deliveries[0].payload["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard"
    else:
        body = channel.http.deliveries[0].payload
        assert body["schema"] == "govwatch.alert.v1" and "EU <!channel> test" in body["text"]


def test_notifier_killed_mid_send_then_restarted(initialized, channel: Channel, tmp_path: Path) -> None:  # noqa: ANN001
    """SIGKILL while the receiver holds the first send unanswered: after a restart the alert is delivered, at most
    one copy more, marked possible_duplicate; the JSON receiver and the mailbox see one id."""
    settings = initialized
    ledger, store = _ledger_and_store(settings)
    channel.fault(Fault(delay_s=NO_ANSWER_S))  # only the first send is left unanswered
    sub = store.add(Subscription(name=f"killed {channel.kind}", query='"AI Act"', destination=channel.destination()))
    alert = _alert(sub, 2)
    ledger.record([alert], alert.trace.first_seen_at)
    produce(settings.kafka_bootstrap, settings.topic(ALERTS), [(sub.id.encode(), alert.to_bytes())])
    env = {**channel.env(), "GOVWATCH_SLACK_SEND_TIMEOUT_S": str(NO_ANSWER_S),
           "GOVWATCH_SMTP_TIMEOUT_S": str(NO_ANSWER_S), "GOVWATCH_SLACK_MIN_INTERVAL_S": "0"}
    first = _notify_process(settings, env, tmp_path / "notify-1.log")
    try:
        _wait(lambda: channel.arrived() >= 1, "the first send to reach the receiver", first, tmp_path / "notify-1.log")
    finally:
        first.kill()
        first.wait(timeout=60)
    assert ledger.get(alert.alert_id)["status"] == "sending"
    second = _notify_process(settings, env, tmp_path / "notify-2.log")
    try:
        _wait(lambda: ledger.get(alert.alert_id)["status"] == "delivered", "the restarted notifier", second,
              tmp_path / "notify-2.log")
    finally:
        second.terminate()
        second.wait(timeout=60)
    entry = ledger.get(alert.alert_id)
    assert 1 <= channel.arrived() <= 2 and entry["possible_duplicate"] is True
    assert channel.unique() == (channel.arrived() if channel.kind == "teams" else 1)


def _notify_process(settings: Settings, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, str(REPO / "consumers" / "notify.py")], cwd=REPO,
                                env=demo.child_env(settings, env), stdout=log, stderr=subprocess.STDOUT)


def _wait(condition: Callable[[], bool], what: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert proc.poll() is None, f"notify exited {proc.returncode}: {log_path.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_event_stories_roll_up_on_every_channel(initialized, channel: Channel) -> None:  # noqa: ANN001
    """Only a Slack bot token threads: on these channels an event's first story is posted, the later ones wait as
    rollup_pending and go out once as one "more coverage" message; a second roll-up run sends nothing."""
    settings = _settings(initialized, channel)
    ledger, store = _ledger_and_store(settings)
    threads = EventThreads(demo.es_client(settings), settings.index("alert-threads"))
    sub = store.add(Subscription(name=f"summit {channel.kind}", query='"AI Act"', granularity="event",
                                 destination=channel.destination()))
    alerts = [_alert(sub, n).model_copy(update={
        "granularity": "event", "event_id": "ev-summit",
        "alert_id": key_for("event", sub.id, sid(n), sid(n), "ev-summit")}) for n in (1, 2, 3)]
    ledger.record(alerts, utcnow())
    sender, client = slack_sender(settings)
    with client:
        stage = NotifyStage(store, ledger, sender, settings.slack_api_base, threads=threads)
        for alert in alerts:  # one at a time: the parent is recorded before the later stories arrive
            assert stage([_Record(alert.to_bytes())]) == {}
        statuses = [ledger.get(a.alert_id)["status"] for a in alerts]
        summary = send_rollups(store, ledger, threads, sender, settings.slack_api_base, utcnow())
        again = send_rollups(store, ledger, threads, sender, settings.slack_api_base, utcnow())
    assert statuses == ["delivered", "rollup_pending", "rollup_pending"]
    assert summary.sent == {f"summit {channel.kind} (more coverage)": 2} and again.sent == {}
    assert channel.arrived() == 2 and all(ledger.get(a.alert_id)["status"] == "delivered" for a in alerts)


def test_health_and_spike_messages_arrive_on_every_channel(initialized, channel: Channel) -> None:  # noqa: ANN001
    """An operations subscription on Teams, a JSON webhook or e-mail gets a source-health incident, its recovery and
    a spike alert through the same notifier and ledger as keyword alerts: each once, with its reason and the link to
    the feed's source page; replaying the records sends nothing more."""
    settings = _settings(initialized, channel)
    ledger, store = _ledger_and_store(settings)
    sub = store.add(Subscription(name=f"operations {channel.kind}", query="govwatch-operations-only",
                                 destination=channel.destination()))
    page = "https://govwatch.example.org/sources/quiet"
    base = _alert(sub, 7)

    def message(n: int, kind: str, title: str, line: str) -> Alert:
        return base.model_copy(update={
            "alert_id": alert_id(sub.id, sid(100 + n)), "story_id": sid(100 + n), "cluster_id": sid(100 + n),
            "kind": kind, "title": title, "url": page, "source": "govwatch source health", "lines": [line],
            "links": [AlertLink(title="Recent stories of Quiet Feed", url=page)]})

    messages = [message(1, "health", "Source health: Quiet Feed has gone silent",
                        "no new story for 16.5 h; it usually publishes every 3.0 h"),
                message(2, "health", "Recovered: Quiet Feed (silent)", "Healed after 1.5 h: a new story came"),
                message(3, "spike", "Spike: EU AI Act", "12 stories in the last 1 h, 4.0x the baseline")]
    ledger.record(messages, utcnow())
    sender, client = slack_sender(settings)
    with client:
        stage = NotifyStage(store, ledger, sender, settings.slack_api_base)
        records = [_Record(m.to_bytes()) for m in messages]
        assert stage(records) == {}
        assert stage(records) == {}  # a replay posts nothing more
    assert channel.arrived() == 3 and channel.unique() == 3
    assert all(ledger.get(m.alert_id)["status"] == "delivered" for m in messages)
    if channel.kind == "email":
        texts = [m.message.get_body(("plain",)).get_content() for m in channel.smtp.messages]
    else:
        texts = [json.dumps(r.payload) for r in channel.http.deliveries if r.path == channel.path]
    joined = "\n".join(texts)
    for needle in ("Quiet Feed has gone silent", "no new story for 16.5 h", "Recovered: Quiet Feed (silent)",
                   "Spike: EU AI Act", "4.0x the baseline", page):
        assert needle in joined, (needle, joined[:2000])
