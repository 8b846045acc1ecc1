"""A hostile HTTP server on 127.0.0.1 (ephemeral port), written on raw sockets so it can break HTTP on purpose.

Each request's first path segment names a behaviour; the rest of the path is free (use it to make URLs, and so
story ids, distinct), and query parameters tune the behaviour::

    with HostileServer() as server:
        server.url("trickle", "story-1", interval=0.2)   # http://127.0.0.1:PORT/trickle/story-1?interval=0.2
        server.url("ordinary", "story-2")

Behaviours (``BEHAVIOURS``):

``ordinary``              200, text/html, Content-Length: ``server.pages[path]`` or ``server.ordinary_body``.
``gzip_endless_trailer``  200, ``Content-Encoding: gzip``, no length: a complete gzip of the ordinary body,
                          then garbage bytes at full speed, forever.
``gzip_endless``          200, ``Content-Encoding: gzip``, no length: one endless gzip stream of random bytes
                          (compressed size ~ decoded size: the raw-byte cap is what stops it).
``trickle``               200, text/html, no length, then one byte every ``interval`` s (default 0.5), forever.
``trickle_headers``       the status line, then the headers one byte every ``interval`` s, forever.
``endless_plain``         200, text/html, no Content-Length, plain bytes at full speed, forever.
``huge_headers``          200, then header lines at full speed, forever (no blank line ever comes).
``redirect_loop``         302 to itself (a new path each hop), after ``delay`` s (default 0): never a page.
``length_lie``            200, ``Content-Encoding: gzip``, ``Content-Length: declare`` (default 10 GB), then
                          an endless gzip stream: the declared length must be checked although encoded.

"Forever" ends when the client goes away, when the server stops, or after ``give_up_s`` (a safety net so
that a client without budgets does not keep a test process busy for good).

What the server saw is kept per behaviour: ``hits`` (requests), ``sent`` (bytes written), ``client_left``
(connections the client closed while we were still sending) and ``peak_active`` (most connections served at
once; a connection counts until the server notices its client left, up to one ``interval`` late), for
assertions such as "the client stopped reading" (``wait_client_left``). ``finishes_within(call, limit_s)`` runs a fetch
under a generous bound, so that a fetch without budgets fails the test instead of hanging it.
"""

from __future__ import annotations

import gzip
import os
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

ORDINARY_HTML = b"""<html lang="en"><head><title>EU fines chatbot maker under AI Act | Policy Desk</title></head>
<body><nav>Home | World | Tech</nav><article><h1>EU fines chatbot maker under AI Act</h1>
<p>The European Commission on Tuesday fined a chatbot maker 35 million euros for breaching the AI Act,
the first penalty imposed under the bloc's artificial intelligence law.</p>
<p>The EU AI Office said the company had deployed a prohibited emotion-recognition system in workplaces.
Commission executive vice-president Henna Virkkunen said enforcement would continue.</p>
<p>France and Germany welcomed the decision, while industry groups warned the fine could chill investment
in general-purpose AI models across Europe.</p></article><footer>Copyright Policy Desk</footer></body></html>"""

FAST_CHUNK = 64 * 1024  # bytes per write for the "full speed" behaviours
REQUEST_HEAD_CAP = 64 * 1024  # a request head larger than this is not from our fetcher
DEFAULT_GIVE_UP_S = 120.0
T = TypeVar("T")


class _Gone(Exception):
    """The client went away, the server is stopping, or it is time to give up."""


class _Conn:
    """One accepted connection: writes that notice the client leaving and the server stopping."""

    def __init__(self, server: HostileServer, sock: socket.socket, behaviour: str) -> None:
        self.server, self.sock, self.behaviour = server, sock, behaviour
        self.until = time.monotonic() + server.give_up_s

    def send(self, data: bytes) -> None:
        if self.server.stopping.is_set() or time.monotonic() > self.until:
            raise _Gone
        try:
            self.sock.sendall(data)
        except OSError as exc:  # BrokenPipe / ConnectionReset: the client closed its end
            self.server.note_left(self.behaviour)
            raise _Gone from exc
        self.server.note_sent(self.behaviour, len(data))

    def pause(self, seconds: float) -> None:
        if self.server.stopping.wait(seconds):
            raise _Gone


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _ordinary(conn: _Conn, path: str, params: dict[str, str]) -> None:
    body = conn.server.pages.get(path, conn.server.ordinary_body)
    conn.send(_head("200 OK", {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body)),
                               "Connection": "close"}) + body)


def _gzip_endless_trailer(conn: _Conn, path: str, params: dict[str, str]) -> None:
    conn.send(_head("200 OK", {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip",
                               "Connection": "close"}) + gzip.compress(conn.server.ordinary_body))
    garbage = b"\x1f\x8b garbage after the end of the gzip stream " * (FAST_CHUNK // 48)
    while True:
        conn.send(garbage)


def _endless_gzip_stream(conn: _Conn) -> None:
    encoder = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    while True:
        conn.send(encoder.compress(os.urandom(FAST_CHUNK)) + encoder.flush(zlib.Z_SYNC_FLUSH))


def _gzip_endless(conn: _Conn, path: str, params: dict[str, str]) -> None:
    conn.send(_head("200 OK", {"Content-Type": "text/html", "Content-Encoding": "gzip", "Connection": "close"}))
    _endless_gzip_stream(conn)


def _trickle(conn: _Conn, path: str, params: dict[str, str]) -> None:
    interval = float(params.get("interval", "0.5"))
    conn.send(_head("200 OK", {"Content-Type": "text/html; charset=utf-8", "Connection": "close"}))
    conn.send(b"<html><body><p>")
    while True:
        conn.pause(interval)
        conn.send(b"a")


def _trickle_headers(conn: _Conn, path: str, params: dict[str, str]) -> None:
    interval = float(params.get("interval", "0.5"))
    conn.send(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while True:
        conn.pause(interval)
        conn.send(b"a")


def _endless_plain(conn: _Conn, path: str, params: dict[str, str]) -> None:
    conn.send(_head("200 OK", {"Content-Type": "text/html; charset=utf-8", "Connection": "close"}))
    block = b"<p>" + b"endless " * (FAST_CHUNK // 8) + b"</p>"
    while True:
        conn.send(block)


def _huge_headers(conn: _Conn, path: str, params: dict[str, str]) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
    line = b"X-Filler: " + b"h" * 1000 + b"\r\n"
    block = line * (FAST_CHUNK // len(line))
    while True:
        conn.send(block)


def _redirect_loop(conn: _Conn, path: str, params: dict[str, str]) -> None:
    delay = float(params.get("delay", "0"))
    hop = int(params.get("hop", "0")) + 1
    if delay:
        conn.pause(delay)
    location = conn.server.url("redirect_loop", path.strip("/").split("/", 1)[-1], hop=hop, delay=delay)
    conn.send(_head("302 Found", {"Location": location, "Content-Length": "0", "Connection": "close"}))


def _length_lie(conn: _Conn, path: str, params: dict[str, str]) -> None:
    declared = params.get("declare", str(10 * 1024**3))
    conn.send(_head("200 OK", {"Content-Type": "text/html", "Content-Encoding": "gzip", "Content-Length": declared,
                               "Connection": "close"}))
    _endless_gzip_stream(conn)


def finishes_within(call: Callable[[], T], limit_s: float) -> T:
    """``call()`` in a daemon thread: its result (or its exception), or an AssertionError if it is still running
    after ``limit_s``. For "a budget stopped this" checks: without its budget a fetch from this server would
    run until ``give_up_s``, and a generous ``limit_s`` turns that into a failure instead of a hung test run."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the calling thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit_s)
    if thread.is_alive():
        # AssertionError rather than pytest.fail: the hostile suite in benchmarks/ reuses this module.
        raise AssertionError(f"still running after {limit_s:g} s: no budget stopped it")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


Behaviour = Callable[[_Conn, str, dict[str, str]], None]
BEHAVIOURS: dict[str, Behaviour] = {
    "ordinary": _ordinary,
    "gzip_endless_trailer": _gzip_endless_trailer,
    "gzip_endless": _gzip_endless,
    "trickle": _trickle,
    "trickle_headers": _trickle_headers,
    "endless_plain": _endless_plain,
    "huge_headers": _huge_headers,
    "redirect_loop": _redirect_loop,
    "length_lie": _length_lie,
}


class HostileServer:
    """A threaded raw-socket HTTP server on 127.0.0.1 whose paths select a hostile behaviour (see module doc)."""

    def __init__(self, *, ordinary_body: bytes = ORDINARY_HTML, give_up_s: float = DEFAULT_GIVE_UP_S) -> None:
        self.ordinary_body = ordinary_body
        self.pages: dict[str, bytes] = {}  # path -> body for ``ordinary`` (else ``ordinary_body``)
        self.give_up_s = give_up_s
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.client_left: Counter[str] = Counter()
        self.active: Counter[str] = Counter()
        self.peak_active: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._lock = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []

    # --- API ----------------------------------------------------------------------------------------------
    def url(self, behaviour: str, name: str = "page", **params: object) -> str:
        """The URL of ``behaviour`` (one of ``BEHAVIOURS``); ``name`` makes it distinct, ``params`` tune it."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; one of {sorted(BEHAVIOURS)}")
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base}/{behaviour}/{name}{query}"

    def wait_client_left(self, behaviour: str, count: int = 1, timeout_s: float = 60.0) -> bool:
        """True once clients closed ``count`` connections of ``behaviour`` while it was still sending."""
        with self._lock:
            return self._lock.wait_for(lambda: self.client_left[behaviour] >= count, timeout=timeout_s)

    def start(self) -> HostileServer:
        thread = threading.Thread(target=self._accept_loop, name=f"hostile-{self.port}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._listener.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- bookkeeping (called from connection threads) -----------------------------------------------------
    def note_sent(self, behaviour: str, size: int) -> None:
        with self._lock:
            self.sent[behaviour] += size

    def note_left(self, behaviour: str) -> None:
        with self._lock:
            self.client_left[behaviour] += 1
            self._lock.notify_all()

    # --- serving ------------------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:  # the listener was closed by stop()
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        # Every failure ends this connection quietly: a test thread that raises would turn into a
        # PytestUnhandledThreadExceptionWarning (an error under our filterwarnings).
        try:
            with sock:
                path, params = self._read_request(sock)
                behaviour = path.strip("/").split("/", 1)[0]
                handler = BEHAVIOURS.get(behaviour)
                with self._lock:
                    self.hits[behaviour] += 1
                    self.active[behaviour] += 1
                    self.peak_active[behaviour] = max(self.peak_active[behaviour], self.active[behaviour])
                try:
                    conn = _Conn(self, sock, behaviour)
                    if handler is None:
                        conn.send(_head("404 Not Found", {"Content-Length": "0", "Connection": "close"}))
                        return
                    handler(conn, path, params)
                finally:
                    with self._lock:
                        self.active[behaviour] -= 1
        except (_Gone, OSError, ValueError):
            return

    @staticmethod
    def _read_request(sock: socket.socket) -> tuple[str, dict[str, str]]:
        sock.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk or len(data) > REQUEST_HEAD_CAP:
                raise ValueError("no complete request head")
            data += chunk
        sock.settimeout(None)
        target = data.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
        parts = urlsplit(target)
        return parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
