"""reads govwatch.stories.indexed -> writes govwatch.alerts; dead letters to govwatch.stories.indexed.dlq.

Matches every indexed batch against the active subscriptions and records each match once in the
alert ledger (govwatch-alert-ledger) before producing it. Run several in one consumer group to split
the partitions: `python consumers/alert.py`.
"""

from __future__ import annotations

import sys

from govwatch.adapters.kafka_topics import INDEXED
from govwatch.wiring.alert import build_alert_stage
from govwatch.wiring.consumer import run_consumer


def main() -> int:
    return run_consumer("alert", INDEXED, build_alert_stage, max_poll_records=20)


if __name__ == "__main__":
    sys.exit(main())
