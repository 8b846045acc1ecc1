"""The per-destination gate: pacing, the circuit breaker's cooldowns, and never a long wait (pure, fake clock)."""

from __future__ import annotations

import pytest

from govwatch.alerts.breaker import DestinationBusy, DestinationGate


def gate(**over: float) -> tuple[DestinationGate, list[float]]:
    now = [100.0]
    options = dict(min_interval_s=1.0, max_wait_s=2.0, base_open_s=5.0, max_open_s=60.0)
    options.update(over)
    return DestinationGate(**options, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)), now


def test_a_burst_to_one_destination_is_paced_then_deferred_as_busy_not_failing() -> None:
    """Reservations a second apart; the one whose slot is more than 2 s away is refused as paced (not a failure)."""
    g, _ = gate()
    g._sleep = lambda s: None  # three callers reserve at the same instant
    assert [g.acquire("a") for _ in range(3)] == [0.0, 1.0, 2.0]
    with pytest.raises(DestinationBusy) as excinfo:
        g.acquire("a")
    assert excinfo.value.paced and excinfo.value.retry_after == 3.0 and "paced" in str(excinfo.value)
    assert g.acquire("b") == 0.0  # another destination is not held


def test_trips_double_the_cooldown_up_to_the_cap_and_respect_retry_after() -> None:
    """5 s, 10 s, 20 s … capped at 60 s; a longer Retry-After wins up to the cap; success resets the streak."""
    g, now = gate()
    assert [g.trip("a") for _ in range(6)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    g.succeeded("a")
    assert g.trip("a", retry_after=30.0, reason="HTTP 429") == 30.0
    with pytest.raises(DestinationBusy) as excinfo:
        g.acquire("a")
    assert not excinfo.value.paced and "circuit open after: HTTP 429" in str(excinfo.value)
    now[0] += 61.0  # past every cooldown: the next send is the probe
    assert g.acquire("a") == 0.0
