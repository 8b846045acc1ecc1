"""reads govwatch.alerts -> writes Slack (incoming webhooks or chat.postMessage) and the alert ledger;
re-drives deferred alerts from the ledger back to govwatch.alerts; dead letters to govwatch.alerts.dlq.

Partitioned by subscription id, so one destination's messages stay in order in one process, where the
per-destination rate limit (~1 message/s) and circuit breaker hold. A destination that is rate-limited or failing
never holds the others: its alerts are deferred in the ledger and re-driven when it takes messages again
(see govwatch.stages.notifier). Run several in one group: `python consumers/notify.py`.
"""

from __future__ import annotations

import sys

from govwatch.adapters.kafka_topics import ALERTS
from govwatch.wiring.consumer import run_consumer
from govwatch.wiring.notify import build_notify_stage


def main() -> int:
    return run_consumer("notify", ALERTS, build_notify_stage, max_poll_records=20)


if __name__ == "__main__":
    sys.exit(main())
