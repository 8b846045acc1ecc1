"""A Slack-compatible receiver for local runs and tests: real HTTP on 127.0.0.1, no Slack account needed.

* ``POST /services/<anything>`` behaves like an incoming webhook (``200 ok``; ``400 invalid_payload`` for a
  body that is not JSON, ``400 no_text`` without ``text`` or ``blocks``).
* ``POST /api/chat.postMessage`` behaves like the Web API (``{"ok": true, "channel": ..., "ts": ...}``;
  ``not_authed`` without a Bearer token).
* Every request is recorded (:attr:`SlackReceiver.requests`, with the status answered and a monotonic
  timestamp); successful ones are also in :attr:`SlackReceiver.deliveries`.
* :meth:`SlackReceiver.script` queues responses per path (e.g. 429 with ``Retry-After: 1``, then 500, then
  success), optionally repeating the last one forever (a revoked webhook answers 410 for good).

Run standalone with ``python -m govwatch.alerts.slack_receiver --port 3000``: it prints each message readably.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY_BYTES = 1_000_000  # far above any valid Slack payload; stops a runaway test from eating memory
WEBHOOK_PREFIX = "/services/"
POST_MESSAGE_PATH = "/api/chat.postMessage"
_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>|<([^<>|]+)>")


@dataclass(frozen=True)
class ScriptedResponse:
    """A canned answer: ``body`` is sent as JSON when it is a dict, else as text."""

    status: int
    body: str | dict[str, Any] = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedRequest:
    """One POST as the receiver saw it; ``received_at`` is ``time.monotonic()`` when it arrived."""

    path: str
    payload: dict[str, Any] | None
    headers: dict[str, str]
    received_at: float
    status: int
    delivered: bool


def render(payload: dict[str, Any]) -> str:
    """A human reading of a Block Kit payload: every text line, links shown as ``label (url)``, unescaped."""
    lines: list[str] = []
    for block in payload.get("blocks") or []:
        texts = [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]
        parts = [t["text"] for t in texts if isinstance(t, dict) and isinstance(t.get("text"), str)]
        if parts:
            lines.append(("  " if block.get("type") == "context" else "") + "  ·  ".join(parts))
    if not lines:
        lines.append(str(payload.get("text", "")))

    def unlink(match: re.Match[str]) -> str:
        url = match.group(1) or match.group(3)
        return f"{match.group(2)} ({html.unescape(url)})" if match.group(2) is not None else html.unescape(url)

    return "\n".join(html.unescape(_LINK.sub(unlink, line)) for line in lines)


class SlackReceiver:
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, echo: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._host = host
        self._clock = clock
        self._echo = echo
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._scripts: dict[str, deque[ScriptedResponse]] = {}
        self._sticky: dict[str, ScriptedResponse] = {}
        self._ts = 0
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval makes stop() (and so every test teardown) near-instant instead of ~0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="slack-receiver", daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SlackReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> SlackReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- addresses and inspection ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._server.server_port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api"

    def webhook_url(self, name: str = "T000/B000/local") -> str:
        return f"{self.base_url}{WEBHOOK_PREFIX}{name}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def deliveries(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.delivered]

    def script(self, path: str, *responses: ScriptedResponse, forever: bool = False) -> None:
        """Answer the next requests to ``path`` with ``responses`` in order; ``forever`` repeats the last."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(responses)
            if forever and responses:
                self._sticky[path] = responses[-1]

    # --- request handling --------------------------------------------------------------------------

    def _next_scripted(self, path: str) -> ScriptedResponse | None:
        with self._lock:
            queue = self._scripts.get(path)
            if queue:
                if len(queue) == 1 and path in self._sticky:
                    return queue[0]
                return queue.popleft()
            return self._sticky.get(path)

    def _answer(self, path: str, payload: dict[str, Any] | None, headers: dict[str, str]) -> ScriptedResponse:
        scripted = self._next_scripted(path)
        if scripted is not None:
            return scripted
        if path.startswith(WEBHOOK_PREFIX):
            if payload is None:
                return ScriptedResponse(400, "invalid_payload")
            if not payload.get("text") and not payload.get("blocks"):
                return ScriptedResponse(400, "no_text")
            return ScriptedResponse(200, "ok")
        if path == POST_MESSAGE_PATH:
            if not headers.get("authorization", "").startswith("Bearer "):
                return ScriptedResponse(200, {"ok": False, "error": "not_authed"})
            if payload is None:
                return ScriptedResponse(200, {"ok": False, "error": "invalid_json"})
            if not payload.get("channel"):
                return ScriptedResponse(200, {"ok": False, "error": "channel_not_found"})
            with self._lock:
                self._ts += 1
                ts = f"{int(time.time())}.{self._ts:06d}"
            return ScriptedResponse(200, {"ok": True, "channel": payload["channel"], "ts": ts})
        if path.startswith("/api/"):
            return ScriptedResponse(200, {"ok": False, "error": "unknown_method"})
        return ScriptedResponse(404, "no_service")

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        received_at = self._clock()
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._reply(handler, ScriptedResponse(413, "request_too_large"))
            return
        raw = handler.rfile.read(length)
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else None
        headers = {k.lower(): v for k, v in handler.headers.items()}
        response = self._answer(path, payload, headers)
        delivered = 200 <= response.status < 300 and (
            not isinstance(response.body, dict) or response.body.get("ok") is True)
        with self._lock:
            self._requests.append(ReceivedRequest(path, payload, headers, received_at, response.status, delivered))
        self._reply(handler, response)
        if delivered and self._echo and payload is not None:
            where = f"#{payload.get('channel')}" if path == POST_MESSAGE_PATH else "webhook"
            print(f"── {where} ──\n{render(payload)}\n", flush=True)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, response: ScriptedResponse) -> None:
        is_json = isinstance(response.body, dict)
        data = (json.dumps(response.body) if is_json else str(response.body)).encode("utf-8")
        handler.send_response(response.status)
        handler.send_header("Content-Type", "application/json; charset=utf-8" if is_json else "text/plain")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like Slack; httpx reuses the connection

            def do_POST(self) -> None:  # http.server's naming
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the echo output (or the test's assertions) is the log; access lines are noise

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Slack-compatible receiver that prints messages.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    receiver = SlackReceiver(args.host, args.port, echo=True).start()
    print(f"listening on {receiver.base_url}\n  webhook URL: {receiver.webhook_url()}\n"
          f"  api base:    {receiver.api_base}  (chat.postMessage)\nCtrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()


if __name__ == "__main__":
    main()
