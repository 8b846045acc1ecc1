"""The article pages of one enrich batch: fetched concurrently, a few at a time per host, within one budget.

- At most ``per_host`` pages of one host (``host:port``) are in flight at once: politeness, and a slow or
  hostile host holds only its own slots. Hosts start in turn, so every host's first page starts at once.
- Each fetch is bounded by the Fetcher's budgets (whole-fetch deadline, raw and decoded byte caps) and by what
  is left of the batch's budget: a page whose turn comes after the budget is spent is not fetched. So a
  batch waits about one budget for its pages, however many of them a slow host has.
- Pages come back as they complete, not in batch order, so extraction overlaps the downloads still running.
- A page that cannot be used is not an error of its story: it comes back without HTML, with the reason,
  and the story falls back to the feed's text (``fetch_error`` / ``extraction_status``).
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from time import thread_time
from urllib.parse import urlsplit

from govwatch.adapters.fetch import DEADLINE_SETTING, Fetcher
from govwatch.errors import GovwatchError
from govwatch.log import get_logger

log = get_logger("govwatch.enrich")
BUDGET_SETTING = "GOVWATCH_ENRICH_FETCH_BUDGET_S"
PAGE_CAP_SETTING = "GOVWATCH_ENRICH_PAGE_MAX_BYTES"
# A fetch past its deadline (a DNS lookup, which no socket timeout interrupts) gets this much longer before its
# story moves on without it; the fetch thread finishes on its own and its page is dropped.
GRACE_S = 5.0
ERROR_CHARS = 500  # fetch_error is for people and Kibana, not a traceback store


@dataclass(frozen=True)
class Page:
    """One page of the batch: its HTML, or None and why it could not be used; ``cpu_s`` is the fetch thread's CPU."""

    html: bytes | None
    error: str | None
    cpu_s: float = 0.0


def host_key(url: str) -> str:
    """``host:port`` of ``url``: the unit of the per-host limit ("" for a URL too broken to have one)."""
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or parts.scheme}"
    except ValueError:
        return ""


class BatchPageFetcher:
    """Fetches a batch's pages under the per-host limit and the batch budget (see module doc). Thread-safe."""

    def __init__(self, fetcher: Fetcher, pool: ThreadPoolExecutor, *, per_host: int, budget_s: float,
                 max_bytes: int) -> None:
        self.fetcher, self.pool = fetcher, pool
        self.per_host, self.budget_s, self.max_bytes = per_host, budget_s, max_bytes

    def fetch_all(self, urls: Sequence[str]) -> Iterator[tuple[int, Page]]:
        """``(index in urls, Page)`` for every URL, in completion order, within the budget and its grace."""
        end = time.monotonic() + self.budget_s
        done: queue.SimpleQueue[tuple[int, Page]] = queue.SimpleQueue()
        waiting: dict[str, deque[int]] = {}
        for index, url in enumerate(urls):
            waiting.setdefault(host_key(url), deque()).append(index)
        # Re-entrant: a future that is already done runs its callback at once, in the thread that holds the lock.
        lock = threading.RLock()

        def start_next(host: str) -> None:  # with ``lock`` held
            pending = waiting.get(host)
            if pending:
                index = pending.popleft()
                future = self.pool.submit(self._fetch_one, urls[index], end)
                future.add_done_callback(functools.partial(finished, index, host))

        def finished(index: int, host: str, future: Future[Page]) -> None:
            done.put((index, future.result()))  # _fetch_one never raises
            with lock:
                start_next(host)  # the host's slot is free: its next page, if any

        with lock:
            for _ in range(self.per_host):
                for host in list(waiting):
                    start_next(host)
        missing = set(range(len(urls)))
        try:
            while missing:
                try:
                    index, page = done.get(timeout=max(end + GRACE_S - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                missing.discard(index)
                yield index, page
            for index in sorted(missing):
                yield index, Page(None, f"page not fetched within the batch's page budget of {self.budget_s:g} s "
                                        f"({BUDGET_SETTING})")
        finally:
            with lock:
                waiting.clear()  # nothing more starts once the batch has moved on

    def _fetch_one(self, url: str, end: float) -> Page:
        started = thread_time()  # the fetch thread's own CPU: TLS, gzip, the SSRF check
        html, error = self._page(url, end)
        return Page(html, error[:ERROR_CHARS] if error else None, thread_time() - started)

    def _page(self, url: str, end: float) -> tuple[bytes | None, str | None]:
        left = end - time.monotonic()
        if left <= 0:
            return None, (f"page not fetched: the batch's page budget of {self.budget_s:g} s ({BUDGET_SETTING}) "
                          "was spent before its turn")
        # The batch budget is the tighter deadline near its end: the message then names that setting.
        deadline_s, setting = (left, BUDGET_SETTING) if left < self.fetcher.deadline_s else (None, DEADLINE_SETTING)
        try:
            result = self.fetcher.fetch(url, max_bytes=self.max_bytes, max_bytes_setting=PAGE_CAP_SETTING,
                                        deadline_s=deadline_s, deadline_setting=setting)
        except GovwatchError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - a bug met on one page must cost only that page
            log.warning("page_fetch_bug", url=url, error=f"{type(exc).__name__}: {exc}")
            return None, f"{type(exc).__name__}: {exc}"
        if result.status != 200 or not result.body:
            return None, f"HTTP {result.status} with {len(result.body)} bytes"
        ctype = result.headers.get("content-type", "")
        if ctype and "html" not in ctype and "xml" not in ctype:
            return None, f"not an HTML page ({ctype[:80]})"
        return result.body, None
