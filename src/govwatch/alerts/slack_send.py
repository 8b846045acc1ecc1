"""Slack delivery adapter: incoming webhooks and ``chat.postMessage`` over an injected ``httpx.Client``.

What it decides, and nothing more:

* **Only allowed hosts.** A webhook URL is posted to only when its host is in ``GOVWATCH_SLACK_WEBHOOK_HOSTS``
  (default: Slack's own hosts): a destination is user input, and the server must not be made to POST to an
  internal address that the SSRF allowlist admits for feeds. Checked before any network activity, so a stored
  destination that is no longer allowed is refused (:class:`~govwatch.errors.DeliveryRejected`), never posted.
* **Pacing and a circuit breaker per destination** (:mod:`govwatch.alerts.breaker`). At most one message per
  ``min_interval_s`` per destination; destinations are independent. **No send waits longer than
  ``max_wait_s`` in all** (slot, ``Retry-After``, backoff): a 429 with a longer ``Retry-After``, or 5xx/timeouts
  that outlast that budget, open the destination's circuit and raise at once (:class:`RateLimited` /
  :class:`DestinationDown` / :class:`OutcomeUnknown`, each with ``retry_after`` = the cooldown); while it is open,
  sends to it raise :class:`~govwatch.alerts.breaker.DestinationBusy` without a request. The caller defers the
  message; nothing holds a worker thread for a hostile destination's sake.
* **Retries, bounded.** 5xx, 408 and timeouts/connection errors are retried with exponential backoff up to
  ``MAX_TRANSIENT_ATTEMPTS`` within the wait budget; 429s are waited out up to ``MAX_RATE_LIMIT_WAITS`` times
  within it.
* **Permanent refusals** (4xx such as 400 ``invalid_payload``, 403, 404 ``no_service``, 410
  ``channel_is_archived``; Web API ``ok: false`` errors other than the known transient ones) raise
  :class:`~govwatch.errors.DeliveryRejected` with Slack's reason.
* **Unknown outcomes, never resent blindly.** A request that may have reached Slack without an answer (read
  timeout, connection dropped after sending; or, told by the caller, a process that died mid-send) has an
  *unknown* outcome. Before any later send of that message a bot-token destination reads the channel's
  ``conversations.history`` (``include_all_metadata``, from just before the first unknown send) for the
  message's ``metadata`` (``event_type`` ``govwatch_alert``, ``event_payload.alert_id``; every
  ``chat.postMessage`` carrying an id is tagged so): found means delivered, nothing is posted. An incoming
  webhook cannot be read back: it is resent (at-least-once), logged as ``slack.resend_after_unknown_outcome``
  and reported as :attr:`SendResult.possible_duplicate`; so is a bot token without the ``channels:history`` /
  ``groups:history`` scope (logged with the scope to add). Connection failures before the request left
  (refused, connect timeout) are known not-delivered and retried as before.
* **Pacing before the send.** The destination's slot is waited for before the history check, the caller's
  ``before_post`` hook (the notifier records the attempt there) and the POST; after Slack's 2xx the sender
  returns at once, so nothing sleeps between Slack accepting a message and the caller recording it.

Webhook URLs and tokens are secrets (Slack revokes leaked webhooks): they never appear in logs or exception
messages, only :func:`mask_secret` forms (host plus the last 4 characters); the limiter keys on a hash.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from govwatch import metrics
from govwatch.alerts.breaker import DestinationGate
from govwatch.errors import DeliveryRejected, RateLimited, TransientError
from govwatch.log import get_logger
from govwatch.settings import Settings

MAX_TRANSIENT_ATTEMPTS = 4  # 1 try + 3 retries ≈ 0.5+1+2 s of backoff: rides out a blip, not an outage
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
MAX_RATE_LIMIT_WAITS = 3  # honoured 429s per message before the destination's circuit opens
# The most one send waits in all (its slot, Retry-After, backoff) before it gives the message back to be deferred:
# under the 5 s a healthy subscription may be delayed by a sick one that shares its batch (issue 22).
MAX_INLINE_WAIT_S = 2.0
BREAKER_BASE_S = 5.0  # first cooldown of an open circuit (doubling per failure in a row)
BREAKER_MAX_S = 60.0  # longest cooldown, whatever Retry-After says: a recovered destination is seen within 1 min
DEFAULT_WEBHOOK_HOSTS = ("hooks.slack.com", "slack.com")  # where Slack's incoming webhooks live
DEFAULT_RETRY_AFTER_S = 1.0  # Slack always sends Retry-After; a proxy's 429 may not
REASON_CHARS = 120  # Slack's error bodies are short codes; never echo a long (possibly HTML) body

# Web API errors that may succeed later; every other ``ok: false`` error is a refusal of this request
# (invalid_auth, channel_not_found, not_in_channel, account_inactive, token_revoked, invalid_blocks, ...).
_API_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_API_RATE_LIMITED = "ratelimited"

ALERT_EVENT_TYPE = "govwatch_alert"  # Slack message metadata event_type; event_payload.alert_id is the ledger key
HISTORY_PAGE = 200  # Slack's recommended page size for conversations.history
HISTORY_MAX_PAGES = 5  # a busier channel than 1,000 messages since the unknown send: stop reading, fall back
HISTORY_SKEW_S = 120.0  # our clock vs Slack's message ts: start the window this much before the first unknown send
HISTORY_SCOPES = "channels:history (public channels) or groups:history (private channels)"

# Failures where no byte of the request reached the peer: known not-delivered, safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
             httpx.UnsupportedProtocol, httpx.LocalProtocolError)

log = get_logger(__name__)


def mask_secret(secret: str) -> str:
    """``hooks.slack.com/…abcd`` for a URL, ``…abcd`` for a token: enough to tell destinations apart."""
    tail = f"…{secret[-4:]}" if len(secret) >= 12 else "…"  # a short secret would be mostly revealed
    host = urlsplit(secret).hostname if "://" in secret else None
    return f"{host}/{tail}" if host else tail


def _reason(response: httpx.Response) -> str:
    text = response.text.strip().splitlines()[0] if response.text.strip() else ""
    return f"HTTP {response.status_code} {text[:REASON_CHARS]}".strip()


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER_S)), 0.0)
    except ValueError:  # an HTTP-date form; Slack only sends seconds
        return DEFAULT_RETRY_AFTER_S


@dataclass(frozen=True)
class _Outcome:
    """What one HTTP exchange means for the delivery (a tagged value, so the loop reads as a table)."""

    kind: str  # "ok" | "permanent" | "transient" | "rate_limited"
    reason: str = ""
    retry_after: float = 0.0


def _classify_status(response: httpx.Response) -> _Outcome:
    status = response.status_code
    if status == 429:
        return _Outcome("rate_limited", _reason(response), _retry_after(response))
    if status >= 500 or status == 408:
        return _Outcome("transient", _reason(response))
    if status >= 400 or status < 200:
        return _Outcome("permanent", _reason(response))
    return _Outcome("ok")


def _classify_api(response: httpx.Response) -> _Outcome:
    outcome = _classify_status(response)
    if outcome.kind != "ok":
        return outcome
    try:
        body = response.json()
    except ValueError:  # a 200 that is not the Web API answering (wrong api_base, captive proxy)
        return _Outcome("permanent", f"HTTP {response.status_code} non-JSON answer from the Web API")
    if not isinstance(body, dict):
        return _Outcome("permanent", "unexpected Web API answer")
    if body.get("ok") is True:
        return _Outcome("ok")
    error = str(body.get("error", "unknown_error"))[:REASON_CHARS]
    if error == _API_RATE_LIMITED:
        return _Outcome("rate_limited", error, _retry_after(response))
    return _Outcome("transient" if error in _API_TRANSIENT else "permanent", error)


class DestinationDown(TransientError):
    """Sends to the destination failed (5xx, timeouts, connection refused) past the inline budget; its circuit is
    open for ``retry_after`` seconds. Known not delivered (an unknown outcome raises :class:`OutcomeUnknown`)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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
    arrived, nothing was posted now; ``possible_duplicate`` = a post followed an unknown outcome unchecked."""

    posts: int
    possible_duplicate: bool = False
    found_in_history: bool = False


BeforePost = Callable[[int], None]  # called with the post's number (1, 2, ...) just before each POST


class SlackSender:
    """Delivers Block Kit payloads; thread-safe, one instance per process shared by all destinations."""

    def __init__(self, client: httpx.Client, *, min_interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 wall: Callable[[], float] = time.time,
                 webhook_hosts: tuple[str, ...] | frozenset[str] | None = None,
                 max_wait_s: float = MAX_INLINE_WAIT_S, breaker_base_s: float = BREAKER_BASE_S,
                 breaker_max_s: float = BREAKER_MAX_S) -> None:
        self._client = client
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._wall = wall  # epoch seconds, comparable with Slack's message ts
        # None: no host check, for a caller that vetted its URLs (tests). Every production sender comes from
        # make_sender, which passes GOVWATCH_SLACK_WEBHOOK_HOSTS.
        self._webhook_hosts = frozenset(webhook_hosts) if webhook_hosts is not None else None
        self._max_wait_s = max(max_wait_s, min_interval_s)  # pacing alone must never defer a message
        self.gate = DestinationGate(min_interval_s=min_interval_s, max_wait_s=self._max_wait_s,
                                    base_open_s=breaker_base_s, max_open_s=breaker_max_s, clock=clock, sleep=sleep)

    def send_webhook(self, url: str, payload: dict[str, Any], *, unknown_since: float | None = None,
                     before_post: BeforePost | None = None) -> SendResult:
        """POST ``payload`` to an incoming-webhook URL; raises DeliveryRejected / TransientError / RateLimited.

        ``unknown_since`` (epoch seconds) says an earlier send of this message has an unknown outcome: a
        webhook cannot be read back, so the send goes ahead and the result says ``possible_duplicate``."""
        masked = mask_secret(url)
        problem = (webhook_host_problem(url, self._webhook_hosts) if self._webhook_hosts is not None
                   else None if urlsplit(url).scheme in ("http", "https") else "not an http(s) URL")
        if problem is not None:  # before any network activity; httpx's own error would quote the URL
            log.warning("slack.webhook_host_refused", destination=masked, reason=problem)
            metrics.slack_delivery("rejected")
            raise WebhookHostRefused(f"webhook {masked} refused: {problem}")
        return self._deliver(_key("webhook", url), masked, _classify_status,
                             lambda: self._client.post(url, json=payload), None, unknown_since, before_post)

    def post_message(self, token: str, channel: str, payload: dict[str, Any], api_base: str, *,
                     dedup_id: str | None = None, unknown_since: float | None = None,
                     before_post: BeforePost | None = None) -> SendResult:
        """Call ``chat.postMessage`` with a bot token; Slack's ``ok: false`` errors are mapped like HTTP ones.

        With ``dedup_id`` the message carries it in its metadata, and after an unknown outcome (in this call,
        or ``unknown_since`` from an earlier one) the channel history is searched for it before posting."""
        base = api_base.rstrip("/")
        endpoint = f"{base}/chat.postMessage"
        masked = f"{urlsplit(endpoint).hostname} channel={channel} token={mask_secret(token)}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
        body = {**payload, "channel": channel}
        checker: Callable[[float], bool | None] | None = None
        if dedup_id is not None:
            body["metadata"] = {"event_type": ALERT_EVENT_TYPE, "event_payload": {"alert_id": dedup_id}}

            def checker(oldest: float) -> bool | None:
                return self._find_in_history(f"{base}/conversations.history", token, channel, masked, dedup_id,
                                             oldest)
        return self._deliver(_key("api", token, channel), masked, _classify_api,
                             lambda: self._client.post(endpoint, json=body, headers=headers),
                             checker, unknown_since, before_post)

    # --- internals ---------------------------------------------------------------------------------

    def _find_in_history(self, endpoint: str, token: str, channel: str, masked: str, dedup_id: str,
                         oldest: float) -> bool | None:
        """True: a message tagged ``dedup_id`` is in the channel since ``oldest``; False: it is not;
        None: we cannot tell (no history scope, another refusal, too many messages) -> at-least-once."""
        params: dict[str, str | int] = {"channel": channel, "oldest": f"{oldest:.6f}", "limit": HISTORY_PAGE,
                                        "include_all_metadata": "true"}
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(HISTORY_MAX_PAGES):
            try:
                response = self._client.get(endpoint, params=params, headers=headers)
            except httpx.TransportError as exc:
                raise OutcomeUnknown(f"could not read the history of {masked} to check an earlier send whose "
                                     f"outcome is unknown ({type(exc).__name__}); not resending yet", oldest) from exc
            outcome = _classify_api(response)
            if outcome.kind in ("transient", "rate_limited"):
                raise OutcomeUnknown(f"could not read the history of {masked} to check an earlier send whose "
                                     f"outcome is unknown ({outcome.reason}); not resending yet", oldest,
                                     retry_after=outcome.retry_after or None)
            if outcome.kind == "permanent":
                body = _json_or_empty(response)
                if outcome.reason == "missing_scope":
                    needed = str(body.get("needed") or HISTORY_SCOPES)[:REASON_CHARS]
                    log.warning("slack.history_scope_missing", destination=masked, needed=needed,
                                fix=f"add the {needed} scope to the Slack app (OAuth & Permissions) and reinstall "
                                    "it; until then a send whose outcome is unknown is resent and may post twice")
                else:
                    log.warning("slack.history_unavailable", destination=masked, reason=outcome.reason)
                return None
            body = _json_or_empty(response)
            for message in body.get("messages") or []:
                meta = message.get("metadata") if isinstance(message, dict) else None
                if (isinstance(meta, dict) and meta.get("event_type") == ALERT_EVENT_TYPE
                        and (meta.get("event_payload") or {}).get("alert_id") == dedup_id):
                    return True
            cursor = (body.get("response_metadata") or {}).get("next_cursor")
            if not body.get("has_more") or not cursor:
                return False
            params["cursor"] = cursor
        log.warning("slack.history_window_exceeded", destination=masked, pages=HISTORY_MAX_PAGES)
        return None

    def _deliver(self, key: str, masked: str, classify: Callable[[httpx.Response], _Outcome],
                 request: Callable[[], httpx.Response], checker: Callable[[float], bool | None] | None,
                 unknown_since: float | None, before_post: BeforePost | None) -> SendResult:
        started = self._clock()
        failures = 0
        rate_limited = 0
        posts = 0
        possible_duplicate = False
        while True:  # inline waits (slot, Retry-After, backoff) stay within about max_wait_s of ``started``
            try:
                self.gate.acquire(key, masked)
            except RateLimited as exc:
                if unknown_since is not None and posts:  # this call already posted: the caller must know
                    raise OutcomeUnknown(f"{exc} (an earlier send may have arrived unanswered)", unknown_since,
                                         retry_after=exc.retry_after) from exc
                raise
            if unknown_since is not None:
                found = checker(unknown_since - HISTORY_SKEW_S) if checker is not None else None
                if found:
                    log.info("slack.already_delivered", destination=masked, posts=posts,
                             reason="an earlier send with an unknown outcome is in the channel history")
                    metrics.slack_delivery("already_delivered")
                    return SendResult(posts, found_in_history=True)
                if found is None:
                    possible_duplicate = True
                    log.warning("slack.resend_after_unknown_outcome", destination=masked, posts=posts,
                                reason="an earlier send got no answer and cannot be checked: this may post a "
                                       "second copy (at-least-once)")
            if before_post is not None:
                before_post(posts + 1)  # may raise (ledger down): then nothing is posted
            posted_at = self._wall()
            posts += 1
            cause: Exception | None = None
            try:
                outcome = classify(request())
            except _NOT_SENT as exc:
                # only the type name: httpx messages are URL-free today, but the secret must not depend on that
                cause, outcome = exc, _Outcome("transient", f"connection failed ({type(exc).__name__})")
            except httpx.TransportError as exc:  # read timeout, dropped after sending: Slack may have it
                cause, outcome = exc, _Outcome("transient", f"no answer ({type(exc).__name__})")
                unknown_since = posted_at if unknown_since is None else unknown_since
            # Space from when the answer came back, not from when the slot was reserved: Slack (and the
            # receiver) see the request arrive later than we decided to send it.
            self.gate.push_back(key, self._min_interval_s)
            attempts = failures + rate_limited + 1
            elapsed = self._clock() - started
            if outcome.kind == "ok":
                self.gate.succeeded(key)
                log.info("slack.delivered", destination=masked, attempts=attempts, posts=posts,
                         possible_duplicate=possible_duplicate, elapsed_ms=round((self._clock() - started) * 1000))
                metrics.slack_delivery("delivered")
                return SendResult(posts, possible_duplicate=possible_duplicate)
            if outcome.kind == "permanent":
                log.warning("slack.rejected", destination=masked, reason=outcome.reason, attempts=attempts)
                metrics.slack_delivery("rejected")
                raise DeliveryRejected(f"Slack refused delivery to {masked}: {outcome.reason}")
            if outcome.kind == "rate_limited":
                rate_limited += 1
                if rate_limited > MAX_RATE_LIMIT_WAITS or elapsed + outcome.retry_after > self._max_wait_s:
                    cooldown = self.gate.trip(key, outcome.retry_after, outcome.reason)
                    log.warning("slack.rate_limited", destination=masked, retry_after=outcome.retry_after,
                                circuit_open_s=round(cooldown, 3))
                    metrics.slack_delivery("rate_limited")
                    message = (f"Slack rate-limited {masked} ({outcome.reason}; Retry-After "
                               f"{outcome.retry_after:g}s); deferred {cooldown:g}s")
                    if unknown_since is not None:
                        raise OutcomeUnknown(f"{message} (a send may have arrived unanswered)", unknown_since,
                                             retry_after=cooldown)
                    raise RateLimited(message, retry_after=cooldown)
                self.gate.push_back(key, outcome.retry_after)  # also holds other messages to this destination
                log.info("slack.retry", destination=masked, reason=outcome.reason, wait_s=outcome.retry_after)
                metrics.slack_retry("rate_limited")
                continue
            failures += 1
            delay = min(BACKOFF_BASE_S * 2 ** (failures - 1), BACKOFF_MAX_S)
            if failures >= MAX_TRANSIENT_ATTEMPTS or elapsed + delay > self._max_wait_s:
                cooldown = self.gate.trip(key, reason=outcome.reason)
                log.warning("slack.gave_up", destination=masked, reason=outcome.reason, attempts=attempts,
                            outcome_unknown=unknown_since is not None, circuit_open_s=round(cooldown, 3))
                metrics.slack_delivery("gave_up")
                message = (f"Slack delivery to {masked} failed {failures} times: {outcome.reason}; deferred "
                           f"{cooldown:g}s")
                if unknown_since is not None:
                    raise OutcomeUnknown(f"{message} (a send may have arrived unanswered)", unknown_since,
                                         retry_after=cooldown) from cause
                raise DestinationDown(message, retry_after=cooldown) from cause
            log.info("slack.retry", destination=masked, reason=outcome.reason, wait_s=delay)
            metrics.slack_retry("transient")
            self.gate.push_back(key, delay)


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _key(*parts: str) -> str:
    # Hashed so that a dump of the limiter (debugger, repr in a log) cannot leak a webhook URL or token.
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def make_sender(settings: Settings) -> tuple[SlackSender, httpx.Client]:
    """A rate-limited sender whose HTTP client is SSRF-guarded (webhook URLs are user input), and that client."""
    from govwatch.adapters.fetch import guarded_transport

    # Slack answers in well under a second; past the timeout a send's outcome is unknown (see above).
    client = httpx.Client(transport=guarded_transport(settings), timeout=settings.slack_send_timeout_s,
                          follow_redirects=False, trust_env=False)
    return SlackSender(client, min_interval_s=settings.slack_min_interval_s,
                       webhook_hosts=tuple(settings.slack_webhook_hosts),
                       breaker_base_s=settings.slack_breaker_base_s,
                       breaker_max_s=settings.slack_breaker_max_s), client
