"""Clients several processes share: the Elasticsearch client, a Kafka producer for one operation, and the
SSRF-guarded Slack sender (webhook URLs are user input)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from govwatch.adapters import es_io, kafka_io
from govwatch.adapters.fetch import guarded_transport
from govwatch.alerts.channel_send import ChannelSender, SmtpConfig
from govwatch.alerts.slack_send import SlackSender
from govwatch.settings import Settings


def elasticsearch(settings: Settings) -> Elasticsearch:
    """The process's Elasticsearch client: the settings' URL, credentials and CA bundle, bounded retries."""
    return es_io.make_client(settings)


@contextmanager
def producer_session(settings: Settings) -> Iterator[KafkaProducer]:
    """A Kafka producer for one operation (a retry, a replay), closed (flushed) after it."""
    producer = kafka_io.make_producer(settings)
    try:
        yield producer
    finally:
        producer.close()


def slack_sender(settings: Settings) -> tuple[SlackSender, httpx.Client]:
    """A rate-limited sender whose HTTP client is SSRF-guarded (webhook URLs are user input), and that client."""
    # Slack answers in well under a second; past the timeout a send's outcome is unknown (govwatch.alerts.slack_send).
    client = httpx.Client(transport=guarded_transport(settings), timeout=settings.slack_send_timeout_s,
                          follow_redirects=False, trust_env=False)
    # The same sender carries Teams, JSON-webhook and e-mail destinations (govwatch.alerts.channel_send).
    smtp = SmtpConfig(settings.smtp_host, settings.smtp_port, settings.smtp_starttls, settings.smtp_username,
                      settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                      settings.smtp_from, settings.smtp_timeout_s, tuple(settings.email_domains))
    return ChannelSender(client, teams_hosts=settings.teams_webhook_hosts, json_hosts=settings.json_webhook_hosts,
                         smtp=smtp, min_interval_s=settings.slack_min_interval_s,
                         webhook_hosts=tuple(settings.slack_webhook_hosts),
                         breaker_base_s=settings.slack_breaker_base_s,
                         breaker_max_s=settings.slack_breaker_max_s), client


@contextmanager
def slack_session(settings: Settings) -> Iterator[SlackSender]:
    """A fresh sender for one operation (a digest run, a test message, a resume), its client closed after."""
    sender, client = slack_sender(settings)
    try:
        yield sender
    finally:
        client.close()
