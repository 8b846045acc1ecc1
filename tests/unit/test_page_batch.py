"""Batch page fetching against real servers on 127.0.0.1: slow hosts cost only their own pages, within budgets."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.support.hostile_http import ORDINARY_HTML, HostileServer, finishes_within

from govwatch.adapters.fetch import Fetcher, FetchResult
from govwatch.settings import Settings
from govwatch.stages.pagefetch import BatchPageFetcher, Page, host_key

DEADLINE_S = 2.0
NOT_STUCK_S = 60.0  # far above every budget below, below the hostile servers' two minutes


class CountingFetcher(Fetcher):
    """A real Fetcher that also records the most fetches it ever had in flight per host."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()

    def fetch(self, url: str, **kwargs: object) -> FetchResult:  # type: ignore[override]
        host = host_key(url)
        with self._lock:
            self.in_flight[host] += 1
            self.peak[host] = max(self.peak[host], self.in_flight[host])
        try:
            return super().fetch(url, **kwargs)  # type: ignore[arg-type]
        finally:
            with self._lock:
                self.in_flight[host] -= 1


@pytest.fixture
def servers() -> Iterator[tuple[HostileServer, HostileServer]]:
    """A hostile host and an ordinary one (another port: another host for the per-host limit)."""
    with HostileServer(give_up_s=120) as hostile, HostileServer(give_up_s=120) as ordinary:
        yield hostile, ordinary


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=8)
    yield executor
    executor.shutdown(wait=False, cancel_futures=True)


def make_fetcher(**overrides: object) -> CountingFetcher:
    values: dict[str, object] = {"ssrf_allowlist": ["127.0.0.1/32"], "http_fetch_deadline_s": DEADLINE_S}
    values.update(overrides)
    return CountingFetcher(Settings(**values))


def test_hostile_pages_fall_back_and_ordinary_ones_do_not_wait(servers, pool) -> None:  # noqa: ANN001
    """Three hostile pages and two ordinary ones: the ordinary come first, with HTML; the hostile ones end
    within their budgets with a reason, none waits for the hostile servers to give up."""
    hostile, ordinary = servers
    urls = [hostile.url("gzip_endless_trailer", "1"), hostile.url("trickle", "2", interval=0.2),
            ordinary.url("ordinary", "3"), hostile.url("endless_plain", "4"), ordinary.url("ordinary", "5")]
    with make_fetcher() as fetcher:
        batch = BatchPageFetcher(fetcher, pool, per_host=3, budget_s=30.0, max_bytes=500_000)
        got: list[tuple[int, Page]] = finishes_within(lambda: list(batch.fetch_all(urls)), NOT_STUCK_S)
    order = [index for index, _ in got]
    pages = dict(got)
    assert sorted(order) == [0, 1, 2, 3, 4]
    assert pages[2] == Page(ORDINARY_HTML, None, pages[2].cpu_s) and pages[4].html == ORDINARY_HTML
    assert order.index(2) < order.index(1) and order.index(4) < order.index(1), "ordinary pages waited"
    assert pages[0].html == ORDINARY_HTML  # the page before the endless trailer is the page
    assert pages[1].html is None and "GOVWATCH_HTTP_FETCH_DEADLINE_S" in (pages[1].error or "")
    assert pages[3].html is None and "FetchBudgetExceeded" in (pages[3].error or "")
    assert "exceeds 500000 bytes (GOVWATCH_ENRICH_PAGE_MAX_BYTES)" in (pages[3].error or "")


def test_per_host_limit(servers, pool) -> None:  # noqa: ANN001
    """Six slow pages of one host are fetched at most two at once, while another host's page is not held up."""
    hostile, ordinary = servers
    urls = [hostile.url("trickle", str(n), interval=0.2) for n in range(6)] + [ordinary.url("ordinary", "x")]
    with make_fetcher(http_fetch_deadline_s=1.0) as fetcher:
        batch = BatchPageFetcher(fetcher, pool, per_host=2, budget_s=60.0, max_bytes=500_000)
        got = finishes_within(lambda: list(batch.fetch_all(urls)), NOT_STUCK_S)
    pages = dict(got)
    assert fetcher.peak[host_key(urls[0])] == 2
    assert hostile.hits["trickle"] == 6 and all(pages[n].html is None for n in range(6))
    assert pages[6].html == ORDINARY_HTML
    assert [index for index, _ in got].index(6) < 2, "the other host's page waited for the slow host"


def test_batch_budget_bounds_a_slow_host_with_many_pages(servers, pool) -> None:  # noqa: ANN001
    """However many slow pages one host has, the batch ends after about one budget: the pages whose turn
    comes late are cut by (or not started within) the batch budget, and say so."""
    hostile, _ = servers
    urls = [hostile.url("trickle", str(n), interval=0.2) for n in range(12)]
    with make_fetcher(http_fetch_deadline_s=1.0) as fetcher:
        batch = BatchPageFetcher(fetcher, pool, per_host=2, budget_s=1.5, max_bytes=500_000)
        got = finishes_within(lambda: list(batch.fetch_all(urls)), NOT_STUCK_S)
    errors = [page.error or "" for _, page in got]
    assert len(got) == 12 and all(page.html is None for _, page in got)
    assert any("GOVWATCH_ENRICH_FETCH_BUDGET_S" in error for error in errors)
    assert hostile.hits["trickle"] < 12  # pages after the budget were never requested
