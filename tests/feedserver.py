"""A real HTTP server on 127.0.0.1 (ephemeral port) serving feed bodies, for integration tests and benchmarks.

Routes are mutable while it runs; it answers conditional GETs with 304 when the route has an ETag and the
client sends it back, and keeps a log of the requests it saw.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from govwatch_dev.localserver import LocalServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    honour_conditional: bool = True


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append((self.path, headers))
                    route = server.routes.get(self.path)
                if route is None:
                    self._send(404, {}, b"not found")
                    return
                if route.etag and route.honour_conditional and headers.get("if-none-match") == route.etag:
                    self._send(304, {"ETag": route.etag}, b"")
                    return
                extra = dict(route.headers)
                if route.etag:
                    extra["ETag"] = route.etag
                self._send(route.status, extra, route.body)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = LocalServer(Handler, name="feed-server")
        self.port = self._server.port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    def __enter__(self) -> FeedServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
