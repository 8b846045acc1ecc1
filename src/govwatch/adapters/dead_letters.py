"""Dead letters: send them (the consumer loop), read them back and replay them (``govwatch dlq list | replay``).

Every stage's unprocessable messages are in ``<topic>.dlq`` (:func:`dead_letter`, called by govwatch.loop) with the
reason, the error type, where they came from and the original payload. Replaying produces the payload again to
the original topic with the original key, so the message goes through the stage again; every sink is idempotent, so a
replay of something that already went through is absorbed. Two rules make a replay safe to repeat:

* one original message (topic, partition, offset) is replayed once per run, however often it was dead-lettered;
* an alert is re-opened in the ledger before it is produced (``dead_lettered`` -> ``failed``, attempts reset,
  ``outcome_unknown`` kept, so a bot-token destination still checks Slack before posting), since the notifier
  never delivers an alert its ledger says was given up; an alert the ledger has as delivered stays delivered.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import ValidationError

from govwatch.adapters.kafka_io import ACK_TIMEOUT_S, client_config
from govwatch.adapters.kafka_topics import ALERTS, ENRICHED, INDEXED, RAW, dlq
from govwatch.models import Alert, DeadLetter, utcnow

if TYPE_CHECKING:
    from govwatch.settings import Settings

STAGE_TOPICS = (RAW, ENRICHED, INDEXED, ALERTS)  # the topics that have a dead-letter topic
READ_IDLE_MS = 1_500  # a DLQ read ends once its partitions are at their end offsets, or after this much silence


@dataclass(frozen=True)
class LetterFilter:
    """Which dead letters a list/replay takes (all when empty)."""

    error_type: str | None = None
    reason_contains: str | None = None
    key: str | None = None
    since: datetime | None = None

    def accepts(self, dl: DeadLetter) -> bool:
        return ((self.error_type is None or dl.error_type == self.error_type)
                and (self.reason_contains is None or self.reason_contains.lower() in dl.reason.lower())
                and (self.key is None or dl.key == self.key or dl.story_id == self.key)
                and (self.since is None or dl.failed_at >= self.since))


@dataclass
class ReplaySummary:
    replayed: Counter[str] = field(default_factory=Counter)  # original topic -> messages produced again
    skipped_repeats: int = 0  # further dead letters of a message already replayed in this run
    reopened_alerts: int = 0
    unreadable: int = 0  # DLQ records that are not DeadLetter messages (reported, never replayed)

    def render(self) -> str:
        parts = [f"{n} to {topic}" for topic, n in sorted(self.replayed.items())] or ["nothing to replay"]
        extra = []
        if self.reopened_alerts:
            extra.append(f"{self.reopened_alerts} alerts re-opened in the ledger")
        if self.skipped_repeats:
            extra.append(f"{self.skipped_repeats} repeated dead letters of the same message skipped")
        if self.unreadable:
            extra.append(f"{self.unreadable} unreadable DLQ records left as they are")
        return "replayed: " + ", ".join(parts) + (f" ({'; '.join(extra)})" if extra else "")


def dead_letter(producer: KafkaProducer, stage: str, record: ConsumerRecord, error: Exception) -> None:
    """Send one record to its topic's dead-letter topic with its reason and original payload; waits for the ack."""
    value = record.value if isinstance(record.value, bytes) else bytes(record.value or b"")
    key = record.key.decode("utf-8", "replace") if isinstance(record.key, bytes) else record.key
    letter = DeadLetter(
        stage=stage, reason=str(error)[:2000], error_type=type(error).__name__, topic=record.topic,
        partition=record.partition, offset=record.offset, key=key, payload=value.decode("utf-8", "replace"),
        story_id=key if key and len(key) == 64 else None, failed_at=utcnow(),
    )
    producer.send(dlq(record.topic), key=record.key, value=letter.to_bytes()).get(timeout=ACK_TIMEOUT_S)


def read_letters(bootstrap: str | Settings, dlq_topics: Sequence[str], unreadable: Callable[[str], None] | None = None,
                 ) -> Iterator[DeadLetter]:
    """Every dead letter of ``dlq_topics`` from the beginning, oldest first per topic (no consumer group)."""
    consumer = KafkaConsumer(**client_config(bootstrap), group_id=None, enable_auto_commit=False,
                             client_id=f"govwatch-dlq-{uuid.uuid4().hex[:6]}", consumer_timeout_ms=READ_IDLE_MS)
    try:
        parts = [TopicPartition(t, p) for t in dlq_topics for p in sorted(consumer.partitions_for_topic(t) or [])]
        if not parts:
            return
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        remaining = {tp for tp in parts if ends[tp] > 0}
        while remaining:
            polled = consumer.poll(timeout_ms=READ_IDLE_MS)
            if not polled:
                break  # nothing arrived for a while: what was there has been read
            for tp, records in polled.items():
                for rec in records:
                    try:
                        yield DeadLetter.from_bytes(rec.value)
                    except (ValidationError, ValueError):
                        if unreadable is not None:
                            unreadable(f"{rec.topic}@{rec.offset}")
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()


def replay(letters: Sequence[DeadLetter], producer: KafkaProducer, reopen_alert: Callable[[str], bool],
           ) -> ReplaySummary:
    """Produce each letter's payload again to its original topic (key kept); waits for every ack.

    ``reopen_alert(alert_id)`` re-opens a dead-lettered ledger entry and says whether it did.
    """
    summary = ReplaySummary()
    latest: dict[tuple[str, int, int], DeadLetter] = {}
    for dl in letters:  # the newest dead letter of each original message wins
        origin = (dl.topic, dl.partition, dl.offset)
        if origin in latest:
            summary.skipped_repeats += 1
        latest[origin] = dl
    futures = []
    for dl in latest.values():
        if dl.topic.endswith(f".{ALERTS}"):
            try:
                alert = Alert.from_bytes(dl.payload.encode("utf-8"))
            except (ValidationError, ValueError):
                alert = None  # an invalid alert goes back as it was: the stage rejects it again, with its reason
            if alert is not None and reopen_alert(alert.alert_id):
                summary.reopened_alerts += 1
        key = dl.key.encode("utf-8") if dl.key is not None else None
        futures.append((dl.topic, producer.send(dl.topic, key=key, value=dl.payload.encode("utf-8"))))
    for topic, future in futures:
        future.get(timeout=ACK_TIMEOUT_S)
        summary.replayed[topic] += 1
    return summary


def dlq_topics(topic_prefix: str, only: str | None) -> list[str]:
    """The full DLQ topic names, of one stage topic (``stories.raw`` ...) or of all."""
    names = [only] if only else list(STAGE_TOPICS)
    return [f"{topic_prefix}.{dlq(n)}" for n in names]
