"""Kafka topic names and their configuration (the one place they are defined).

| logical name        | partitions | cleanup  | retention | holds                                   |
|---------------------|-----------:|----------|-----------|-----------------------------------------|
| stories.raw         | 6          | delete   | 7 days    | RawStory, key = story id                |
| stories.enriched    | 6          | delete   | 7 days    | EnrichedStory, key = story id           |
| stories.indexed     | 3          | delete   | 7 days    | IndexedBatch, key = batch id            |
| alerts              | 3          | delete   | 7 days    | Alert, key = subscription id            |
| feeds.state         | 1          | compact  | forever   | per-feed poll state, key = feed id      |
| <each of the first four>.dlq | 1 | delete   | 30 days   | DeadLetter with reason + payload        |

Partitions bound how many processes of one consumer stage can share the work; six lets the
enrich stage (the slow one: page fetch + extraction) scale to six processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


RAW = "stories.raw"
ENRICHED = "stories.enriched"
INDEXED = "stories.indexed"
ALERTS = "alerts"
FEED_STATE = "feeds.state"


def dlq(name: str) -> str:
    """Dead-letter topic of a logical topic: where its unprocessable messages go."""
    return f"{name}.dlq"


def _delete(days: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS)}


LOGICAL_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(RAW, 6, _delete(7)),
    TopicSpec(ENRICHED, 6, _delete(7)),
    TopicSpec(INDEXED, 3, _delete(7)),
    TopicSpec(ALERTS, 3, _delete(7)),
    # Compacted: the latest state per feed is all we ever read back, and it must never expire.
    TopicSpec(FEED_STATE, 1, {"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "60000"}),
    *(TopicSpec(dlq(n), 1, _delete(30)) for n in (RAW, ENRICHED, INDEXED, ALERTS)),
)


def topic_specs(prefix: str) -> list[TopicSpec]:
    """The topic specs with their full names under ``prefix``."""
    return [TopicSpec(f"{prefix}.{t.name}", t.partitions, dict(t.config)) for t in LOGICAL_TOPICS]
