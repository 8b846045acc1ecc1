"""Save-time destination rules: webhook hosts from GOVWATCH_SLACK_WEBHOOK_HOSTS, the org bot token for admins only."""

from __future__ import annotations

import pytest

from govwatch.alerts.destinations import check_destination
from govwatch.alerts.subscriptions import Destination
from govwatch.errors import InvalidQuery
from govwatch.settings import Settings

ORG_TOKEN = "xoxb-organisation-bot-token-0001"


def webhook(url: str) -> Destination:
    return Destination(kind="webhook", webhook_url=url)


@pytest.mark.parametrize("url", [
    "https://internal.corp.example/services/T/B/x",  # an internal service the SSRF allowlist may admit for feeds
    "http://127.0.0.1:9200/govwatch-subscriptions/_doc/x",  # Elasticsearch takes a JSON POST
    "https://hooks.slack.com.evil.example/services/T/B/x",
    "https://10.0.0.5/services/T/B/x",
])
def test_webhook_to_a_host_outside_the_allowlist_is_refused_naming_the_setting(url: str) -> None:
    """A webhook URL whose host is not one of Slack's (by default) is refused with the setting to change."""
    with pytest.raises(InvalidQuery, match="GOVWATCH_SLACK_WEBHOOK_HOSTS") as excinfo:
        check_destination(webhook(url), Settings(), admin=True)
    assert "/services/T/B/x" not in str(excinfo.value) and "_doc" not in str(excinfo.value)  # never echoes the URL


def test_slack_webhook_and_an_operator_added_host_are_accepted() -> None:
    """Slack's own webhook host passes by default; an operator can add one (the local receiver in tests)."""
    check_destination(webhook("https://hooks.slack.com/services/T/B/x"), Settings(), admin=False)
    check_destination(webhook("http://127.0.0.1:3000/services/T/B/x"),
                      Settings(slack_webhook_hosts="hooks.slack.com,127.0.0.1"), admin=False)


def test_org_bot_token_is_refused_for_a_non_admin_with_a_plain_message() -> None:
    """A channel alone (the web form fills in the organisation's bot token) is not a destination for a non-admin."""
    settings = Settings(slack_bot_token=ORG_TOKEN)
    org = Destination(kind="bot", bot_token=ORG_TOKEN, channel="#exec-private")
    with pytest.raises(InvalidQuery, match="a channel alone is not a destination") as excinfo:
        check_destination(org, settings, admin=False)
    assert ORG_TOKEN not in str(excinfo.value) and "webhook URL" in str(excinfo.value)
    check_destination(org, settings, admin=True)  # an admin decides where the organisation's bot posts
    check_destination(Destination(kind="bot", bot_token="xoxb-their-own-token-99", channel="#mine"), settings,
                      admin=False)


def test_non_admin_keeps_an_admin_made_org_bot_destination_but_cannot_move_it() -> None:
    """Editing other fields of an admin-made org-bot subscription works; pointing it at another channel does not."""
    settings = Settings(slack_bot_token=ORG_TOKEN)
    org = Destination(kind="bot", bot_token=ORG_TOKEN, channel="#ai-news")
    check_destination(org, settings, admin=False, previous=org)
    with pytest.raises(InvalidQuery):
        check_destination(Destination(kind="bot", bot_token=ORG_TOKEN, channel="#exec-private"), settings,
                          admin=False, previous=org)
