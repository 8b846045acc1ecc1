"""Which Slack destinations may be posted to, and how a destination is named where it can be seen.

A webhook URL is posted to only when its host is in ``GOVWATCH_SLACK_WEBHOOK_HOSTS`` (default: Slack's own hosts):
a destination is user input, and the server must not be made to POST to an internal address. The same check runs
when a subscription is saved (``destinations``) and before every send (``slack_send``). Webhook URLs and tokens are
secrets (Slack revokes leaked webhooks): logs and messages show only :func:`mask_secret` forms, and the sender's
limiter keys on :func:`destination_key`, a hash.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from govwatch.errors import DeliveryRejected

DEFAULT_WEBHOOK_HOSTS = ("hooks.slack.com", "slack.com")  # where Slack's incoming webhooks live


def mask_secret(secret: str) -> str:
    """``hooks.slack.com/…abcd`` for a URL, ``…abcd`` for a token: enough to tell destinations apart."""
    tail = f"…{secret[-4:]}" if len(secret) >= 12 else "…"  # a short secret would be mostly revealed
    host = urlsplit(secret).hostname if "://" in secret else None
    return f"{host}/{tail}" if host else tail


class WebhookHostRefused(DeliveryRejected):
    """A webhook URL whose host is not in ``GOVWATCH_SLACK_WEBHOOK_HOSTS``."""


def webhook_host_problem(url: str, allowed_hosts: frozenset[str] | tuple[str, ...]) -> str | None:
    """Why a webhook URL may not be posted to (scheme or host), or None. Never quotes the URL (a secret)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "not an http(s) URL"
    host = (parts.hostname or "").lower().rstrip(".")
    if host not in {h.lower().rstrip(".") for h in allowed_hosts}:
        return (f"host {host or '(none)'!r} is not an allowed webhook host; allowed: {', '.join(sorted(allowed_hosts))}"
                " (setting GOVWATCH_SLACK_WEBHOOK_HOSTS)")
    return None


def destination_key(*parts: str) -> str:
    """The limiter's key of a destination (kind, then its URL or token and channel)."""
    # Hashed so that a dump of the limiter (debugger, repr in a log) cannot leak a webhook URL or token.
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
