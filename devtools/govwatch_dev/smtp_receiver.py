"""A local SMTP server for runs and tests (aiosmtpd on 127.0.0.1): records each message, can be told to fail.

* Every message handed over (``DATA``) is parsed and kept (:attr:`SmtpReceiver.messages`), with its envelope
  recipients, *before* any fault applies: like a real server that stored the mail and then went quiet.
* :meth:`SmtpReceiver.script` queues canned replies to ``DATA`` (``"451 4.3.0 try again later"``,
  ``"550 5.1.1 no such mailbox"``); a scripted reply means the message was *not* accepted (it is not kept).
* :meth:`SmtpReceiver.fault` makes the next accepted messages answer ``delay_s`` late or drop the connection unanswered.
* With ``username``/``password`` it requires ``AUTH LOGIN``/``PLAIN`` with them (allowed without TLS: local only).
* :meth:`unique_message_ids` is what a receiver that drops a resend with a Message-ID it already has would keep.

Run standalone with ``python -m govwatch_dev.smtp_receiver --port 8025``: it prints each message's subject and text.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from govwatch_dev.localserver import serve_until_interrupted
from govwatch_dev.slack_receiver import Fault

MAX_MESSAGE_BYTES = 1_000_000


@dataclass(frozen=True)
class ReceivedMail:
    """One message as handed over: the envelope's recipients and the parsed message."""

    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    received_at: float


class SmtpReceiver:
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, username: str | None = None,
                 password: str | None = None, echo: bool = False) -> None:
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._replies: deque[str] = deque()
        self._faults: deque[Fault] = deque()
        self._echo = echo
        self._stopping = threading.Event()
        self._credentials = (username, password) if username else None
        auth: dict[str, Any] = {}
        if self._credentials is not None:
            auth = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(self, hostname=host, port=port or _free_port(host),
                                      data_size_limit=MAX_MESSAGE_BYTES, ready_timeout=10.0, **auth)

    def start(self) -> SmtpReceiver:
        self._controller.start()  # returns once the server answers (aiosmtpd's own readiness check)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._controller.stop()

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def unique_message_ids(self) -> list[str]:
        seen: list[str] = []
        for mail in self.messages:
            mid = str(mail.message["Message-ID"])
            if mid not in seen:
                seen.append(mid)
        return seen

    def script(self, *replies: str) -> None:
        with self._lock:
            self._replies.extend(replies)

    def fault(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    # --- aiosmtpd handler hooks ---------------------------------------------------------------------

    def _authenticate(self, server: object, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: object) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self._credentials is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == self._credentials)
        return AuthResult(success=ok)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: ANN401 - aiosmtpd's SMTP server object
        with self._lock:
            reply = self._replies.popleft() if self._replies else None
            fault = None if reply else (self._faults.popleft() if self._faults else None)
        if reply is not None:
            return reply
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._messages.append(ReceivedMail(tuple(envelope.rcpt_tos), message, time.monotonic()))
        if self._echo:
            body = message.get_body(("plain",))
            print(f"── mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']}\n"
                  f"{body.get_content() if body else ''}", flush=True)
        if fault is not None and fault.delay_s > 0:  # stored already; the answer is what is late (ended by stop())
            deadline = time.monotonic() + fault.delay_s
            while time.monotonic() < deadline and not self._stopping.is_set():
                await asyncio.sleep(0.05)
        if fault is not None and fault.drop:
            server.transport.close()  # no answer at all
        return "250 2.0.0 OK: queued"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local SMTP server that prints each message.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    receiver = SmtpReceiver(args.host, args.port, echo=True).start()
    print(f"SMTP on {receiver.host}:{receiver.port} (GOVWATCH_SMTP_HOST={receiver.host} "
          f"GOVWATCH_SMTP_PORT={receiver.port} GOVWATCH_SMTP_STARTTLS=false). Ctrl-C to stop.", flush=True)
    serve_until_interrupted(receiver.stop)


if __name__ == "__main__":
    main()
