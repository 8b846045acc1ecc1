"""The recording Slack-compatible receiver with time-window faults, for the fault-injection suite.

Extends :class:`govwatch_dev.slack_receiver.SlackReceiver` (everything it records and answers stays the
same) with a fault mode that holds for every path until changed: ``"500"`` answers 500 and ``"429"``
answers 429 with ``Retry-After`` (nothing posted); ``"drop"`` accepts the message and drops the connection
unanswered, ``"slow"`` accepts it and answers only after the sender's timeout (both use the receiver's own
:class:`~govwatch_dev.slack_receiver.Fault`: the message *was* posted, the sender cannot know, which is the
documented duplicate window for webhooks; bot tokens can check ``conversations.history``).
"""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler

from govwatch_dev.slack_receiver import Fault, ReceivedRequest, ScriptedResponse, SlackReceiver

RETRY_AFTER_S = 2
SEND_TIMEOUT_S = 3.0  # the notifiers' GOVWATCH_SLACK_SEND_TIMEOUT_S in chaos runs: short, so runs stay short
SLOW_ANSWER_S = SEND_TIMEOUT_S + 2.0  # past the sender's timeout, so it gives up before the answer comes
MODES = (None, "500", "429", "drop", "slow")


class FaultySlack(SlackReceiver):
    """A :class:`SlackReceiver` whose :attr:`mode` injects one kind of fault while set."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.mode: str | None = None
        self.faulted = 0  # requests refused, dropped or answered late by a fault
        self.arrivals = 0  # requests that reached the server, counted before any (slow) answer
        self._count_lock = threading.Lock()

    def set_mode(self, mode: str | None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown Slack fault mode {mode!r}; choose one of {MODES}")
        self.mode = mode

    def _next_fault(self, path: str) -> Fault | None:
        mode = self.mode
        if mode in ("slow", "drop"):
            with self._count_lock:
                self.faulted += 1
            return Fault(delay_s=SLOW_ANSWER_S) if mode == "slow" else Fault(drop=True)
        return super()._next_fault(path)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        with self._count_lock:
            self.arrivals += 1
        mode = self.mode
        if mode not in ("500", "429"):
            # A slow answer to a sender that gave up: the post itself was recorded.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super()._handle(handler, method)
            return
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        status = int(mode)
        with self._count_lock:
            self.faulted += 1
        with self._lock:
            self._requests.append(ReceivedRequest(handler.path.split("?", 1)[0], None, {}, self._clock(), status,
                                                  False))
        headers = {"Retry-After": str(RETRY_AFTER_S)} if mode == "429" else {}
        self._reply(handler, ScriptedResponse(status, "internal_error" if mode == "500" else "rate_limited", headers))
