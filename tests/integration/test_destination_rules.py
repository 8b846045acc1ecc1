"""Save-time destination rules through the service layer the CLI, web app and API share, on the real Elasticsearch:
a refused destination is never stored (issue 22: webhooks to internal hosts, the org bot token borrowed)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from govwatch.alerts.subscription_service import CLI, Actor
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.errors import InvalidQuery
from govwatch.wiring.web import subscription_service
from govwatch_dev import demo

ORG_TOKEN = "xoxb-organisation-bot-token-0002"


def _sub(destination: Destination, name: str = "AI Act") -> Subscription:
    return Subscription(name=name, query='"AI Act"', destination=destination)


def test_refused_destinations_are_not_saved_and_a_stored_one_cannot_be_moved_inside(
        initialized) -> None:  # noqa: ANN001
    """An internal webhook host and a channel-only (org bot token) destination are refused for a user, with the fix;
    nothing is stored; an edit that points a saved subscription at an internal host is refused too."""
    settings = initialized.model_copy(update={"slack_bot_token": SecretStr(ORG_TOKEN),
                                              "slack_webhook_hosts": ["hooks.slack.com", "slack.com"]})
    service = subscription_service(settings, demo.es_client(settings))
    alice = Actor(owner="alice")
    internal = Destination(kind="webhook", webhook_url="http://127.0.0.1:9200/govwatch-subscriptions/_doc/x")
    with pytest.raises(InvalidQuery, match="GOVWATCH_SLACK_WEBHOOK_HOSTS"):
        service.create(alice, _sub(internal))
    with pytest.raises(InvalidQuery, match="a channel alone is not a destination"):
        service.create(alice, _sub(Destination(kind="bot", bot_token=ORG_TOKEN, channel="#exec-private")))
    assert service.list(CLI) == []

    slack = Destination(kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/x")
    saved = service.create(alice, _sub(slack))
    with pytest.raises(InvalidQuery, match="GOVWATCH_SLACK_WEBHOOK_HOSTS"):
        service.update(alice, saved.id, {"name": "moved"}, internal)
    assert service.get(CLI, saved.id).destination.masked() == "webhook https://hooks.slack.com/****"
    admin_org = service.create(CLI, _sub(Destination(kind="bot", bot_token=ORG_TOKEN, channel="#ai-news"), "org"))
    assert admin_org.destination.channel == "#ai-news"  # an admin may direct the organisation's bot
