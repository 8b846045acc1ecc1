"""A Slack-compatible receiver for local runs and tests: real HTTP on 127.0.0.1, no Slack account needed.

* ``POST /services/<anything>`` behaves like an incoming webhook (``200 ok``; ``400 invalid_payload`` for a
  body that is not JSON, ``400 no_text`` without ``text`` or ``blocks``).
* ``POST /api/chat.postMessage`` behaves like the Web API (``{"ok": true, "channel": ..., "ts": ...}``;
  ``not_authed`` without a Bearer token) and stores the message in its channel, with its ``metadata``
  (``{"event_type": ..., "event_payload": {...}}``) when the payload carries one.
* ``chat.postMessage`` with ``thread_ts`` posts a reply in that message's thread, as Slack does: the reply is
  stored with ``thread_ts``; the parent gets ``thread_ts`` (its own ts), ``reply_count`` and ``latest_reply``; an
  unknown parent answers ``thread_not_found``.
* ``GET``/``POST /api/conversations.history`` returns a channel's stored top-level messages newest first, like
  Slack (thread replies are not listed): ``oldest`` (exclusive), ``limit``, a ``cursor`` for the next page, and
  ``metadata`` on each message only when ``include_all_metadata`` is true.
* ``GET``/``POST /api/conversations.replies`` (``channel``, ``ts``) returns a thread: its parent, then the replies
  oldest first, with the same ``oldest``/``limit``/``cursor``/``include_all_metadata`` handling.
* ``POST /api/chat.update`` (``channel``, ``ts``, ``text``/``blocks``) replaces a stored message's text and blocks
  (``message_not_found`` for an unknown ts); it is recorded as a request, not as a delivery.
* Every request is recorded (:attr:`SlackReceiver.requests`, with the status answered and a monotonic
  timestamp); accepted messages are also in :attr:`SlackReceiver.deliveries`.
* :meth:`SlackReceiver.script` queues responses per path (e.g. 429 with ``Retry-After: 1``, then 500, then
  success), optionally repeating the last one forever (a revoked webhook answers 410 for good).
* :meth:`SlackReceiver.fault` makes the next requests to a path slow or lost *after* the receiver has
  accepted them, as a slow Slack does: the message is recorded first, then the answer comes ``delay_s``
  later, or the connection is dropped without an answer (``drop``).

Run standalone with ``python -m govwatch_dev.slack_receiver --port 3000``: it prints each message readably.
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
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from govwatch_dev.localserver import LocalServer, serve_until_interrupted

MAX_BODY_BYTES = 1_000_000  # far above any valid Slack payload; stops a runaway test from eating memory
WEBHOOK_PREFIX = "/services/"
POST_MESSAGE_PATH = "/api/chat.postMessage"
HISTORY_PATH = "/api/conversations.history"
REPLIES_PATH = "/api/conversations.replies"
UPDATE_PATH = "/api/chat.update"
HISTORY_DEFAULT_LIMIT = 100  # Slack's default page size for conversations.history
HISTORY_MAX_LIMIT = 999  # Slack's documented maximum
_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>|<([^<>|]+)>")


@dataclass(frozen=True)
class ScriptedResponse:
    """A canned answer: ``body`` is sent as JSON when it is a dict, else as text."""

    status: int
    body: str | dict[str, Any] = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """What happens after a request was accepted: answer ``delay_s`` late, or drop the connection unanswered."""

    delay_s: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it; ``received_at`` is ``time.monotonic()`` when it arrived.

    ``payload`` is the JSON body (for a GET, the query parameters); ``delivered`` means a message was accepted."""

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


def reply(handler: BaseHTTPRequestHandler, response: ScriptedResponse, json_type: str) -> None:
    """Write a scripted answer (a dict body as ``json_type``, anything else as text); a client that gave up waiting
    (timeout) or was killed gets nothing more."""
    is_json = isinstance(response.body, dict)
    data = (json.dumps(response.body) if is_json else str(response.body)).encode("utf-8")
    try:
        handler.send_response(response.status)
        handler.send_header("Content-Type", json_type if is_json else "text/plain")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True


class SlackReceiver:
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, echo: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._echo = echo
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._scripts: dict[str, deque[ScriptedResponse]] = {}
        self._sticky: dict[str, ScriptedResponse] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._sticky_faults: dict[str, Fault] = {}
        self._channels: dict[str, list[dict[str, Any]]] = {}  # channel -> stored messages, oldest first
        self._last_ts = 0.0
        self._stopping = threading.Event()  # ends scripted delays at stop()
        # A short poll interval makes stop() (and so every test teardown) near-instant instead of ~0.5 s.
        self._server = LocalServer(self._handler_class(), port, host=host, name="slack-receiver", poll_interval=0.05)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SlackReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.stop()

    def __enter__(self) -> SlackReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- addresses and inspection ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._server.url

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

    def unscript(self, path: str) -> None:
        """Forget every scripted answer for ``path`` (sticky ones too): it is answered normally again."""
        with self._lock:
            self._scripts.pop(path, None)
            self._sticky.pop(path, None)

    def fault(self, path: str, *faults: Fault, forever: bool = False) -> None:
        """Apply ``faults`` to the next accepted requests to ``path`` in order; ``forever`` repeats the last."""
        with self._lock:
            self._faults.setdefault(path, deque()).extend(faults)
            if forever and faults:
                self._sticky_faults[path] = faults[-1]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The messages stored in ``channel`` by chat.postMessage, oldest first (each with ``ts``; a thread reply
        also with ``thread_ts`` = its parent's ``ts``)."""
        with self._lock:
            return [dict(m) for m in self._channels.get(channel, [])]

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        """The channel's top-level messages, oldest first."""
        return [m for m in self.messages(channel) if m.get("thread_ts") in (None, m["ts"])]

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies in the thread of message ``ts``, oldest first (the parent excluded)."""
        return [m for m in self.messages(channel) if m.get("thread_ts") == ts and m["ts"] != ts]

    # --- request handling --------------------------------------------------------------------------

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            if queue:
                if len(queue) == 1 and path in self._sticky_faults:
                    return queue[0]
                return queue.popleft()
            return self._sticky_faults.get(path)

    def _new_ts(self) -> str:
        """A Slack-style ``ts`` (epoch seconds with microseconds), strictly increasing in this receiver."""
        with self._lock:
            self._last_ts = max(time.time(), self._last_ts + 1e-6)
            return f"{self._last_ts:.6f}"

    def _post(self, payload: dict[str, Any]) -> ScriptedResponse:
        """chat.postMessage: store the message (a reply when ``thread_ts`` names a stored top-level message)."""
        channel = str(payload["channel"])
        message: dict[str, Any] = {"type": "message", "text": payload.get("text", ""),
                                   "blocks": payload.get("blocks") or []}
        metadata = payload.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str):
            message["metadata"] = {"event_type": metadata["event_type"],
                                   "event_payload": metadata.get("event_payload") or {}}
        thread_ts = payload.get("thread_ts")
        ts = self._new_ts()
        with self._lock:
            stored = self._channels.setdefault(channel, [])
            if thread_ts is not None:
                parent = next((m for m in stored if m["ts"] == str(thread_ts)), None)
                if parent is None or parent.get("thread_ts") not in (None, parent["ts"]):
                    return ScriptedResponse(200, {"ok": False, "error": "thread_not_found"})
                parent.update(thread_ts=parent["ts"], reply_count=int(parent.get("reply_count", 0)) + 1,
                              latest_reply=ts)
                message["thread_ts"] = parent["ts"]
            stored.append({**message, "ts": ts})
        return ScriptedResponse(200, {"ok": True, "channel": channel, "ts": ts})

    def _update(self, payload: dict[str, Any]) -> ScriptedResponse:
        """chat.update: replace a stored message's text and blocks."""
        channel, ts = str(payload.get("channel") or ""), str(payload.get("ts") or "")
        with self._lock:
            found = next((m for m in self._channels.get(channel, []) if m["ts"] == ts), None)
            if found is None:
                return ScriptedResponse(200, {"ok": False, "error": "message_not_found"})
            found["text"] = payload.get("text", found.get("text", ""))
            found["blocks"] = payload.get("blocks") or found.get("blocks") or []
            found["edited"] = {"ts": self._last_ts}
        return ScriptedResponse(200, {"ok": True, "channel": channel, "ts": ts, "text": found["text"]})

    def _history(self, params: dict[str, Any], thread: bool = False) -> ScriptedResponse:
        """conversations.history (top-level messages, newest first) or, with ``thread``, conversations.replies
        (the parent ``ts`` and its replies, oldest first)."""
        channel = str(params.get("channel") or "")
        if not channel:
            return ScriptedResponse(200, {"ok": False, "error": "channel_not_found"})
        try:
            oldest = float(params.get("oldest") or 0)
            limit = min(max(int(params.get("limit") or HISTORY_DEFAULT_LIMIT), 1), HISTORY_MAX_LIMIT)
            start = int(params.get("cursor") or 0)
        except ValueError:
            return ScriptedResponse(200, {"ok": False, "error": "invalid_arguments"})
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("true", "1")
        with self._lock:
            stored = [dict(m) for m in self._channels.get(channel, [])]
        if thread:
            parent_ts = str(params.get("ts") or "")
            if not any(m["ts"] == parent_ts for m in stored):
                return ScriptedResponse(200, {"ok": False, "error": "thread_not_found"})
            listed = [m for m in stored if m["ts"] == parent_ts
                      or (m.get("thread_ts") == parent_ts and float(m["ts"]) > oldest)]
        else:
            listed = [m for m in reversed(stored)
                      if m.get("thread_ts") in (None, m["ts"]) and float(m["ts"]) > oldest]
        page = listed[start:start + limit]
        more = start + limit < len(listed)
        messages = [{k: v for k, v in m.items() if k != "metadata" or with_metadata} for m in page]
        return ScriptedResponse(200, {"ok": True, "messages": messages, "has_more": more,
                                      "response_metadata": {"next_cursor": str(start + limit) if more else ""}})

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
            return self._post(payload)
        if path in (HISTORY_PATH, REPLIES_PATH, UPDATE_PATH):
            if not headers.get("authorization", "").startswith("Bearer "):
                return ScriptedResponse(200, {"ok": False, "error": "not_authed"})
            if path == UPDATE_PATH:
                return self._update(payload or {})
            return self._history(payload or {}, thread=path == REPLIES_PATH)
        if path.startswith("/api/"):
            return ScriptedResponse(200, {"ok": False, "error": "unknown_method"})
        return ScriptedResponse(404, "no_service")

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        received_at = self._clock()
        parts = urlsplit(handler.path)
        path = parts.path
        length = int(handler.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._reply(handler, ScriptedResponse(413, "request_too_large"))
            return
        raw = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        payload: Any
        if method == "GET":
            payload = dict(parse_qsl(parts.query))
        elif headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            payload = dict(parse_qsl(raw.decode("utf-8", "replace")))
        else:
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = None
        payload = payload if isinstance(payload, dict) else None
        response = self._answer(path, payload, headers)
        is_message = path.startswith(WEBHOOK_PREFIX) or path == POST_MESSAGE_PATH
        delivered = is_message and 200 <= response.status < 300 and (
            not isinstance(response.body, dict) or response.body.get("ok") is True)
        with self._lock:
            self._requests.append(ReceivedRequest(path, payload, headers, received_at, response.status, delivered))
        fault = self._next_fault(path)
        if fault is not None and fault.delay_s > 0:
            self._stopping.wait(fault.delay_s)  # accepted already; the answer is what is late
        if fault is not None and fault.drop:
            handler.close_connection = True  # the server closes the socket: the client gets no answer at all
        else:
            self._reply(handler, response)
        if delivered and self._echo and payload is not None:
            where = f"#{payload.get('channel')}" if path == POST_MESSAGE_PATH else "webhook"
            print(f"── {where} ──\n{render(payload)}\n", flush=True)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, response: ScriptedResponse) -> None:
        reply(handler, response, "application/json; charset=utf-8")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like Slack; httpx reuses the connection

            def do_POST(self) -> None:  # http.server's naming
                receiver._handle(self, "POST")

            def do_GET(self) -> None:  # http.server's naming
                receiver._handle(self, "GET")

            def log_message(self, format: str, *args: object) -> None:
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
    serve_until_interrupted(receiver.stop)


if __name__ == "__main__":
    main()
