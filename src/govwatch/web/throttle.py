"""Limits on failed authentication: per client address and for the whole process (token buckets, in memory).

A login attempt, or a bearer token the app has not verified recently, takes one token from its client's bucket and
one from the global bucket *before* any hashing or Elasticsearch read; a success gives both back. So what is limited
is failures, a flood of concurrent guesses cannot overrun the budget (the token is taken before the work starts),
and a refused request costs a dictionary lookup: the gate answers 429 with ``Retry-After`` at once.

The per-client limit stops one address; the global one bounds the CPU a distributed guesser can buy (every request
it sends is then a 429 too: legitimate users with a session are unaffected, new logins wait with them). IPv6 clients
are counted per /64, the block one subscriber usually holds, so rotating addresses inside it does not help. Buckets
live in this process: each replica enforces its own limits.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 60.0  # limits are stated per minute; a bucket holds one minute's worth and refills evenly
MAX_CLIENTS = 100_000  # buckets kept at most (~10 MB); beyond that the global bucket alone still bounds the work
IPV6_PREFIX = 64


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class _TokenBucket:
    """``capacity`` tokens, refilled at ``capacity`` per ``WINDOW_S``."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a limit must allow at least one attempt per minute")
        self.capacity = float(capacity)
        self.rate = capacity / WINDOW_S

    def level(self, bucket: _Bucket, now: float) -> float:
        return min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)

    def take(self, bucket: _Bucket, now: float) -> float | None:
        """None when a token was taken, else the seconds until one is there."""
        level = self.level(bucket, now)
        bucket.stamp = now
        if level >= 1.0:
            bucket.tokens = level - 1.0
            return None
        bucket.tokens = level
        return (1.0 - level) / self.rate

    def give_back(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.capacity, self.level(bucket, now) + 1.0)
        bucket.stamp = now


def client_key(address: str) -> str:
    """What a bucket is kept under: the IPv4 address, the IPv6 /64, or the raw string when it is not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


class Throttle:
    """Failed-authentication budget per client address and for everyone (see the module docstring)."""

    def __init__(self, per_client_per_minute: int, global_per_minute: int, *,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS) -> None:
        self._client = _TokenBucket(per_client_per_minute)
        self._global = _TokenBucket(global_per_minute)
        self._clock = clock
        self._max_clients = max_clients
        self._lock = threading.Lock()
        self._everyone = _Bucket(self._global.capacity, clock())
        self._buckets: dict[str, _Bucket] = {}
        self.refused = 0  # since start: for the log and tests

    def acquire(self, address: str) -> int | None:
        """Take one attempt for ``address``: None when allowed, else the whole seconds to wait (``Retry-After``)."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                self._make_room(now)
                bucket = self._buckets[key] = _Bucket(self._client.capacity, now)
            wait = self._client.take(bucket, now)
            if wait is None:
                wait = self._global.take(self._everyone, now)
                if wait is not None:
                    self._client.give_back(bucket, now)
            if wait is None:
                return None
            self.refused += 1
            return max(1, math.ceil(wait))

    def release(self, address: str) -> None:
        """The attempt ``acquire`` allowed succeeded: it does not count against anyone."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            self._global.give_back(self._everyone, now)
            bucket = self._buckets.get(key)
            if bucket is not None:
                self._client.give_back(bucket, now)

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self._max_clients:
            return
        # A full bucket holds no information (a new one starts full): drop those first, then everything.
        for key in [k for k, b in self._buckets.items() if self._client.level(b, now) >= self._client.capacity]:
            del self._buckets[key]
        if len(self._buckets) >= self._max_clients:
            self._buckets.clear()
