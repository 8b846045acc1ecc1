"""The offline news site of the demo: serves ``deploy/demo/feeds/*.xml`` and ``deploy/demo/articles/*.html``.

A threaded HTTP server on 127.0.0.1 (stdlib only). Files are read once at start; every ``{base}`` in them is
replaced with the server's own ``http://127.0.0.1:PORT``, so feed links point back at this server. Feeds carry
an ETag (hash of the served body) and a Last-Modified and answer conditional requests with 304, as real feed hosts
do, so the poller's conditional GETs are exercised. Anything else is 404.

Dates are rebased by default: every timestamp in feeds and pages (RSS ``pubDate``, Atom ``published``/``updated``,
``article:*_time`` metas, ``<time>`` elements) moves by one whole-day offset, chosen at start from a clock so that the
sample's newest day becomes yesterday. Recent-only views (the web app's events list, Kibana's default time range) then
show the sample; relative order, 72 h event windows and time of day stay as they were, and story ids (from URLs) do
not change. Last-Modified is then the newest rebased date in the file, so ETag and Last-Modified hold for the whole
run. ``rebase=False`` (``--original-dates``) serves the real dates and the files' mtimes.

    python -m govwatch_dev.demo_site --port 8765 [--original-dates]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from govwatch_dev.localserver import LocalServer

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "deploy" / "demo"
BASE_PLACEHOLDER = "{base}"
# Only plain file names are served: no path segments, so no traversal out of the two directories.
ROUTE_RE = re.compile(r"^/(feeds|articles)/([a-z0-9][a-z0-9-]*\.(xml|html))$")
ONE_DAY = timedelta(days=1)
RFC822_RE = re.compile(r"<pubDate>([^<]+)</pubDate>")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)"
ISO_RE = re.compile(rf'(<(?:published|updated)>|(?:content|datetime)=")({ISO})')
TIME_TEXT_RE = re.compile(rf'(<time datetime="({ISO})">)([^<]*)(</time>)')
TIME_TEXT_FORMAT = "%d %B %Y %H:%M UTC"  # the pages' visible byline date, e.g. "24 July 2025 08:00 UTC"
Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


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


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rfc822(stamp: str) -> datetime | None:
    try:
        return _aware(parsedate_to_datetime(stamp.strip()))
    except (TypeError, ValueError):
        return None  # not a date: served as written, never moved


def _dates(text: str) -> list[datetime]:
    """Every timestamp the rebasing moves in ``text`` (aware datetimes)."""
    found = [d for m in RFC822_RE.finditer(text) if (d := _rfc822(m.group(1))) is not None]
    return found + [_aware(datetime.fromisoformat(m.group(2))) for m in ISO_RE.finditer(text)]


def _midnight(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def rebase_offset(root: Path, now: datetime) -> timedelta:
    """The whole-day shift that puts the newest day any feed of ``root`` dates an item on on the day before
    ``now``'s (UTC); zero when no feed item has a date."""
    dates = [d for path in (root / "feeds").glob("*.xml") for d in _dates(path.read_text(encoding="utf-8"))]
    return _midnight(now) - ONE_DAY - _midnight(max(dates)) if dates else timedelta(0)


def rebase(text: str, offset: timedelta) -> str:
    """``text`` with every timestamp moved by ``offset``, each kept in its own format and time zone."""
    def rfc822(m: re.Match[str]) -> str:
        stamp = _rfc822(m.group(1))
        if stamp is None:
            return m.group(0)
        moved = stamp + offset
        return f"<pubDate>{format_datetime(moved, usegmt=moved.utcoffset() == timedelta(0))}</pubDate>"

    def visible(m: re.Match[str]) -> str:
        try:
            shown = datetime.strptime(m.group(3), TIME_TEXT_FORMAT)
        except ValueError:
            return m.group(0)  # a byline in another format is left as written
        return m.group(1) + (shown + offset).strftime(TIME_TEXT_FORMAT) + m.group(4)

    def iso(m: re.Match[str]) -> str:
        moved = (datetime.fromisoformat(m.group(2)) + offset).isoformat()
        return m.group(1) + (moved.replace("+00:00", "Z") if m.group(2).endswith("Z") else moved)

    return ISO_RE.sub(iso, TIME_TEXT_RE.sub(visible, RFC822_RE.sub(rfc822, text)))


def load_resources(root: Path, base: str, offset: timedelta | None = None) -> dict[str, Resource]:
    """Every servable file under ``root``, keyed by request path, with ``{base}`` substituted and, given an
    ``offset``, its dates rebased (Last-Modified = its newest rebased date; without one, the file's mtime)."""
    resources: dict[str, Resource] = {}
    for kind, pattern in (("feeds", "*.xml"), ("articles", "*.html")):
        for path in sorted((root / kind).glob(pattern)):
            text = path.read_text(encoding="utf-8").replace(BASE_PLACEHOLDER, base)
            modified = datetime.fromtimestamp(int(path.stat().st_mtime), tz=UTC)
            if offset is not None:
                text = rebase(text, offset)
                modified = max(_dates(text), default=modified).astimezone(UTC).replace(microsecond=0)
            body = text.encode("utf-8")
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            resources[f"/{kind}/{path.name}"] = Resource(body, _content_type(kind, body), etag, modified)
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
    """The sample site on 127.0.0.1; ``port=0`` picks a free port. ``start()`` returns the base URL. With
    ``rebase`` (the default) dates move by ``offset``, fixed at start from ``clock``; without, ``offset`` is zero."""

    def __init__(self, root: Path = DEFAULT_ROOT, port: int = 0, rebase: bool = True,
                 clock: Clock = _system_clock) -> None:
        self.root = Path(root)
        self.port = port
        self.rebase = rebase
        self.clock = clock
        self.offset = timedelta(0)
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
        self.offset = rebase_offset(self.root, self.clock()) if self.rebase else timedelta(0)
        # the feeds name the base URL: known once bound
        self.resources = load_resources(self.root, self.base_url, self.offset if self.rebase else None)
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
    parser.add_argument("--original-dates", action="store_true",
                        help="serve the sample's real dates instead of rebasing its newest day to yesterday")
    args = parser.parse_args(argv)
    site = DemoSite(args.root, port=args.port, rebase=not args.original_dates)
    base = site.start()
    dates = f"dates moved {site.offset.days} days later" if site.rebase else "original dates"
    print(f"serving {args.root} at {base}, {dates}")
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
