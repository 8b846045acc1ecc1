"""A consumer process wired from settings: logging, signals, metrics, its Kafka clients, the loop, a clean exit.

Every ``consumers/<stage>.py`` is one call of :func:`run_consumer` with its stage's builder from this package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from govwatch import metrics
from govwatch.errors import TransientError
from govwatch.log import get_logger
from govwatch.loop.batch_loop import run_loop
from govwatch.loop.policy import BACKOFF_MAX_S, BACKOFF_START_S, describe
from govwatch.loop.stop import StopFlag
from govwatch.stages.contract import BatchHandler

log = get_logger("govwatch.wiring.consumer")


def connect(stage: str, stop: StopFlag, make: Callable[[], Any]) -> Any:  # noqa: ANN401 - a Kafka client
    """A Kafka client, waiting for the broker if it is away at start (a restart during an outage must not crash
    loop); None when asked to stop while waiting."""
    delay = BACKOFF_START_S
    while not stop.is_set():
        try:
            return make()
        except (TransientError, KafkaError) as exc:
            if isinstance(exc, KafkaError) and not getattr(exc, "retriable", False):
                raise
            log.warning("waiting_for_kafka", stage=stage, error=describe(exc, 200), wait_s=delay)
            stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
    return None


def run_consumer(stage: str, input_topic: str, build: Callable[[Any, KafkaProducer], BatchHandler],
                 max_poll_records: int) -> int:
    """The ``main()`` of every consumer process: settings, logging, signals, clients, the loop, a clean exit.

    ``build(settings, producer)`` returns the stage's batch handler; if it has a ``close()`` it is called
    at exit. The consumer group is ``<topic prefix>.<stage>``.
    """
    from govwatch.adapters import kafka_io
    from govwatch.log import configure_logging
    from govwatch.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = StopFlag()
    stop.install_signal_handlers()
    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_port, settings.metrics_host)
    producer = connect(stage, stop, lambda: kafka_io.make_producer(settings))
    if producer is None:
        return 0
    handler = build(settings, producer)  # before joining the group: a slow start must not hold partitions
    consumer = connect(stage, stop, lambda: kafka_io.make_consumer(
        settings, f"{settings.topic_prefix}.{stage}", [settings.topic(input_topic)],
        max_poll_records=max_poll_records, group_instance_id=settings.consumer_instance_id(stage)))
    if consumer is None:
        producer.close()
        return 0
    try:
        run_loop(consumer, handler, producer, stage, stop)
    finally:
        consumer.close(autocommit=False)
        producer.close()
        close = getattr(handler, "close", None)
        if close is not None:
            close()
    return 0
