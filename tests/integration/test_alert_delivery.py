"""Alert delivery through the real consumers: hostile text is neutralised, a revoked webhook is dead-lettered
without holding up the other subscriptions."""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path

from govwatch.adapters.kafka_topics import ALERTS, RAW, dlq
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.identity import story_id
from govwatch.models import DeadLetter
from govwatch_dev import demo
from govwatch_dev.slack_receiver import ScriptedResponse, SlackReceiver
from tests.factories import raw_story
from tests.support.httpserve import Route, Site, serve
from tests.support.kafka_util import produce, read_all

HOSTILE_TITLE = "EU AI Act fine <!channel> <!everyone> ping <@U123> see <https://x|y>"
HOSTILE_SUMMARY = "Regulators fined a lab under the AI Act. <!here> <https://evil.example|click here> & more"
# The page carries the hostile title as text (entity-encoded in HTML), exactly as a publisher would show it.
PAGE = f"""<html><head><title>{escape(HOSTILE_TITLE)}</title></head><body><article><h1>{escape(HOSTILE_TITLE)}</h1>
<p>Regulators in Brussels fined an AI lab under the AI Act on Tuesday, the first such penalty.</p>
<p>The European Commission said &lt;!channel&gt; enforcement would continue across the bloc.</p>
</article></body></html>"""
CONTROL = ("<!channel>", "<!everyone>", "<!here>", "<@U123>", "<https://x|y>", "<https://evil.example|click here>")


def test_injection_neutralised_and_revoked_webhook_dead_lettered(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """Slack control sequences in a story arrive escaped; a 410 webhook goes to the DLQ and ledger, the other
    delivers."""
    settings = initialized
    es = demo.es_client(settings)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    with SlackReceiver() as receiver, serve(Site()) as site:
        good = store.add(Subscription(name="AI Act fines", query='"AI Act" AND fine*',
                                      destination=Destination(kind="webhook",
                                                              webhook_url=receiver.webhook_url("T/B/good"))))
        revoked_url = receiver.webhook_url("T/B/revokedSECRET99")
        receiver.script("/services/T/B/revokedSECRET99", ScriptedResponse(410, "invalid_token"), forever=True)
        gone = store.add(Subscription(name="AI Act (revoked hook)", query='"AI Act"',
                                      destination=Destination(kind="webhook", webhook_url=revoked_url)))
        site.routes["/hostile"] = Route(PAGE.encode())
        url = site.url("/hostile")
        raw = raw_story("hostile", story_id=story_id(url), url=url, title=HOSTILE_TITLE, summary=HOSTILE_SUMMARY)
        pipeline = demo.Pipeline(settings, demo.child_env(settings, {}), tmp_path / "logs")
        pipeline.start()
        try:
            produce(settings.kafka_bootstrap, settings.topic(RAW), [(raw.story_id.encode(), raw.to_bytes())])
            letters = read_all(settings.kafka_bootstrap, settings.topic(dlq(ALERTS)), expect=1, timeout_s=120)
            deadline = time.monotonic() + 60
            while not receiver.deliveries:
                pipeline.check()
                assert time.monotonic() < deadline, "no delivery to the good subscription"
                time.sleep(0.2)
        finally:
            pipeline.stop()

    assert len(receiver.deliveries) == 1 and receiver.deliveries[0].path.endswith("/good")
    body = json.dumps(receiver.deliveries[0].payload)
    texts = list(_texts(receiver.deliveries[0].payload))
    assert all(seq not in t for t in texts for seq in CONTROL), texts
    assert all(seq.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in body
               for seq in ("<!channel>", "<!everyone>", "<@U123>")), body

    [letter] = [DeadLetter.from_bytes(r.value) for r in letters]
    assert letter.stage == "notify" and "410" in letter.reason and "revokedSECRET99" not in letter.reason
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    from govwatch.alerts.ledger import alert_id

    assert ledger.get(alert_id(gone.id, raw.story_id))["status"] == "dead_lettered"
    assert ledger.get(alert_id(good.id, raw.story_id))["status"] == "delivered"


def _texts(node: object) -> list[str]:
    """Every string in a Block Kit payload except the link URL inside the title's <url|label>."""
    if isinstance(node, dict):
        return [t for value in node.values() for t in _texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in _texts(value)]
    return [node] if isinstance(node, str) else []


def test_destination_failing_for_good_is_deferred_then_dead_lettered_after_the_retry_window(
        initialized) -> None:  # noqa: ANN001
    """A webhook answering 500 for ever: each attempt defers the alert in the ledger (the batch is never held);
    the first attempt after the retry window since its first failure rejects it (dead letter) with the reason."""
    from datetime import UTC, datetime, timedelta

    import httpx

    from govwatch.alerts.ledger import AlertLedger, alert_id
    from govwatch.alerts.slack_send import SlackSender
    from govwatch.models import Alert, Trace
    from govwatch.stages.notifier import NotifyStage
    from tests.factories import sid

    settings = initialized
    es = demo.es_client(settings)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]  # the stage's clock and the sender's, moved by the test
    mono = [1000.0]

    def advance(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)
        mono[0] += seconds

    with SlackReceiver() as receiver, httpx.Client(trust_env=False) as client:
        receiver.script("/services/T/B/broken", ScriptedResponse(500, "rollup_error"), forever=True)
        sub = SubscriptionStore(es, settings.index("subscriptions")).add(Subscription(
            name="broken hook", query='"AI Act"',
            destination=Destination(kind="webhook", webhook_url=receiver.webhook_url("T/B/broken"))))
        alert = Alert(alert_id=alert_id(sub.id, sid(1)), subscription_id=sub.id, subscription_name=sub.name,
                      story_id=sid(1), cluster_id=sid(1), title="AI Act story", url="https://example.org/1",
                      source="Example", trace=Trace(first_seen_at=now[0]))
        ledger.record([alert], now[0])
        sender = SlackSender(client, min_interval_s=0, clock=lambda: mono[0], sleep=lambda _s: None,
                             breaker_base_s=5.0, breaker_max_s=300.0)
        stage = NotifyStage(SubscriptionStore(es, settings.index("subscriptions")), ledger, sender,
                            settings.slack_api_base, retry_window_s=600.0, clock=lambda: now[0])
        record = _Record(alert.to_bytes())
        assert stage([record]) == {}  # deferred, not raised: the loop commits the batch
        first = ledger.get(alert.alert_id)
        requests_after_first = len(receiver.requests)
        assert stage([record]) == {}  # the circuit is open: deferred again without a request
        requests_while_open = len(receiver.requests) - requests_after_first
        advance(300)
        assert stage([record]) == {}
        advance(301)  # 601 s since the first failure: past the 600 s window
        rejected = stage([record])
    assert first["status"] == "failed" and first["attempts"] == 1 and "HTTP 500 rollup_error" in first["last_error"]
    assert first["next_attempt_at"] == (datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC)).isoformat()
    assert first["first_failed_at"] == datetime(2026, 12, 1, 9, 0, tzinfo=UTC).isoformat()
    assert requests_after_first >= 1 and requests_while_open == 0
    assert list(rejected) == [0] and "gave up after 4 attempts over 601s" in str(rejected[0])
    assert "rollup_error" in str(rejected[0])
    entry = ledger.get(alert.alert_id)
    assert entry["status"] == "dead_lettered" and entry["attempts"] == 4
    assert receiver.deliveries == []


class _Record:
    """The fields of a Kafka record the stage reads."""

    def __init__(self, value: bytes) -> None:
        self.value, self.key, self.topic, self.partition, self.offset = value, None, "alerts", 0, 0


def datetime_now():  # noqa: ANN201
    from govwatch.models import utcnow

    return utcnow()
