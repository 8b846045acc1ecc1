"""govwatch_dev.localserver: a handler served on 127.0.0.1 in a background thread, ready when started, gone when
stopped."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from govwatch_dev.localserver import LocalServer


class _Hello(BaseHTTPRequestHandler):
    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_serves_on_an_ephemeral_port_and_stops() -> None:
    """The URL is known before serving; the readiness probe is no request; after stop the port refuses."""
    _Hello.calls = 0
    server = LocalServer(_Hello, name="test-hello")
    assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
    with server:
        assert _Hello.calls == 0  # start() waited on a connection that carried no request
        resp = httpx.get(f"{server.url}/x", timeout=5)
        assert resp.status_code == 200 and resp.text == "hello /x"
    assert _Hello.calls == 1
    assert not server._thread.is_alive()
    with pytest.raises(ConnectionRefusedError):  # nothing listens on the port any more
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_start_returns_the_url_and_stop_without_start_returns() -> None:
    server = LocalServer(_Hello)
    try:
        assert server.start() == server.url
    finally:
        server.stop()
    LocalServer(_Hello).stop()  # never started: closes the socket, does not wait for a loop that never ran
