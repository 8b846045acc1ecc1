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
messages, only :func:`~govwatch.alerts.slack_destination.mask_secret` forms (host plus the last 4 characters); the
limiter keys on a hash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from govwatch import metrics
from govwatch.alerts.breaker import DestinationGate
from govwatch.alerts.slack_destination import WebhookHostRefused, destination_key, mask_secret, webhook_host_problem
from govwatch.alerts.slack_history import ALERT_EVENT_TYPE, HISTORY_SKEW_S, find_in_history
from govwatch.alerts.slack_outcome import (
    NOT_SENT,
    DestinationDown,
    Outcome,
    OutcomeUnknown,
    SendResult,
    classify_api,
    classify_status,
    json_or_empty,
)
from govwatch.errors import DeliveryRejected, RateLimited
from govwatch.log import get_logger

MAX_TRANSIENT_ATTEMPTS = 4  # 1 try + 3 retries ≈ 0.5+1+2 s of backoff: rides out a blip, not an outage
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
MAX_RATE_LIMIT_WAITS = 3  # honoured 429s per message before the destination's circuit opens
# The most one send waits in all (its slot, Retry-After, backoff) before it gives the message back to be deferred:
# under the 5 s a healthy subscription may be delayed by a sick one that shares its batch (issue 22).
MAX_INLINE_WAIT_S = 2.0
BREAKER_BASE_S = 5.0  # first cooldown of an open circuit (doubling per failure in a row)
BREAKER_MAX_S = 60.0  # longest cooldown, whatever Retry-After says: a recovered destination is seen within 1 min

log = get_logger(__name__)


BeforePost = Callable[[int], None]  # called with the post's number (1, 2, ...) just before each POST
Checker = Callable[[float], "str | Literal[False] | None"]  # the history check: found ts / not there / cannot tell


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
        # govwatch.wiring.clients.slack_sender, which passes GOVWATCH_SLACK_WEBHOOK_HOSTS.
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
        return self._deliver(destination_key("webhook", url), masked, classify_status,
                             lambda: self._client.post(url, json=payload), None, unknown_since, before_post)

    def post_message(self, token: str, channel: str, payload: dict[str, Any], api_base: str, *,
                     dedup_id: str | None = None, unknown_since: float | None = None,
                     before_post: BeforePost | None = None, thread_ts: str | None = None) -> SendResult:
        """Call ``chat.postMessage`` with a bot token; Slack's ``ok: false`` errors are mapped like HTTP ones.

        With ``dedup_id`` the message carries it in its metadata, and after an unknown outcome (in this call,
        or ``unknown_since`` from an earlier one) the channel history is searched for it before posting.
        ``thread_ts`` posts it as a reply in that message's thread (and the check reads the thread's replies)."""
        base = api_base.rstrip("/")
        endpoint = f"{base}/chat.postMessage"
        masked = f"{urlsplit(endpoint).hostname} channel={channel} token={mask_secret(token)}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
        body = {**payload, "channel": channel}
        if thread_ts is not None:
            body["thread_ts"] = thread_ts
        checker: Checker | None = None
        if dedup_id is not None:
            body["metadata"] = {"event_type": ALERT_EVENT_TYPE, "event_payload": {"alert_id": dedup_id}}
            reads = "conversations.replies" if thread_ts is not None else "conversations.history"

            def checker(oldest: float) -> str | Literal[False] | None:
                return find_in_history(self._client, f"{base}/{reads}", token, channel, masked, dedup_id, oldest,
                                       thread_ts)
        return self._deliver(destination_key("api", token, channel), masked, classify_api,
                             lambda: self._client.post(endpoint, json=body, headers=headers),
                             checker, unknown_since, before_post)

    def update_message(self, token: str, channel: str, ts: str, payload: dict[str, Any],
                       api_base: str) -> SendResult:
        """Call ``chat.update`` on the message ``ts`` (an update is idempotent: a resend after an unknown outcome
        is harmless, so no history check); paced and retried like a post to the same destination."""
        endpoint = f"{api_base.rstrip('/')}/chat.update"
        masked = f"{urlsplit(endpoint).hostname} channel={channel} token={mask_secret(token)}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
        body = {**payload, "channel": channel, "ts": ts}
        return self._deliver(destination_key("api", token, channel), masked, classify_api,
                             lambda: self._client.post(endpoint, json=body, headers=headers), None, None, None)

    # --- internals ---------------------------------------------------------------------------------

    def _deliver(self, key: str, masked: str, classify: Callable[[httpx.Response], Outcome],
                 request: Callable[[], httpx.Response], checker: Checker | None,
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
                    return SendResult(posts, found_in_history=True, ts=found)
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
            response: httpx.Response | None = None
            try:
                response = request()
                outcome = classify(response)
            except NOT_SENT as exc:
                # only the type name: httpx messages are URL-free today, but the secret must not depend on that
                cause, outcome = exc, Outcome("transient", f"connection failed ({type(exc).__name__})")
            except httpx.TransportError as exc:  # read timeout, dropped after sending: Slack may have it
                cause, outcome = exc, Outcome("transient", f"no answer ({type(exc).__name__})")
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
                ts = json_or_empty(response).get("ts") if response is not None else None
                return SendResult(posts, possible_duplicate=possible_duplicate,
                                  ts=str(ts) if isinstance(ts, str) and ts else None)
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
