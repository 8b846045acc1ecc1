"""Group commit: concurrent callers' small requests to one backend served by one request (pure, no I/O).

The poller's threads each hold one feed's few story ids. One Elasticsearch ``_mget`` / ``_bulk`` per feed cost
a round trip, a translog fsync and the client's per-request CPU each time. Here a caller that finds no
request in flight becomes the leader: it takes every request queued so far (its own included), runs one
backend call for all of them and hands each caller its own answer. Callers arriving meanwhile queue up and
go together in the next call, so batches grow with the load and nothing waits when the poller is idle (no
timer, no background thread).

Each caller still gets its own outcome: ``run`` answers per request, so one feed's failed ids fail that feed
only; an exception of the whole call (backend down) fails every request of that call, as it would have
failed each of them alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


@dataclass(eq=False)
class _Request(Generic[Item, Answer]):
    items: Sequence[Item]
    done: bool = False
    answer: Answer | None = None
    error: BaseException | None = None
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.items)


class GroupCommit(Generic[Item, Answer]):
    """``call(items)`` -> this caller's answer, with concurrent calls coalesced into one ``run``.

    ``run`` gets the queued requests' item lists and returns one answer (or an exception instance, raised to
    that caller only) per list, in order. ``max_items`` bounds one backend call; a request larger than it
    still goes, alone.
    """

    def __init__(self, run: Callable[[list[Sequence[Item]]], list[Answer | BaseException]],
                 max_items: int = 2000) -> None:
        self._run, self.max_items = run, max_items
        self._cond = threading.Condition()
        self._queue: list[_Request[Item, Answer]] = []
        self._busy = False
        self.calls = 0  # backend calls made (for benchmarks and tests)

    def call(self, items: Sequence[Item]) -> Answer:
        request: _Request[Item, Answer] = _Request(items)
        with self._cond:
            self._queue.append(request)
        while True:  # a leader whose own request did not fit its batch leads (or waits for) the next one
            with self._cond:
                while not request.done and self._busy:
                    self._cond.wait()
                if request.done:
                    return self._outcome(request)
                batch = self._take()
                self._busy = True
            self._lead(batch)

    def _lead(self, batch: list[_Request[Item, Answer]]) -> None:
        try:
            answers = self._run([r.items for r in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"group commit: {len(answers)} answers for {len(batch)} requests")
        except BaseException as exc:  # noqa: BLE001 - every caller of this batch sees the backend's failure
            answers = [exc] * len(batch)
        with self._cond:
            self.calls += 1
            for r, answer in zip(batch, answers, strict=True):
                if isinstance(answer, BaseException):
                    r.error = answer
                else:
                    r.answer = answer
                r.done = True
            self._busy = False
            self._cond.notify_all()

    def _take(self) -> list[_Request[Item, Answer]]:
        """Queued requests up to ``max_items`` items (at least the first), oldest first; caller holds the lock."""
        taken, total = 0, 0
        for r in self._queue:
            if taken and total + r.size > self.max_items:
                break
            taken, total = taken + 1, total + r.size
        batch, self._queue = self._queue[:taken], self._queue[taken:]
        return batch

    @staticmethod
    def _outcome(request: _Request[Item, Answer]) -> Answer:
        if request.error is not None:
            raise request.error
        return request.answer  # type: ignore[return-value]
