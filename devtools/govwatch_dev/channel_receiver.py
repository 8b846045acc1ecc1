"""A Teams- and JSON-webhook-compatible receiver for local runs and tests: real HTTP on 127.0.0.1.

* ``POST /teams/<anything>`` behaves like a Teams Workflows webhook ("Send webhook alerts to a channel"): ``202``
  for a message with an Adaptive Card attachment (``type: message``, ``attachments[0].contentType``
  ``application/vnd.microsoft.card.adaptive``, ``content.type: AdaptiveCard`` with a non-empty ``body``), ``400``
  otherwise.
* ``POST /hooks/<anything>`` behaves like a receiver of govwatch's generic JSON webhook: ``200 {"ok": true}`` for a
  JSON object with ``alert_id``; with a secret set for the path (:meth:`ChannelReceiver.expect_signature`) a request
  whose ``X-Govwatch-Signature`` does not verify is answered ``401``. It keeps the ``Idempotency-Key`` values it has
  accepted, as a careful receiver does: :meth:`ChannelReceiver.unique` is what such a receiver would act on.
* :meth:`script` and :meth:`fault` behave as in :mod:`govwatch_dev.slack_receiver` (canned answers; an answer that
  comes ``delay_s`` late, or a connection dropped after the message was accepted).

Run standalone with ``python -m govwatch_dev.channel_receiver --port 3001``: it prints each message.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from govwatch_dev.localserver import LocalServer, serve_until_interrupted
from govwatch_dev.slack_receiver import Fault, ReceivedRequest, ScriptedResponse, reply

MAX_BODY_BYTES = 1_000_000
TEAMS_PREFIX = "/teams/"
HOOKS_PREFIX = "/hooks/"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


def teams_problem(payload: dict[str, Any] | None) -> str | None:
    """Why a body is not a Teams Adaptive Card message, or None."""
    if payload is None or payload.get("type") != "message":
        return "body must be a JSON object with type 'message'"
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments or not isinstance(attachments[0], dict):
        return "attachments must hold one card"
    card = attachments[0]
    content = card.get("content")
    if card.get("contentType") != ADAPTIVE or not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
        return f"attachment must be an AdaptiveCard ({ADAPTIVE})"
    if not isinstance(content.get("body"), list) or not content["body"]:
        return "the card has no body"
    return None


def verify(secret: str, headers: dict[str, str], raw: bytes) -> bool:
    """Check ``X-Govwatch-Signature`` as a receiver would (constant-time compare)."""
    timestamp = headers.get("x-govwatch-timestamp", "")
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii", "replace") + b"." + raw, hashlib.sha256)
    return hmac.compare_digest(headers.get("x-govwatch-signature", ""), f"v1={mac.hexdigest()}")


class ChannelReceiver:
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, echo: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._echo = echo
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._scripts: dict[str, deque[ScriptedResponse]] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._sticky_faults: dict[str, Fault] = {}
        self._secrets: dict[str, str] = {}
        self._keys: dict[str, list[str]] = {}  # path -> idempotency keys accepted, first time only
        self._stopping = threading.Event()
        self._server = LocalServer(self._handler_class(), port, host=host, name="channel-receiver",
                                   poll_interval=0.05)

    def start(self) -> ChannelReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.stop()

    def __enter__(self) -> ChannelReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.url

    def teams_url(self, name: str = "workflow") -> str:
        return f"{self.base_url}{TEAMS_PREFIX}{name}"

    def hook_url(self, name: str = "alerts") -> str:
        return f"{self.base_url}{HOOKS_PREFIX}{name}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def deliveries(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.delivered]

    def unique(self, path: str) -> list[str]:
        """The idempotency keys accepted on ``path``, each once: what a deduplicating receiver acts on."""
        with self._lock:
            return list(self._keys.get(path, []))

    def expect_signature(self, path: str, secret: str) -> None:
        with self._lock:
            self._secrets[path] = secret

    def script(self, path: str, *responses: ScriptedResponse) -> None:
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(responses)

    def fault(self, path: str, *faults: Fault, forever: bool = False) -> None:
        with self._lock:
            self._faults.setdefault(path, deque()).extend(faults)
            if forever and faults:
                self._sticky_faults[path] = faults[-1]

    def _next(self, path: str) -> tuple[ScriptedResponse | None, Fault | None]:
        with self._lock:
            scripted = self._scripts[path].popleft() if self._scripts.get(path) else None
            faults = self._faults.get(path)
            fault = faults.popleft() if faults else self._sticky_faults.get(path)
            return scripted, fault

    def _answer(self, path: str, payload: dict[str, Any] | None, headers: dict[str, str],
                raw: bytes) -> ScriptedResponse:
        if path.startswith(TEAMS_PREFIX):
            problem = teams_problem(payload)
            return ScriptedResponse(400, problem) if problem else ScriptedResponse(202, "")
        if path.startswith(HOOKS_PREFIX):
            if payload is None or not payload.get("alert_id"):
                return ScriptedResponse(400, {"ok": False, "error": "not a govwatch alert"})
            secret = self._secrets.get(path)
            if secret is not None and not verify(secret, headers, raw):
                return ScriptedResponse(401, {"ok": False, "error": "bad signature"})
            key = headers.get("idempotency-key", "")
            with self._lock:
                seen = self._keys.setdefault(path, [])
                duplicate = key in seen
                if not duplicate:
                    seen.append(key)
            return ScriptedResponse(200, {"ok": True, "duplicate": duplicate})
        return ScriptedResponse(404, "not found")

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        received_at = self._clock()
        path = urlsplit(handler.path).path
        length = int(handler.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._reply(handler, ScriptedResponse(413, "request too large"))
            return
        raw = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else None
        scripted, fault = self._next(path)
        response = scripted or self._answer(path, payload, headers, raw)
        delivered = 200 <= response.status < 300
        with self._lock:
            self._requests.append(ReceivedRequest(path, payload, headers, received_at, response.status, delivered))
        if fault is not None and fault.delay_s > 0:
            self._stopping.wait(fault.delay_s)  # accepted already; the answer is what is late
        if fault is not None and fault.drop:
            handler.close_connection = True
        else:
            self._reply(handler, response)
        if delivered and self._echo:
            print(f"── {path} ──\n{json.dumps(payload, indent=2, ensure_ascii=False)}\n", flush=True)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, response: ScriptedResponse) -> None:
        reply(handler, response, "application/json")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # http.server's naming
                receiver._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Teams- and JSON-webhook-compatible receiver.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    receiver = ChannelReceiver(args.host, args.port, echo=True).start()
    print(f"listening on {receiver.base_url}\n  Teams URL:   {receiver.teams_url()}\n"
          f"  webhook URL: {receiver.hook_url()}\nCtrl-C to stop.", flush=True)
    serve_until_interrupted(receiver.stop)


if __name__ == "__main__":
    main()
