"""Helpers shared by the benchmarks: benchmark pages, a local page server, percentiles, process memory."""

from __future__ import annotations

import gzip
import os
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from govwatch_dev.chaos.procfs import cpu_seconds, vm_hwm_mb  # noqa: F401 - re-exported for the benchmarks
from govwatch_dev.localserver import LocalServer

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Page:
    """One benchmark page: its id, the gzip bytes as stored and the decoded HTML."""

    key: str
    gz: bytes
    html: str


def load_pages(directory: Path) -> list[Page]:
    """Every ``*.html.gz`` under ``directory``, sorted by name (the Zyte set is UTF-8, as its README says)."""
    pages = []
    for path in sorted(directory.glob("*.html.gz")):
        data = path.read_bytes()
        pages.append(Page(path.name.removesuffix(".html.gz"), data, gzip.decompress(data).decode("utf-8", "replace")))
    if not pages:
        raise SystemExit(f"no *.html.gz pages in {directory}")
    return pages


def _handler(pages: dict[str, Page]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real site would allow the fetcher's pooled client

        def do_GET(self) -> None:
            # /p/<n>/<key>.html: <n> makes each story's URL (and so its story id) unique.
            page = pages.get(self.path.rsplit("/", 1)[-1].removesuffix(".html"))
            if page is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            gzip_ok = "gzip" in self.headers.get("Accept-Encoding", "")
            body = page.gz if gzip_ok else page.html.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if gzip_ok:  # news sites compress, and the stored pages already are
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_pages(pages: Sequence[Page]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) serving ``pages``; yields its base URL."""
    with LocalServer(_handler({p.key: p for p in pages}), name="page-server") as server:
        yield server.url


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100, inclusive method); NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat; diff two readings for utilisation."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def load_average() -> str:
    """The 1/5/15-minute load average, to judge how noisy a run's machine was."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"
