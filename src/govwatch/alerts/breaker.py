"""Per-destination pacing and circuit breaker for Slack sends (pure and thread-safe; clock and sleep injected).

One destination (a webhook URL, or a bot token + channel) has one *next slot*: the earliest time a message may be
sent to it. Three things move it:

* **pacing**: after every exchange, ``min_interval_s`` later (Slack allows about one message per second per
  channel);
* **Retry-After**: a 429 that is worth waiting for inline moves it that much later;
* **the breaker**: a destination that failed (a 429 not worth waiting for, 5xx or timeouts past the sender's inline
  budget) is *open* for a cooldown, ``max(Retry-After, base_open_s * 2**(streak-1))``, never more than
  ``max_open_s`` (a hostile ``Retry-After: 1e9`` must not park alerts for ever), where ``streak`` counts the
  failures in a row. After the cooldown the next send is the probe (half-open): success closes the circuit
  (streak 0), failure opens it again, longer.

**Nobody waits long for a slot.** A caller whose slot is more than ``max_wait_s`` away gets
:class:`DestinationBusy` at once, without a request: the notifier defers that alert (see
``govwatch.stages.notifier``) instead of holding its thread, and with it every other subscription's alert in the
same batch. That is how one destination answering 429 forever costs others at most one request's time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from govwatch.errors import RateLimited


class DestinationBusy(RateLimited):
    """The destination's next slot is further away than the caller may wait (paced, rate-limited or open-circuited);
    no request was made. ``retry_after``: seconds until the slot; ``paced``: only busy (a burst to one channel), not
    failing."""

    def __init__(self, message: str, retry_after: float | None = None, paced: bool = False) -> None:
        super().__init__(message, retry_after=retry_after)
        self.paced = paced


@dataclass
class _State:
    slot: float = 0.0
    streak: int = 0
    reason: str = ""  # the failure that opened the circuit, for the deferred alerts' last_error


class DestinationGate:
    """Next slots and failure streaks per destination key (a hash, never the secret)."""

    def __init__(self, *, min_interval_s: float, max_wait_s: float, base_open_s: float, max_open_s: float,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.min_interval_s = min_interval_s
        self.max_wait_s = max_wait_s
        self.base_open_s = base_open_s
        self.max_open_s = max(max_open_s, base_open_s)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}

    def _state(self, key: str) -> _State:
        return self._states.setdefault(key, _State(slot=self._clock()))

    def acquire(self, key: str, masked: str = "destination") -> float:
        """Reserve the destination's next slot and sleep until it (outside the lock: others proceed); returns the
        seconds slept. DestinationBusy, reserving nothing, when the slot is more than ``max_wait_s`` away."""
        with self._lock:
            state = self._state(key)
            now = self._clock()
            slot = max(now, state.slot)
            wait = slot - now
            if wait > self.max_wait_s:
                why = f"circuit open after: {state.reason}" if state.streak else "paced"
                raise DestinationBusy(f"{masked} is not taking messages for {wait:.1f}s more ({why}); deferred, "
                                      "not waited for", retry_after=wait, paced=not state.streak)
            state.slot = slot + self.min_interval_s
        if wait > 0:
            self._sleep(wait)
        return wait

    def push_back(self, key: str, delay_s: float) -> None:
        """The next slot is at least ``delay_s`` from now (pacing after an answer, an inline Retry-After wait)."""
        with self._lock:
            state = self._state(key)
            state.slot = max(state.slot, self._clock() + delay_s)

    def trip(self, key: str, retry_after: float = 0.0, reason: str = "") -> float:
        """The destination failed (``reason``): open its circuit; returns the cooldown in seconds."""
        with self._lock:
            state = self._state(key)
            state.streak += 1
            state.reason = reason
            backoff = self.base_open_s * 2.0 ** min(state.streak - 1, 30)
            cooldown = min(max(retry_after, backoff), self.max_open_s)
            state.slot = max(state.slot, self._clock() + cooldown)
            return cooldown

    def succeeded(self, key: str) -> None:
        """The destination accepted a message: the circuit is closed again."""
        with self._lock:
            self._state(key).streak = 0

    def wait_s(self, key: str) -> float:
        """Seconds until the destination's next slot (0 when it may be sent to now)."""
        with self._lock:
            return max(0.0, self._state(key).slot - self._clock())
