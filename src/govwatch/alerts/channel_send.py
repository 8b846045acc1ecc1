"""Sending to Teams, generic JSON webhooks and e-mail with exactly Slack's delivery rules.

:class:`ChannelSender` is the process's :class:`~govwatch.alerts.slack_send.SlackSender` (one instance, one
``DestinationGate``) with three more kinds. Each send goes through the same loop (``SlackSender._deliver``): per
destination pacing, bounded retries with backoff inside ``max_wait_s``, the circuit breaker, ``before_post`` (the
ledger's ``sending`` record) before every attempt, permanent refusals as ``DeliveryRejected``, and an *unknown
outcome* (an answer that never came after the request left) raised as ``OutcomeUnknown`` so the notifier records
it. What differs per kind is only what an unknown outcome allows on the next send, since none of these can be read
back as a Slack channel's history can:

* **Teams** (Workflows or incoming webhook): resent; at-least-once, ``possible_duplicate`` on the ledger entry.
* **JSON webhook**: resent with the same ``Idempotency-Key`` (= the alert id) and ``X-Govwatch-Alert-Id``: a receiver
  that keeps the keys it has seen drops the copy. The body is signed when the destination has a ``signing_secret``:
  ``X-Govwatch-Signature: v1=<hex HMAC-SHA256(secret, "<X-Govwatch-Timestamp>." + body)>``.
* **E-mail**: resent with the same ``Message-ID`` (derived from the alert id): mail clients and archives show one
  message, and a receiver can drop the copy.

Why not Apprise (2.x, installed for other uses): its ``notify()`` answers True/False, so a refusal (410), a rate
limit (429 with Retry-After), an outage and an unanswered request all look the same; it cannot send an idempotency
header or a chosen Message-ID, and its timeouts are per plugin. The once-only rules need each of those, so these
kinds speak the services' own documented interfaces: httpx (through the process's SSRF-guarded client) and smtplib.

SMTP answers are mapped onto the HTTP outcomes the loop knows: connection, STARTTLS and login failures and refused
recipients happen before the message is handed over (known not sent: retried like a refused connection); a 4xx
reply is transient, a 5xx reply a refusal; a timeout or a dropped connection after ``DATA`` is an unknown outcome.
Hosts and recipients are checked against the allowlists (``channel_rules``) before any network activity.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx

from govwatch import metrics
from govwatch.alerts.channel_format import email_html, email_text, json_body, neutral, teams_card
from govwatch.alerts.channel_rules import host_problem, recipient_problem
from govwatch.alerts.slack_destination import WebhookHostRefused, destination_key, mask_secret
from govwatch.alerts.slack_outcome import SendResult, classify_status
from govwatch.alerts.slack_send import BeforePost, SlackSender
from govwatch.errors import DeliveryRejected
from govwatch.log import get_logger

MAX_BODY_BYTES = 64_000  # far above any message built within Slack's limits; refuses a runaway payload
SIGNATURE_HEADER = "X-Govwatch-Signature"
TIMESTAMP_HEADER = "X-Govwatch-Timestamp"
ALERT_ID_HEADER = "X-Govwatch-Alert-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"

log = get_logger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    """The operator's SMTP server (settings ``GOVWATCH_SMTP_*``); users only name recipients."""

    host: str | None
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    sender: str = "govwatch@localhost"
    timeout_s: float = 10.0
    domains: tuple[str, ...] = ()


def message_key(dedup_id: str | None, payload: dict[str, Any]) -> str:
    """The id a resend carries again: the alert id, else (a digest, a roll-up) a hash of the message itself."""
    if dedup_id:
        return dedup_id
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:40]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Govwatch-Signature`` value of ``body`` sent at ``timestamp``; receivers compute the same."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def _smtp_answer(code: int, message: bytes | str) -> httpx.Response:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    status = 503 if 400 <= code < 500 else 400  # 4xx: try again later; 5xx: refused for good
    return httpx.Response(status, text=f"SMTP {code} {' '.join(text.split())[:120]}")


class ChannelSender(SlackSender):
    """The Slack sender plus Teams, JSON-webhook and e-mail destinations (see the module docstring)."""

    def __init__(self, client: httpx.Client, *, teams_hosts: Iterable[str] = (), json_hosts: Iterable[str] = (),
                 smtp: SmtpConfig | None = None, **kwargs: Any) -> None:  # noqa: ANN401 - SlackSender's options
        super().__init__(client, **kwargs)
        self._teams_hosts = tuple(teams_hosts)
        self._json_hosts = tuple(json_hosts)
        self._smtp = smtp or SmtpConfig(None)
        self._http = client

    def send_teams(self, url: str, payload: dict[str, Any], *, unknown_since: float | None = None,
                   before_post: BeforePost | None = None) -> SendResult:
        """Post ``payload`` (Block Kit) as an Adaptive Card to a Teams webhook."""
        masked = self._check_host("teams", url, self._teams_hosts, "GOVWATCH_TEAMS_WEBHOOK_HOSTS")
        body = self._bounded(json.dumps(teams_card(neutral(payload)), ensure_ascii=False).encode("utf-8"), masked)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return self._deliver(destination_key("teams", url), masked, classify_status,
                             lambda: self._http.post(url, content=body, headers=headers), None, unknown_since,
                             before_post)

    def send_json(self, url: str, payload: dict[str, Any], *, alert_id: str, secret: str | None = None,
                  context: dict[str, Any] | None = None, unknown_since: float | None = None,
                  before_post: BeforePost | None = None) -> SendResult:
        """POST the documented JSON body to a generic webhook, with an idempotency key and, given a secret,
        a signature computed at each attempt (its timestamp is the attempt's)."""
        masked = self._check_host("json", url, self._json_hosts, "GOVWATCH_JSON_WEBHOOK_HOSTS")
        body = self._bounded(json.dumps(json_body(neutral(payload), alert_id, context), ensure_ascii=False,
                                        separators=(",", ":")).encode("utf-8"), masked)

        def request() -> httpx.Response:
            timestamp = str(int(self._wall()))
            headers = {"Content-Type": "application/json; charset=utf-8", IDEMPOTENCY_HEADER: alert_id,
                       ALERT_ID_HEADER: alert_id, TIMESTAMP_HEADER: timestamp}
            if secret is not None:
                headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
            return self._http.post(url, content=body, headers=headers)

        return self._deliver(destination_key("json", url), masked, classify_status, request, None, unknown_since,
                             before_post)

    def send_email(self, to: list[str], payload: dict[str, Any], *, alert_id: str,
                   unknown_since: float | None = None, before_post: BeforePost | None = None) -> SendResult:
        """Mail ``payload`` (plain text + HTML) to ``to`` through the operator's SMTP server."""
        masked = f"email -> {', '.join(to)}"
        smtp = self._smtp
        problem = ("no SMTP server is configured (setting GOVWATCH_SMTP_HOST)" if not smtp.host
                   else recipient_problem(to, smtp.domains))
        if problem is not None:
            log.warning("channel.email_refused", destination=masked, reason=problem)
            metrics.slack_delivery("rejected")
            raise DeliveryRejected(f"{masked} refused: {problem}")
        message = self._email(to, payload, alert_id)
        return self._deliver(destination_key("email", *sorted(to)), masked, classify_status,
                             lambda: self._smtp_send(smtp.host or "", message), None, unknown_since, before_post)

    # --- internals ---------------------------------------------------------------------------------

    def _check_host(self, kind: str, url: str, allowed: tuple[str, ...], setting: str) -> str:
        masked = f"{kind} {mask_secret(url)}"
        problem = host_problem(kind, url, allowed, setting)
        if problem is not None:  # before any network activity; httpx's own error would quote the URL
            log.warning("channel.host_refused", destination=masked, reason=problem)
            metrics.slack_delivery("rejected")
            raise WebhookHostRefused(f"{masked} refused: {problem}")
        return masked

    @staticmethod
    def _bounded(body: bytes, masked: str) -> bytes:
        if len(body) > MAX_BODY_BYTES:
            raise DeliveryRejected(f"message to {masked} is {len(body)} bytes, over {MAX_BODY_BYTES}")
        return body

    def _email(self, to: list[str], payload: dict[str, Any], alert_id: str) -> EmailMessage:
        message = neutral(payload)
        email = EmailMessage()
        email["Subject"] = f"[govwatch] {message.title}"[:200]
        email["From"] = self._smtp.sender
        email["To"] = ", ".join(to)
        email["Date"] = formatdate(self._wall(), usegmt=True)
        domain = self._smtp.sender.rsplit("@", 1)[-1] or "govwatch"
        email["Message-ID"] = f"<{alert_id}@{domain}>"  # the same on every resend: a copy is recognisable
        email["X-Govwatch-Alert-Id"] = alert_id
        email.set_content(email_text(message))
        email.add_alternative(email_html(message), subtype="html")
        return email

    def _smtp_send(self, host: str, email: EmailMessage) -> httpx.Response:
        """One SMTP exchange as the HTTP outcome it amounts to (see the module docstring)."""
        smtp = self._smtp
        try:
            server = smtplib.SMTP(host, smtp.port, timeout=smtp.timeout_s)
        except (OSError, smtplib.SMTPException) as exc:
            raise httpx.ConnectError(f"SMTP connection failed ({type(exc).__name__})") from exc
        with server:
            try:
                server.ehlo()
                if smtp.starttls:
                    server.starttls(context=ssl.create_default_context())
                    server.ehlo()
                if smtp.username:
                    server.login(smtp.username, smtp.password or "")
            except smtplib.SMTPResponseException as exc:
                return _smtp_answer(exc.smtp_code, exc.smtp_error)
            except smtplib.SMTPNotSupportedError:
                return httpx.Response(400, text="SMTP server does not support STARTTLS/AUTH as configured")
            except (OSError, smtplib.SMTPException) as exc:
                raise httpx.ConnectError(f"SMTP session failed ({type(exc).__name__})") from exc
            return self._smtp_data(server, email)

    @staticmethod
    def _smtp_data(server: smtplib.SMTP, email: EmailMessage) -> httpx.Response:
        try:
            refused = server.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:  # before DATA: nothing handed over
            code, text = next(iter(exc.recipients.values()))
            return _smtp_answer(code, text)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            return _smtp_answer(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:  # timeout or disconnect during DATA: may have it
            raise httpx.ReadTimeout(f"SMTP server did not answer the message ({type(exc).__name__})") from exc
        if refused:
            log.warning("channel.email_partly_refused", refused=len(refused))
        return httpx.Response(200, text="SMTP 250")
