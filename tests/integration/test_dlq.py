"""``govwatch dlq list | replay`` against the real broker, Elasticsearch ledger, notify loop and Slack receiver:
a dead-lettered alert is listed with its reason, replayed once the destination works again, and delivered once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from govwatch.adapters.kafka_topics import ALERTS
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.stages.notifier import NotifyStage
from govwatch_dev import demo
from govwatch_dev.slack_receiver import ScriptedResponse, SlackReceiver
from tests.integration.test_notify_once import _alert, _committed_and_end, notify_loop, wait_for
from tests.support.kafka_util import produce

HOOK = "T9/B9/dlqSECRET77"


def _cli(settings, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {**os.environ, "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix,
           "GOVWATCH_INDEX_PREFIX": settings.index_prefix, "GOVWATCH_LOG_FORMAT": "json"}
    govwatch = str(Path(sys.executable).with_name("govwatch"))
    return subprocess.run([govwatch, "dlq", *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_dead_lettered_alert_is_listed_replayed_and_delivered_once(initialized, unique) -> None:  # noqa: ANN001
    """A webhook that answered 404 dead-letters its alert; after the destination works again, `dlq replay`
    delivers it exactly once, and a second replay delivers nothing more."""
    settings = initialized
    es = demo.es_client(settings)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    store = SubscriptionStore(es, settings.index("subscriptions"))
    import httpx

    with SlackReceiver() as receiver, httpx.Client(timeout=10) as client:
        receiver.script(f"/services/{HOOK}", ScriptedResponse(404, "no_service"))  # revoked, then re-created
        sub = store.add(Subscription(name="AI Act", query='"AI Act"',
                                     destination=Destination(kind="webhook", webhook_url=receiver.webhook_url(HOOK))))
        alert = _alert(sub, 1)
        ledger.record([alert], alert.trace.first_seen_at)
        stage = NotifyStage(store, ledger, SlackSender(client, min_interval_s=0.0), receiver.api_base)
        group = f"g{unique}"
        with notify_loop(settings, stage, group) as check:
            produce(settings.kafka_bootstrap, settings.topic(ALERTS), [(sub.id.encode(), alert.to_bytes())])
            wait_for(lambda: (ledger.get(alert.alert_id) or {}).get("status") == "dead_lettered",
                     "the alert to be dead-lettered", check)
            listed = _cli(settings, "list", "--topic", ALERTS)
            assert listed.returncode == 0, listed.stderr
            assert listed.stdout.startswith("1 dead letters") and "DeliveryRejected" in listed.stdout
            assert "no_service" in listed.stdout and HOOK not in listed.stdout  # the secret is never printed

            replayed = _cli(settings, "replay", "--topic", ALERTS)
            assert replayed.returncode == 0, replayed.stderr
            assert "1 to" in replayed.stdout and "1 alerts re-opened" in replayed.stdout
            wait_for(lambda: (ledger.get(alert.alert_id) or {}).get("status") == "delivered", "delivery", check)

            again = _cli(settings, "replay", "--topic", ALERTS)
            assert again.returncode == 0 and "re-opened" not in again.stdout
            wait_for(lambda: _committed_and_end(settings, group, settings.topic(ALERTS))[0] == 3,
                     "the second replay to be consumed", check)
        delivered = [r for r in receiver.deliveries if r.path == f"/services/{HOOK}"]
    assert len(delivered) == 1
