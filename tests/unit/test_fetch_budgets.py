"""Fetch budgets against real hostile servers on 127.0.0.1: each budget ends the fetch with its own error.

Every fetch runs under ``bounded``: without its budget, these servers would keep a fetch busy for minutes, and a
generous bound turns that into a failure instead of a hung test run.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from tests.support.hostile_http import ORDINARY_HTML, HostileServer, finishes_within

from govwatch.adapters.fetch import Fetcher
from govwatch.errors import FetchBudgetExceeded, FetchRefused
from govwatch.settings import Settings

T = TypeVar("T")
NOT_STUCK_S = 60.0  # far above every budget below: reaching it means "no budget stopped this"
DEADLINE_S = 2.0  # small, so that the trickle tests are quick; far above a local ordinary fetch
# Held memory of a fetch that hits a cap: the cap itself, the join of its parts and the read buffers.
MEMORY_SLACK = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(give_up_s=2 * NOT_STUCK_S) as hostile:
        yield hostile


def fetcher(**overrides: object) -> Fetcher:
    values: dict[str, object] = {"ssrf_allowlist": ["127.0.0.1/32"], "http_fetch_deadline_s": DEADLINE_S}
    values.update(overrides)
    return Fetcher(Settings(**values))


def bounded(call: Callable[[], T], limit_s: float = NOT_STUCK_S) -> T:
    return finishes_within(call, limit_s)


def refused(call: Callable[[], object]) -> FetchBudgetExceeded:
    with pytest.raises(FetchBudgetExceeded) as caught:
        bounded(call)
    return caught.value


def test_gzip_stream_end_stops_reading(server: HostileServer) -> None:
    """After the gzip stream ends the endless trailer is ignored: the page is returned and the socket closed."""
    with fetcher() as client:
        result = bounded(lambda: client.fetch(server.url("gzip_endless_trailer", "a")))
    assert result.status == 200 and result.body == ORDINARY_HTML
    assert server.wait_client_left("gzip_endless_trailer"), "the fetcher kept reading the trailer"


def test_trickled_body_is_cut_at_the_whole_fetch_deadline(server: HostileServer) -> None:
    """A byte every 0.2 s never trips the read timeout; the whole-fetch deadline ends it and names its setting."""
    with fetcher() as client:
        error = refused(lambda: client.fetch(server.url("trickle", "b", interval=0.2)))
    assert error.budget == "deadline"
    assert f"deadline of {DEADLINE_S:g} s" in str(error) and "GOVWATCH_HTTP_FETCH_DEADLINE_S" in str(error)


def test_trickled_headers_are_cut_at_the_whole_fetch_deadline(server: HostileServer) -> None:
    """The deadline holds while the headers are still arriving, not only in the body."""
    with fetcher() as client:
        error = refused(lambda: client.fetch(server.url("trickle_headers", "c", interval=0.2)))
    assert error.budget == "deadline" and "GOVWATCH_HTTP_FETCH_DEADLINE_S" in str(error)


def test_deadline_covers_all_redirect_hops(server: HostileServer) -> None:
    """Hops that each take 0.4 s are within their read timeout; together they hit the one whole-fetch deadline."""
    with fetcher(http_max_redirects=20) as client:
        error = refused(lambda: client.fetch(server.url("redirect_loop", "d", delay=0.4)))
    assert error.budget == "deadline"
    assert server.hits["redirect_loop"] <= 20


def test_redirect_loop_stops_at_the_hop_cap(server: HostileServer) -> None:
    """A fast redirect loop is refused after http_max_redirects hops."""
    with fetcher(http_max_redirects=3) as client, pytest.raises(FetchRefused, match="more than 3 redirects"):
        bounded(lambda: client.fetch(server.url("redirect_loop", "e")))


def test_endless_plain_body_stops_at_the_decoded_cap(server: HostileServer) -> None:
    """An endless body without Content-Length is refused at the decoded cap, holding about that much memory."""
    cap = 500_000
    with fetcher() as client:
        tracemalloc.start()
        try:
            error = refused(lambda: client.fetch(server.url("endless_plain", "f"), max_bytes=cap))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert error.budget == "decoded_bytes" and f"exceeds {cap} bytes" in str(error)
    assert "GOVWATCH_HTTP_MAX_BYTES" in str(error)
    assert peak < 2 * cap + MEMORY_SLACK
    assert server.wait_client_left("endless_plain")


def test_endless_gzip_stream_stops_at_the_raw_cap(server: HostileServer) -> None:
    """Bytes read off the wire are capped whatever the encoding, well before the decoded cap is reached."""
    with fetcher(http_max_raw_bytes=300_000) as client:
        error = refused(lambda: client.fetch(server.url("gzip_endless", "g")))
    assert error.budget == "raw_bytes"
    assert "more than 300000 bytes on the wire (GOVWATCH_HTTP_MAX_RAW_BYTES)" in str(error)


def test_declared_length_is_checked_when_encoded(server: HostileServer) -> None:
    """A Content-Length over the raw cap is refused before the body is read, although the body is gzip."""
    with fetcher(http_max_raw_bytes=1_000_000) as client:
        error = refused(lambda: client.fetch(server.url("length_lie", "h")))
    assert error.budget == "raw_bytes"
    assert "Content-Length 10737418240 exceeds 1000000 bytes" in str(error)
    assert "GOVWATCH_HTTP_MAX_RAW_BYTES" in str(error)


def test_endless_headers_are_refused(server: HostileServer) -> None:
    """Header lines that never end are refused as a budget (permanent), not retried as a network error."""
    with fetcher() as client:
        tracemalloc.start()
        try:
            error = refused(lambda: client.fetch(server.url("huge_headers", "i")))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert error.budget == "headers" and "response headers exceed" in str(error)
    assert peak < MEMORY_SLACK


def test_ordinary_page_within_budgets(server: HostileServer) -> None:
    """The budgets leave an ordinary page alone."""
    with fetcher(http_max_raw_bytes=100_000) as client:
        result = bounded(lambda: client.fetch(server.url("ordinary", "j")))
    assert result.status == 200 and result.body == ORDINARY_HTML
