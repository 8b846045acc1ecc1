"""Prometheus metrics of the long-running processes (``prometheus_client``, its default registry).

Every consumer process serves ``/metrics`` on ``GOVWATCH_METRICS_PORT`` (unset: no endpoint, the local default,
where several processes share one host). The series:

* ``govwatch_stories_processed_total{stage}`` / ``govwatch_stories_failed_total{stage}``: records a stage finished
  / rejected, counted when the batch is committed;
* ``govwatch_dead_letters_total{stage,error_type}``: records sent to ``<topic>.dlq``;
* ``govwatch_batch_retries_total{stage,kind}``: failed batch attempts, ``kind`` = ``outage`` (waited out) or
  ``failure`` (counted towards the retry bound);
* ``govwatch_batch_duration_seconds{stage}``: from poll to commit, retries included;
* ``govwatch_consumer_lag{stage,topic,partition}``: records behind the partition's log end after the last batch;
* ``govwatch_slack_deliveries_total{outcome}`` and ``govwatch_slack_retries_total{reason}``.

``python -m govwatch.metrics check [URL]`` is the container health check: exit 0 when the endpoint answers.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from govwatch.errors import ConfigError

PROCESSED = Counter("govwatch_stories_processed", "Records a stage processed and committed", ["stage"])
FAILED = Counter("govwatch_stories_failed", "Records a stage rejected (sent to the dead-letter topic)", ["stage"])
DEAD_LETTERS = Counter("govwatch_dead_letters", "Records sent to <topic>.dlq", ["stage", "error_type"])
BATCH_RETRIES = Counter("govwatch_batch_retries", "Failed batch attempts that were retried", ["stage", "kind"])
# Batches take ~10 ms (an empty alert batch) to minutes (Slack pacing, an outage waited out).
BATCH_SECONDS = Histogram("govwatch_batch_duration_seconds", "Seconds from poll to commit of one batch", ["stage"],
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
CONSUMER_LAG = Gauge("govwatch_consumer_lag", "Records behind the log end after the last batch of a partition",
                     ["stage", "topic", "partition"])
SLACK_DELIVERIES = Counter("govwatch_slack_deliveries", "Slack messages by final outcome", ["outcome"])
SLACK_RETRIES = Counter("govwatch_slack_retries", "Slack sends retried within one delivery", ["reason"])

HEALTH_TIMEOUT_S = 5.0


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Start the ``/metrics`` endpoint in a daemon thread; ConfigError names the setting when the port is taken."""
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); choose a free "
                          "GOVWATCH_METRICS_PORT or unset it") from exc


def batch_done(stage: str, processed: int, rejected: int, seconds: float) -> None:
    PROCESSED.labels(stage).inc(processed)
    if rejected:
        FAILED.labels(stage).inc(rejected)
    BATCH_SECONDS.labels(stage).observe(seconds)


def dead_lettered(stage: str, error_type: str) -> None:
    DEAD_LETTERS.labels(stage, error_type).inc()


def batch_retry(stage: str, outage: bool) -> None:
    BATCH_RETRIES.labels(stage, "outage" if outage else "failure").inc()


def record_lag(stage: str, consumer: Any, records: Sequence[Any]) -> None:  # noqa: ANN401 - a kafka-python consumer
    """Per partition of the batch: the consumer's known log end minus the next offset to commit."""
    next_offsets: dict[tuple[str, int], int] = {}
    for rec in records:
        key = (rec.topic, rec.partition)
        next_offsets[key] = max(next_offsets.get(key, 0), rec.offset + 1)
    from kafka import TopicPartition  # late: this module stays importable without touching kafka-python state

    for (topic, partition), next_offset in next_offsets.items():
        end = consumer.highwater(TopicPartition(topic, partition))
        if end is not None:  # known once a fetch response for the partition came back
            CONSUMER_LAG.labels(stage, topic, str(partition)).set(max(0, end - next_offset))


def slack_delivery(outcome: str) -> None:
    SLACK_DELIVERIES.labels(outcome).inc()


def slack_retry(reason: str) -> None:
    SLACK_RETRIES.labels(reason).inc()


def check(url: str) -> int:
    """0 when ``url`` answers 200, else 1 with the reason on stderr (a container health check)."""
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as response:  # noqa: S310 - a fixed local URL
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"govwatch: health check of {url} failed: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "check" or len(args) > 2:
        print("usage: python -m govwatch.metrics check [URL]  (default: this process' GOVWATCH_METRICS_PORT)",
              file=sys.stderr)
        return 2
    if len(args) == 2:
        return check(args[1])
    from govwatch.settings import Settings

    settings = Settings()
    if settings.metrics_port is None:
        print("govwatch: GOVWATCH_METRICS_PORT is not set: no metrics endpoint to check; set it, or pass the URL",
              file=sys.stderr)
        return 1
    return check(f"http://127.0.0.1:{settings.metrics_port}/metrics")


if __name__ == "__main__":
    raise SystemExit(main())
