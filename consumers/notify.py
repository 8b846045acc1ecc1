"""reads govwatch.alerts -> writes Slack (incoming webhooks or chat.postMessage) and the alert ledger;
dead letters to govwatch.alerts.dlq.

Partitioned by subscription id, so one destination's messages stay in order in one process, where the
per-destination rate limit (~1 message/s) holds. Run several in one group: `python consumers/notify.py`.
"""

from __future__ import annotations

import sys

from kafka import KafkaProducer

from govwatch import es_io
from govwatch.alerts.ledger import Ledger
from govwatch.alerts.slack_send import make_sender
from govwatch.alerts.store import SubscriptionStore
from govwatch.consumer import run_consumer
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.topics import ALERTS


def build(settings: Settings, producer: KafkaProducer) -> NotifyStage:
    del producer  # the notifier produces nothing; dead letters go through the loop
    es = es_io.make_client(settings)
    sender, client = make_sender(settings)  # SSRF-guarded: webhook URLs are user input
    return NotifyStage(SubscriptionStore(es, settings.index("subscriptions")), Ledger(es, settings.index("alert-ledger")),
                       sender, settings.slack_api_base, on_close=client.close)


def main() -> int:
    return run_consumer("notify", ALERTS, build, max_poll_records=20)


if __name__ == "__main__":
    sys.exit(main())
