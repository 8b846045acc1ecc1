"""Group commit of concurrent published-ids requests (govwatch.adapters.group_commit)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from govwatch.adapters.group_commit import GroupCommit


class Gate:
    """A backend whose first call blocks until released, so the test decides what queues behind it."""

    def __init__(self) -> None:
        self.batches: list[list[list[int]]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def run(self, requests: list[Sequence[int]]) -> list[int | BaseException]:
        self.batches.append([list(r) for r in requests])
        if len(self.batches) == 1:
            self.entered.set()
            assert self.release.wait(10)
        return [ValueError(f"bad {r}") if -1 in r else sum(r) for r in requests]


def _spawn(group: GroupCommit, items: list[int], results: dict) -> threading.Thread:
    def one() -> None:
        try:
            results[tuple(items)] = group.call(items)
        except ValueError as exc:
            results[tuple(items)] = exc
    thread = threading.Thread(target=one)
    thread.start()
    return thread


def _wait_queued(group: GroupCommit, n: int) -> None:
    """Readiness wait: until ``n`` requests sit in the queue behind the running call."""
    with group._cond:  # the test inspects the queue it filled
        assert group._cond.wait_for(lambda: len(group._queue) == n, timeout=10)


def test_requests_arriving_during_a_call_share_the_next_one() -> None:
    """Callers that queue while a backend call runs are answered by one call, each with its own answer."""
    gate = Gate()
    group: GroupCommit[int, int] = GroupCommit(gate.run)
    results: dict = {}
    first = _spawn(group, [1], results)
    assert gate.entered.wait(10)
    others = [_spawn(group, [n, n], results) for n in (2, 3, 4)]
    _wait_queued(group, 3)
    gate.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert results == {(1,): 1, (2, 2): 4, (3, 3): 6, (4, 4): 8}
    assert gate.batches[0] == [[1]]
    assert sorted(map(tuple, gate.batches[1])) == [(2, 2), (3, 3), (4, 4)]
    assert group.calls == 2


def test_a_failed_request_fails_its_caller_only() -> None:
    """An answer that is an exception is raised to that caller; the others in the batch get their answers."""
    gate = Gate()
    group: GroupCommit[int, int] = GroupCommit(gate.run)
    results: dict = {}
    first = _spawn(group, [0], results)
    assert gate.entered.wait(10)
    bad, good = _spawn(group, [-1], results), _spawn(group, [5], results)
    _wait_queued(group, 2)
    gate.release.set()
    for thread in (first, bad, good):
        thread.join(10)
    assert isinstance(results[(-1,)], ValueError)
    assert results[(5,)] == 5


def test_a_backend_failure_reaches_every_caller_of_that_call() -> None:
    """When the backend call itself raises, each request it carried sees that error."""
    def down(requests: list[Sequence[int]]) -> list[int]:
        raise ConnectionError("backend down")

    group: GroupCommit[int, int] = GroupCommit(down)
    with pytest.raises(ConnectionError, match="backend down"):
        group.call([1])


def test_batches_respect_max_items() -> None:
    """A queue larger than ``max_items`` is served by several calls, none over the bound (except a lone big one)."""
    gate = Gate()
    group: GroupCommit[int, int] = GroupCommit(gate.run, max_items=4)
    results: dict = {}
    first = _spawn(group, [1], results)
    assert gate.entered.wait(10)
    others = [_spawn(group, [n] * 3, results) for n in (2, 3, 4)] + [_spawn(group, [9] * 6, results)]
    _wait_queued(group, 4)
    gate.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert results[(9,) * 6] == 54 and results[(2, 2, 2)] == 6
    assert all(sum(map(len, batch)) <= 4 or len(batch) == 1 for batch in gate.batches)
    assert sum(len(batch) for batch in gate.batches) == 5
