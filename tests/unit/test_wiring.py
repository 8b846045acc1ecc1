"""govwatch.wiring: what the subscription service is built on, and a Slack session's client closed after use."""

from __future__ import annotations

import pytest

from govwatch.adapters.es_io import make_client
from govwatch.settings import Settings
from govwatch.wiring.clients import slack_session
from govwatch.wiring.web import subscription_service


def test_subscription_service_uses_the_settings_indices_and_one_client() -> None:
    settings = Settings(index_prefix="wired")
    es = make_client("http://127.0.0.1:1")  # never contacted: nothing here searches
    service = subscription_service(settings, es)
    assert service.es is es and service.store.es is es and service.ledger.es is es
    assert (service.store.index, service.ledger.index, service.alias) == (
        "wired-subscriptions", "wired-alert-ledger", "wired-stories")


def test_a_slack_session_closes_its_client_also_when_the_operation_fails() -> None:
    with slack_session(Settings()) as sender:
        client = sender._client
        assert not client.is_closed
    assert client.is_closed
    opened = []

    def failing_send() -> None:
        with slack_session(Settings()) as sender:
            opened.append(sender._client)
            raise RuntimeError("delivery failed")

    with pytest.raises(RuntimeError):
        failing_send()
    assert opened[0].is_closed


def test_each_operation_of_the_service_gets_a_fresh_sender() -> None:
    service = subscription_service(Settings(), make_client("http://127.0.0.1:1"))
    with service.slack() as first, service.slack() as second:
        assert first is not second
