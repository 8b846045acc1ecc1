"""reads govwatch.stories.raw -> writes govwatch.stories.enriched; dead letters to govwatch.stories.raw.dlq.

Fetches each story's page (SSRF-guarded), extracts text, finds entities, topics and near-duplicate
clusters. Run several in one consumer group to split the partitions: `python consumers/enrich.py`.
"""

from __future__ import annotations

import sys

from govwatch.adapters.kafka_topics import RAW
from govwatch.wiring.consumer import run_consumer
from govwatch.wiring.enrich import build_enrich_stage


def main() -> int:
    return run_consumer("enrich", RAW, build_enrich_stage, max_poll_records=50)


if __name__ == "__main__":
    sys.exit(main())
