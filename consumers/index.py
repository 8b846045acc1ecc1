"""reads govwatch.stories.enriched -> writes Elasticsearch (govwatch-stories-YYYY.MM) and govwatch.stories.indexed;
dead letters to govwatch.stories.enriched.dlq.

Run several of these in one consumer group to split the partitions: `python consumers/index.py`.
"""

from __future__ import annotations

import sys

from govwatch.adapters.kafka_topics import ENRICHED
from govwatch.wiring.consumer import run_consumer
from govwatch.wiring.index import build_index_stage


def main() -> int:
    return run_consumer("index", ENRICHED, build_index_stage, max_poll_records=200)


if __name__ == "__main__":
    sys.exit(main())
