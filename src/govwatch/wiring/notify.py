"""The notify consumer's stage: subscriptions, alert ledger, the process's one Slack sender, the re-drive thread."""

from __future__ import annotations

from kafka import KafkaProducer

from govwatch.adapters.kafka_topics import ALERTS
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.redrive import Redriver, RedriveThread, kafka_produce
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.threads import EventThreads
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.wiring.clients import elasticsearch, slack_sender


def build_notify_stage(settings: Settings, producer: KafkaProducer) -> NotifyStage:
    """The notify stage, with its re-drive thread running (stopped by the stage's close())."""
    es = elasticsearch(settings)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    sender, client = slack_sender(settings)  # SSRF-guarded, webhook hosts allowlisted: webhook URLs are user input
    redrive = RedriveThread(Redriver(ledger, kafka_produce(producer, settings.topic(ALERTS)))).start()

    def close() -> None:
        redrive.stop()
        client.close()

    return NotifyStage(SubscriptionStore(es, settings.index("subscriptions")), ledger, sender, settings.slack_api_base,
                       on_close=close, retry_window_s=settings.slack_retry_window_s,
                       threads=EventThreads(es, settings.index("alert-threads")))
