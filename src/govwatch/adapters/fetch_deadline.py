"""A wall-clock deadline for one whole fetch, enforced on every socket operation.

httpx only knows per-operation timeouts: a server that sends one byte every half second (in its headers or
its body) never trips a 15 s read timeout and can hold a fetch for hours. Here each connect, TLS handshake,
read and write of the fetching thread is given ``min(its own timeout, time left before the deadline)``, so
the fetch ends at its deadline whatever phase it is in (redirect hops included).

The deadline of the running fetch lives in a ``ContextVar``: httpx's sync client does all its socket work in
the calling thread, so one shared connection pool serves threads that each have their own deadline.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore


@dataclass
class Deadline:
    """The instant (``time.monotonic``) a fetch must be over by, and the setting that chose it."""

    at: float
    seconds: float
    setting: str
    # True when the last socket operation was given the deadline's remainder rather than its own timeout:
    # a timeout raised by that operation is the deadline, not a slow read.
    binding: bool = False

    @classmethod
    def after(cls, seconds: float, setting: str) -> Deadline:
        return cls(time.monotonic() + seconds, seconds, setting)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def bound(self, timeout: float | None) -> float | None:
        """``timeout`` clipped to the time left; raises (as a timeout) when none is left."""
        left = self.remaining()
        if left <= 0:
            self.binding = True
            # settimeout(0) would make the socket non-blocking (an OSError, not a timeout): refuse here instead.
            raise _DeadlinePassed
        if timeout is None or left < timeout:
            self.binding = True
            return left
        self.binding = False
        return timeout


class _DeadlinePassed(Exception):
    """Internal: no time left for the next socket operation (mapped to the matching httpcore timeout)."""


_current: ContextVar[Deadline | None] = ContextVar("govwatch_fetch_deadline", default=None)


@contextmanager
def active(deadline: Deadline) -> Iterator[Deadline]:
    """Make ``deadline`` govern the socket operations of this thread until the block ends."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _current.get()
    if deadline is None:
        return timeout
    try:
        return deadline.bound(timeout)
    except _DeadlinePassed:
        raise error(f"whole-fetch deadline of {deadline.seconds:g} s passed ({deadline.setting})") from None


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation also respects the running fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return DeadlineStream(self.inner.start_tls(ssl_context, server_hostname,
                                                   _bounded(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:  # noqa: ANN401 - httpcore's own signature
        return self.inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore backend whose connections (and the streams they return) respect the running fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self.inner.connect_tcp(host, port, timeout=_bounded(timeout, httpcore.ConnectTimeout),
                                        local_address=local_address, socket_options=socket_options)
        return DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self.inner.connect_unix_socket(path, timeout=_bounded(timeout, httpcore.ConnectTimeout),
                                                socket_options=socket_options)
        return DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
