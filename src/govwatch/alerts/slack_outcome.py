"""What a Slack exchange means for a delivery: the answer classified (``Outcome``: ok, permanent, transient or
rate-limited, from the HTTP status and, for the Web API, its ``ok``/``error``), and how a send ends: a ``SendResult``,
or :class:`DestinationDown` / :class:`OutcomeUnknown` (a request that may have reached Slack unanswered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from govwatch.errors import TransientError

DEFAULT_RETRY_AFTER_S = 1.0  # Slack always sends Retry-After; a proxy's 429 may not
REASON_CHARS = 120  # Slack's error bodies are short codes; never echo a long (possibly HTML) body

# Web API errors that may succeed later; every other ``ok: false`` error is a refusal of this request
# (invalid_auth, channel_not_found, not_in_channel, account_inactive, token_revoked, invalid_blocks, ...).
_API_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_API_RATE_LIMITED = "ratelimited"

# Failures where no byte of the request reached the peer: known not-delivered, safe to retry.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
            httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def _reason(response: httpx.Response) -> str:
    text = response.text.strip().splitlines()[0] if response.text.strip() else ""
    return f"HTTP {response.status_code} {text[:REASON_CHARS]}".strip()


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER_S)), 0.0)
    except ValueError:  # an HTTP-date form; Slack only sends seconds
        return DEFAULT_RETRY_AFTER_S


@dataclass(frozen=True)
class Outcome:
    """What one HTTP exchange means for the delivery (a tagged value, so the loop reads as a table)."""

    kind: str  # "ok" | "permanent" | "transient" | "rate_limited"
    reason: str = ""
    retry_after: float = 0.0


def classify_status(response: httpx.Response) -> Outcome:
    """An incoming webhook's answer, by its HTTP status alone."""
    status = response.status_code
    if status == 429:
        return Outcome("rate_limited", _reason(response), _retry_after(response))
    if status >= 500 or status == 408:
        return Outcome("transient", _reason(response))
    if status >= 400 or status < 200:
        return Outcome("permanent", _reason(response))
    return Outcome("ok")


def classify_api(response: httpx.Response) -> Outcome:
    """A Web API answer: its HTTP status, then its ``ok``/``error`` body."""
    outcome = classify_status(response)
    if outcome.kind != "ok":
        return outcome
    try:
        body = response.json()
    except ValueError:  # a 200 that is not the Web API answering (wrong api_base, captive proxy)
        return Outcome("permanent", f"HTTP {response.status_code} non-JSON answer from the Web API")
    if not isinstance(body, dict):
        return Outcome("permanent", "unexpected Web API answer")
    if body.get("ok") is True:
        return Outcome("ok")
    error = str(body.get("error", "unknown_error"))[:REASON_CHARS]
    if error == _API_RATE_LIMITED:
        return Outcome("rate_limited", error, _retry_after(response))
    return Outcome("transient" if error in _API_TRANSIENT else "permanent", error)


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class DestinationDown(TransientError):
    """Sends to the destination failed (5xx, timeouts, connection refused) past the inline budget; its circuit is
    open for ``retry_after`` seconds. Known not delivered (an unknown outcome raises :class:`OutcomeUnknown`)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutcomeUnknown(TransientError):
    """Delivery did not succeed, and a request may have reached Slack unanswered (``since``: epoch seconds of
    the first such send). The caller records it, so that its next attempt checks before sending again."""

    def __init__(self, message: str, since: float, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.since = since
        self.retry_after = retry_after


@dataclass(frozen=True)
class SendResult:
    """How a delivery ended: ``posts`` requests made; ``found_in_history`` = an earlier unknown send had
    arrived, nothing was posted now; ``possible_duplicate`` = a post followed an unknown outcome unchecked;
    ``ts`` = the Web API's id of the message (posted now or found in the history; None for webhooks)."""

    posts: int
    possible_duplicate: bool = False
    found_in_history: bool = False
    ts: str | None = None
