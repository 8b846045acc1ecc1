"""A local HTTP server in a background thread: the one way the dev tools, tests and benchmarks serve HTTP.

The caller brings the request handler (what is served: an ``http.server`` handler, or a raw socket handler that
speaks HTTP itself, as the hostile site does); this module decides how it runs: a ``ThreadingHTTPServer``
bound on construction (so its port and URL are known before it serves), one daemon thread per request, the serving
loop in a daemon thread that :meth:`LocalServer.start` waits on until it has answered a connection, and a stop
that shuts the loop down, closes the socket and joins the thread.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer

READY_TIMEOUT_S = 10.0


class LocalServer:
    """``handler`` served on ``host:port`` (``port=0``: a free one); a context manager, or :meth:`start` / :meth:`stop`.
    """

    def __init__(self, handler: type[socketserver.BaseRequestHandler], port: int = 0, *, host: str = "127.0.0.1",
                 name: str = "local-http", poll_interval: float = 0.5) -> None:
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port: int = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": poll_interval},
                                        name=name, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, ``http://host:port`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Serve in the background; returns the base URL once the server has answered a connection."""
        self._thread.start()
        self._wait_ready()
        return self.url

    def stop(self) -> None:
        """Stop serving, close the socket and join the serving thread (in-flight request threads are daemons)."""
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        """Open a connection and send nothing: the server closes it (an empty request, no handler method runs)
        only once its loop is accepting, so the end of the stream is the answer."""
        address = ("127.0.0.1" if self.host in ("", "0.0.0.0") else self.host, self.port)
        with socket.create_connection(address, timeout=READY_TIMEOUT_S) as probe:
            probe.shutdown(socket.SHUT_WR)
            try:
                probe.recv(1)
            except TimeoutError:
                raise TimeoutError(f"local HTTP server {self.url} did not answer in {READY_TIMEOUT_S} s") from None


def serve_until_interrupted(stop: Callable[[], None]) -> None:
    """Block a command-line receiver until Ctrl-C, then stop it."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
