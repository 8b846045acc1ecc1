"""reads govwatch.alerts -> writes Slack (incoming webhooks or chat.postMessage) and the alert ledger;
re-drives deferred alerts from the ledger back to govwatch.alerts; dead letters to govwatch.alerts.dlq.

Partitioned by subscription id, so one destination's messages stay in order in one process, where the
per-destination rate limit (~1 message/s) and circuit breaker hold. A destination that is rate-limited or failing
never holds the others: its alerts are deferred in the ledger and re-driven when it takes messages again
(see govwatch.stages.notifier). Run several in one group: `python consumers/notify.py`.
"""

from __future__ import annotations

import sys

from kafka import KafkaProducer

from govwatch.adapters import es_io
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.redrive import Redriver, RedriveThread, kafka_produce
from govwatch.alerts.slack_send import make_sender
from govwatch.alerts.store import SubscriptionStore
from govwatch.loop.consumer import run_consumer
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.adapters.kafka_topics import ALERTS


def build(settings: Settings, producer: KafkaProducer) -> NotifyStage:
    """The notify stage, with its re-drive thread running (stopped by the stage's close())."""
    es = es_io.make_client(settings)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    sender, client = make_sender(settings)  # SSRF-guarded, webhook hosts allowlisted: webhook URLs are user input
    redrive = RedriveThread(Redriver(ledger, kafka_produce(producer, settings.topic(ALERTS)))).start()

    def close() -> None:
        redrive.stop()
        client.close()

    return NotifyStage(SubscriptionStore(es, settings.index("subscriptions")), ledger, sender, settings.slack_api_base,
                       on_close=close, retry_window_s=settings.slack_retry_window_s)


def main() -> int:
    return run_consumer("notify", ALERTS, build, max_poll_records=20)


if __name__ == "__main__":
    sys.exit(main())
