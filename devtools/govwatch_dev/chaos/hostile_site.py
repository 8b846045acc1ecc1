"""A hostile news site on 127.0.0.1 for the hostile-input suite: feeds and pages that misbehave on purpose.

Written on raw sockets (not ``http.server``) so that each route controls every byte and every pause:

* ``/pages/ordinary-<n>``: an ordinary article page (HTML with Content-Length), served with the ordinary feed
  from a second port (:attr:`HostileSite.outlet`): another host to the fetcher's per-host limit.
* ``/pages/gzip-trailer``: ``Content-Encoding: gzip``, a complete small gzip stream, then an endless stream of
  bytes after its end (a decoder that keeps what follows the stream grows without bound).
* ``/pages/trickle``: a valid start of HTML, then one byte every ``TRICKLE_S`` (each read finishes well within a
  per-read timeout; only a whole-fetch deadline stops it).
* ``/pages/endless``: plain HTML with no Content-Length that never ends.
* ``/pages/redirect-loop``: 302 to itself.
* ``/pages/huge-headers``: 200 with ~1 MB of response headers.
* ``/pages/length-lie``: ``Content-Encoding: gzip`` with a Content-Length of 50 GB.
* ``/feeds/<name>.xml``: the ordinary feed (whose five items point at two ordinary and three hostile pages), a
  well-formed feed of three more hostile pages (redirect loop, huge headers, length lie), and hostile feeds (endless,
  trickle, gzip bomb, redirect loop, huge headers, entity expansion, not XML at all).

Every endless writer stops when the client closes the connection, when the site is stopped, or after
``STREAM_LIMIT_S``, whichever comes first: the suite's traffic is bounded in time and stays on loopback.
"""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import yaml

from govwatch_dev.localserver import LocalServer

TRICKLE_S = 0.5  # one byte per half second: every socket read returns long before any read timeout
STREAM_LIMIT_S = 120.0  # an endless writer gives up after this long even if the client never does
CHUNK = 64 * 1024
MAX_REQUEST_HEAD = 16 * 1024  # the site's own budget for a request's head

# The ordinary feed's five items: (slug, page route, title, summary). Two ordinary pages and three hostile ones.
ORDINARY_TEXT = {
    "ordinary-1": ("EU regulators set first AI Act fines for general-purpose model providers",
                   "The European Commission's AI Office said fines under the AI Act will apply to providers of "
                   "general-purpose AI models that miss their transparency duties."),
    "ordinary-2": ("City council votes to ban police use of facial recognition",
                   "Council members approved a ban on facial recognition by police after hearings on "
                   "biometric surveillance and privacy."),
}
HOSTILE_PAGES = {
    "gzip-trailer": ("Commission opens AI Act consultation (page with a gzip stream and an endless trailer)",
                     "The AI Act consultation on fines opens next week, the Commission said."),
    "trickle": ("Regulator publishes AI Act guidance (page that sends one byte every half second)",
                "Guidance on AI Act fines for deployers was published on Monday."),
    "endless": ("Lawmakers debate facial recognition limits (page that never ends)",
                "A facial recognition bill returns to the floor after the summer recess."),
}
# A second, well-formed feed whose items point at pages that misbehave in their headers or redirects.
MORE_HOSTILE_PAGES = {
    "redirect-loop": ("AI liability rules advance (page that redirects to itself)",
                      "The AI liability proposal moved to a committee vote."),
    "huge-headers": ("Chip export controls tightened (page with a megabyte of headers)",
                     "New export controls on advanced chips take effect."),
    "length-lie": ("Deepfake election rules adopted (page that declares 50 GB)",
                   "Election deepfake rules were adopted by the commission."),
}
HOSTILE_FEEDS = ("endless", "trickle", "gzip-bomb", "redirect-loop", "huge-headers", "entity-expansion", "not-xml")


@dataclass
class HostileSite:
    """The site's server; ``hits`` counts requests per path, ``open_streams`` the endless writers still running."""

    now: datetime
    base: str = ""  # the hostile host
    outlet: str = ""  # the ordinary outlet: its feed and its own pages, on another port (another host to a fetcher)
    hits: dict[str, int] = field(default_factory=dict)
    open_streams: int = 0
    _servers: list[LocalServer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- content -----------------------------------------------------------------------------------

    def page_url(self, slug: str) -> str:
        return f"{self.outlet if slug in ORDINARY_TEXT else self.base}/pages/{slug}"

    def ordinary_feed(self) -> bytes:
        return self._feed([(slug, *text) for slug, text in ORDINARY_TEXT.items()]
                          + [(slug, *text) for slug, text in HOSTILE_PAGES.items()])

    def more_pages_feed(self) -> bytes:
        return self._feed([(slug, *text) for slug, text in MORE_HOSTILE_PAGES.items()])

    def _feed(self, items: list[tuple[str, str, str]]) -> bytes:
        entries = "".join(
            f"<item><title>{escape(title)}</title><link>{self.page_url(slug)}</link>"
            f"<guid>{self.page_url(slug)}</guid><description>{escape(summary)}</description>"
            f"<pubDate>{format_datetime(self.now - timedelta(minutes=10 + n))}</pubDate></item>"
            for n, (slug, title, summary) in enumerate(items))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Ordinary outlet</title>'
                f"<link>{self.outlet}/</link><description>AI policy news</description>{entries}"
                "</channel></rss>").encode()

    def article(self, slug: str) -> bytes:
        return self.article_of(*ORDINARY_TEXT[slug])

    @staticmethod
    def article_of(title: str, summary: str) -> bytes:
        paragraphs = "".join(f"<p>{escape(summary)} Paragraph {i} adds context from officials, lawyers and "
                             f"companies about what the decision means for enforcement.</p>" for i in range(8))
        return (f"<!doctype html><html><head><title>{escape(title)}</title></head><body><article>"
                f"<h1>{escape(title)}</h1>{paragraphs}</article></body></html>").encode()

    def registry(self, folder: Path) -> Path:
        """A feed registry (deploy/feeds.yaml format) with the ordinary feed and every hostile feed."""
        feeds = [{"id": "hostile-ordinary", "name": "Ordinary outlet", "country": "US", "language": "en",
                  "kind": "news", "needs_relevance_filter": False, "confidence": "high",
                  "note": "hostile-input suite: five items, three of them pointing at hostile pages",
                  "url": f"{self.outlet}/feeds/ordinary.xml"}]
        feeds.append({"id": "hostile-pages", "name": "Hostile pages", "country": "US", "language": "en",
                      "kind": "news", "needs_relevance_filter": False, "confidence": "low",
                      "note": "hostile-input suite: items pointing at a redirect loop, huge headers, a length lie",
                      "url": f"{self.base}/feeds/more-pages.xml"})
        feeds += [{"id": f"hostile-feed-{name}", "name": f"Hostile feed {name}", "country": "US", "language": "en",
                   "kind": "news", "needs_relevance_filter": False, "confidence": "low",
                   "note": f"hostile-input suite: a feed that misbehaves ({name})",
                   "url": f"{self.base}/feeds/{name}.xml"} for name in HOSTILE_FEEDS]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "hostile-feeds.yaml"
        path.write_text(yaml.safe_dump({"feeds": feeds}, sort_keys=False))
        return path

    # --- serving -----------------------------------------------------------------------------------

    def start(self) -> str:
        site = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                site._serve(self.request)

        self._servers = [LocalServer(Handler, name=name) for name in ("hostile-site", "outlet")]
        self.base, self.outlet = (server.start() for server in self._servers)
        return self.base

    def stop(self) -> None:
        self._stop.set()
        for server in self._servers:
            server.stop()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < MAX_REQUEST_HEAD:
                data = sock.recv(4096)
                if not data:
                    return
                head += data
            path = head.split(b" ", 2)[1].decode("latin-1").split("?", 1)[0]
        except (OSError, IndexError):
            return
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
        route = self._routes().get(path)
        try:
            if route is None:
                self._send(sock, 404, {"Content-Type": "text/plain"}, b"not found")
            else:
                route(sock)
        except OSError:
            pass  # the client gave up (a budget cut it off): that is the point

    def _routes(self) -> dict[str, Callable[[socket.socket], None]]:
        html = {"Content-Type": "text/html; charset=utf-8"}
        xml = {"Content-Type": "application/rss+xml; charset=utf-8"}
        routes: dict[str, Callable[[socket.socket], None]] = {
            "/feeds/ordinary.xml": lambda s: self._send(s, 200, xml, self.ordinary_feed()),
            "/feeds/more-pages.xml": lambda s: self._send(s, 200, xml, self.more_pages_feed()),
            "/pages/gzip-trailer": lambda s: self._gzip_trailer(s, html, "Commission opens AI Act consultation"),
            "/pages/trickle": lambda s: self._trickle(s, html),
            "/pages/endless": lambda s: self._endless(s, html, b"<p>more text that never ends</p>\n"),
            "/pages/redirect-loop": lambda s: self._send(s, 302, {"Location": "/pages/redirect-loop"}, b""),
            "/pages/huge-headers": lambda s: self._huge_headers(s, html),
            "/pages/length-lie": lambda s: self._length_lie(s, html),
            "/feeds/endless.xml": lambda s: self._endless(s, xml, b"<item><title>again</title></item>\n"),
            "/feeds/trickle.xml": lambda s: self._trickle(s, xml),
            "/feeds/gzip-bomb.xml": lambda s: self._gzip_bomb(s, xml),
            "/feeds/redirect-loop.xml": lambda s: self._send(s, 302, {"Location": "/feeds/redirect-loop.xml"}, b""),
            "/feeds/huge-headers.xml": lambda s: self._huge_headers(s, xml),
            "/feeds/entity-expansion.xml": lambda s: self._send(s, 200, xml, _ENTITY_EXPANSION),
            "/feeds/not-xml.xml": lambda s: self._send(s, 200, xml, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64),
        }
        for slug in ORDINARY_TEXT:
            routes[f"/pages/{slug}"] = self._article_route(slug, html)
        return routes

    def _article_route(self, slug: str, headers: dict[str, str]) -> Callable[[socket.socket], None]:
        return lambda s: self._send(s, 200, headers, self.article(slug))

    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Hostile'}", "Connection: close",
                 *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, sock: socket.socket, status: int, headers: dict[str, str], body: bytes) -> None:
        sock.sendall(self._head(status, {**headers, "Content-Length": str(len(body))}) + body)

    def _stream(self, sock: socket.socket, produce: Callable[[], bytes], pause_s: float = 0.0) -> None:
        """Write ``produce()`` again and again until the client leaves, the site stops or the time limit."""
        with self._lock:
            self.open_streams += 1
        deadline = time.monotonic() + STREAM_LIMIT_S
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                sock.sendall(produce())
                if pause_s:
                    self._stop.wait(pause_s)
        finally:
            with self._lock:
                self.open_streams -= 1

    def _gzip_trailer(self, sock: socket.socket, headers: dict[str, str], title: str) -> None:
        page = self.article_of(title, HOSTILE_PAGES["gzip-trailer"][1])
        sock.sendall(self._head(200, {**headers, "Content-Encoding": "gzip"}) + gzip.compress(page))
        junk = bytes(range(256)) * (CHUNK // 256)
        self._stream(sock, lambda: junk)

    def _trickle(self, sock: socket.socket, headers: dict[str, str]) -> None:
        sock.sendall(self._head(200, headers) + b"<html><head><title>trickle</title></head><body><p>")
        self._stream(sock, lambda: b"x", pause_s=TRICKLE_S)

    def _endless(self, sock: socket.socket, headers: dict[str, str], unit: bytes) -> None:
        sock.sendall(self._head(200, headers) + b"<html><body>")
        block = unit * (CHUNK // len(unit))
        self._stream(sock, lambda: block)

    def _gzip_bomb(self, sock: socket.socket, headers: dict[str, str]) -> None:
        body = _gzip_bomb_body()
        sock.sendall(self._head(200, {**headers, "Content-Encoding": "gzip", "Content-Length": str(len(body))}) + body)

    def _huge_headers(self, sock: socket.socket, headers: dict[str, str]) -> None:
        filler = {f"X-Filler-{i}": "y" * 1000 for i in range(1000)}  # ~1 MB of headers
        self._send(sock, 200, {**headers, **filler}, b"<html><body>fine</body></html>")

    def _length_lie(self, sock: socket.socket, headers: dict[str, str]) -> None:
        sock.sendall(self._head(200, {**headers, "Content-Encoding": "gzip", "Content-Length": str(50 * 10**9)}))
        junk = gzip.compress(b"a" * CHUNK)
        self._stream(sock, lambda: junk)


_BOMB: bytes | None = None
_BOMB_LOCK = threading.Lock()
BOMB_DECODED_BYTES = 1 << 30  # 1 GiB of zeros: about 1 MB compressed


def _gzip_bomb_body() -> bytes:
    """1 GiB of zeros, gzip-compressed (made once per process, about 1 MB)."""
    global _BOMB
    with _BOMB_LOCK:
        if _BOMB is None:
            import zlib

            comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            zeros = bytes(1 << 20)
            _BOMB = b"".join(comp.compress(zeros) for _ in range(BOMB_DECODED_BYTES >> 20)) + comp.flush()
        return _BOMB


_ENTITY_EXPANSION = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
                     + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10)
                                for i in range(9))
                     + b']><rss version="2.0"><channel><title>&j;</title><item><title>&j;</title></item>'
                       b'</channel></rss>')
