"""A Teams, JSON-webhook or e-mail destination from the parts a user typed (CLI options, web form, JSON API).

At most one channel may be named at a time; the secrets (webhook URL, signing secret) are write-only like Slack's:
an edit that names no channel keeps the saved destination. Shape errors come from the ``Destination`` model
(``channel_rules``); where it may point is checked on save (``destinations``) and on send (``channel_send``).
"""

from __future__ import annotations

from govwatch.alerts.subscriptions import Destination
from govwatch.errors import InvalidQuery

MAX_RECIPIENTS_INPUT_CHARS = 6_000  # 20 addresses of 254 characters and separators; longer input is not parsed


def split_recipients(raw: str) -> list[str]:
    """``a@x.org, b@y.org`` (commas, semicolons or whitespace) as a list; InvalidQuery when absurdly long."""
    if len(raw) > MAX_RECIPIENTS_INPUT_CHARS:
        raise InvalidQuery(f"the recipient list is longer than {MAX_RECIPIENTS_INPUT_CHARS} characters")
    return [part for part in raw.replace(";", ",").replace(",", " ").split() if part]


def other_destination(teams_url: str | None = None, json_url: str | None = None, signing_secret: str | None = None,
                      email_to: str | None = None) -> Destination | None:
    """The destination these parts name, or None when they name none; raises InvalidQuery / ValidationError."""
    named = [kind for kind, value in (("teams", teams_url), ("json", json_url), ("email", email_to)) if value]
    if len(named) > 1:
        raise InvalidQuery(f"name one destination at a time (got {', '.join(named)})")
    if signing_secret and named != ["json"]:
        raise InvalidQuery("a signing secret goes with a JSON webhook URL")
    if teams_url:
        return Destination(kind="teams", webhook_url=teams_url)
    if json_url:
        return Destination(kind="json", webhook_url=json_url, signing_secret=signing_secret or None)
    if email_to:
        return Destination(kind="email", to=split_recipients(email_to))
    return None
