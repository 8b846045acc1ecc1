"""The offline news site of the demo: serves ``deploy/demo/feeds/*.xml`` and ``deploy/demo/articles/*.html``.

A threaded HTTP server on 127.0.0.1 (stdlib only). Files are read once at start; every ``{base}`` in them is
replaced with the server's own ``http://127.0.0.1:PORT``, so feed links point back at this server. Feeds carry
an ETag (hash of the served body) and a Last-Modified (the file's mtime) and answer conditional requests with
304, as real feed hosts do, so the poller's conditional GETs are exercised. Anything else is 404.

    python -m govwatch_dev.demo_site --port 8765
"""

from __future__ import annotations

import argparse
import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from govwatch_dev.localserver import LocalServer

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "deploy" / "demo"
BASE_PLACEHOLDER = "{base}"
# Only plain file names are served: no path segments, so no traversal out of the two directories.
ROUTE_RE = re.compile(r"^/(feeds|articles)/([a-z0-9][a-z0-9-]*\.(xml|html))$")


@dataclass(frozen=True)
class Resource:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime


def _content_type(kind: str, body: bytes) -> str:
    if kind == "articles":
        return "text/html; charset=utf-8"
    return "application/atom+xml" if b"<feed" in body[:500] else "application/rss+xml"


def load_resources(root: Path, base: str) -> dict[str, Resource]:
    """Every servable file under ``root``, keyed by request path, with ``{base}`` substituted."""
    resources: dict[str, Resource] = {}
    for kind, pattern in (("feeds", "*.xml"), ("articles", "*.html")):
        for path in sorted((root / kind).glob(pattern)):
            body = path.read_bytes().replace(BASE_PLACEHOLDER.encode(), base.encode())
            mtime = datetime.fromtimestamp(int(path.stat().st_mtime), tz=UTC)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            resources[f"/{kind}/{path.name}"] = Resource(body, _content_type(kind, body), etag, mtime)
    return resources


def not_modified(resource: Resource, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110: If-None-Match decides when present; otherwise If-Modified-Since against Last-Modified."""
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or resource.etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return resource.last_modified <= since
    return False


class DemoSite:
    """The sample site on 127.0.0.1; ``port=0`` picks a free port. ``start()`` returns the base URL."""

    def __init__(self, root: Path = DEFAULT_ROOT, port: int = 0) -> None:
        self.root = Path(root)
        self.port = port
        self.base_url = ""
        self.resources: dict[str, Resource] = {}
        self._server: LocalServer | None = None

    def start(self) -> str:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer(send_body=True)

            def do_HEAD(self) -> None:
                self._answer(send_body=False)

            def _answer(self, send_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                resource = site.resources.get(path) if ROUTE_RE.match(path) else None
                if resource is None:
                    self._send(404, {"Content-Type": "text/plain; charset=utf-8"}, b"not found\n", send_body)
                    return
                headers = {"ETag": resource.etag, "Last-Modified": format_datetime(resource.last_modified, usegmt=True),
                           "Cache-Control": "no-cache"}
                if not_modified(resource, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")):
                    self._send(304, headers, b"", send_body=False)
                    return
                self._send(200, {**headers, "Content-Type": resource.content_type}, resource.body, send_body)

            def _send(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body and status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass  # the demo prints its own progress; per-request lines would drown it

        self._server = LocalServer(Handler, self.port, name="demo-site")
        self.port = self._server.port
        self.base_url = self._server.url
        self.resources = load_resources(self.root, self.base_url)  # the feeds name the base URL: known once bound
        return self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def registry_path(self, tmp_dir: Path) -> Path:
        """Write the sample's feed registry with ``{base}`` filled in; returns its path (for GOVWATCH_FEEDS_FILE)."""
        if not self.base_url:
            raise RuntimeError("start() the demo site before writing its registry")
        text = (self.root / "registry.yaml").read_text(encoding="utf-8").replace(BASE_PLACEHOLDER, self.base_url)
        out = Path(tmp_dir) / "demo-feeds.yaml"
        out.write_text(text, encoding="utf-8")
        return out

    def __enter__(self) -> DemoSite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the govwatch offline news sample on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765, help="0 = any free port")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the sample directory (deploy/demo)")
    args = parser.parse_args(argv)
    site = DemoSite(args.root, port=args.port)
    base = site.start()
    print(f"serving {args.root} at {base}")
    for path in sorted(p for p in site.resources if p.startswith("/feeds/")):
        print(f"  {base}{path}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
