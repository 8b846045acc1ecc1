"""reads govwatch.alerts -> writes Slack (incoming webhooks or chat.postMessage) and the alert ledger;
dead letters to govwatch.alerts.dlq.

Partitioned by subscription id, so one destination's messages stay in order in one process, where the
per-destination rate limit (~1 message/s) holds. Run several in one group: `python consumers/notify.py`.
"""

from __future__ import annotations

import sys

import httpx

from govwatch import es_io, kafka_io
from govwatch.alerts.ledger import Ledger
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.store import SubscriptionStore
from govwatch.consumer import StopFlag, run_loop
from govwatch.fetch import guarded_transport
from govwatch.log import configure_logging
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.topics import ALERTS

GROUP = "notify"


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = StopFlag()
    stop.install_signal_handlers()
    es = es_io.make_client(settings.es_url)
    # Webhook URLs are user input: the same SSRF guard as feeds and pages applies to them.
    client = httpx.Client(transport=guarded_transport(settings), timeout=10.0, follow_redirects=False,
                          trust_env=False)
    stage = NotifyStage(SubscriptionStore(es, settings.index("subscriptions")),
                        Ledger(es, settings.index("alert-ledger")),
                        SlackSender(client, min_interval_s=settings.slack_min_interval_s), settings.slack_api_base)
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    consumer = kafka_io.make_consumer(settings.kafka_bootstrap, f"{settings.topic_prefix}.{GROUP}",
                                      [settings.topic(ALERTS)], max_poll_records=20)
    try:
        run_loop(consumer, stage, producer, "notify", stop)
    finally:
        consumer.close(autocommit=False)
        producer.close()
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
