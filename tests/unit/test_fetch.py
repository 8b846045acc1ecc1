"""Fetcher behaviour against httpx.MockTransport: conditional GET, 429, size caps, redirects, error classes.

Budgets against real hostile servers: tests/unit/test_fetch_budgets.py."""

from __future__ import annotations

import gzip
import zlib

import httpx
import pytest

from govwatch.adapters.fetch import Fetcher, parse_max_age, parse_retry_after
from govwatch.errors import FetchRefused, RateLimited, TransientError
from govwatch.settings import Settings


def make(handler, **settings: object) -> Fetcher:  # noqa: ANN001
    return Fetcher(Settings(**settings), transport=httpx.MockTransport(handler))


def streamed(status: int, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    """A response whose body is still a stream, as from the network (``content=`` would pre-read and decode it)."""

    class Body(httpx.SyncByteStream):
        def __iter__(self):  # noqa: ANN204
            for start in range(0, len(body), 16384):
                yield body[start:start + 16384]

    return httpx.Response(status, headers=headers, stream=Body())


def test_conditional_get_sends_validators_and_reports_304() -> None:
    """ETag and Last-Modified go out as If-None-Match / If-Modified-Since; a 304 is not_modified with no body."""
    seen: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        return httpx.Response(304, headers={"ETag": '"v1"'})

    result = make(handler).fetch("https://feeds.example/rss", etag='"v1"',
                                 last_modified="Wed, 01 Jan 2025 00:00:00 GMT")
    assert seen["if-none-match"] == '"v1"' and seen["if-modified-since"].startswith("Wed")
    assert seen["user-agent"].startswith("govwatch/")
    assert result.not_modified and result.body == b"" and result.etag == '"v1"'


def test_ok_response_carries_validators_and_max_age() -> None:
    """A 200 returns the body, its validators and Cache-Control max-age."""
    def handler(request: httpx.Request) -> httpx.Response:
        return streamed(200, b"<rss/>", {"ETag": '"a"', "Last-Modified": "x",
                                                                "Cache-Control": "public, max-age=600"})

    result = make(handler).fetch("https://feeds.example/rss")
    assert (result.body, result.etag, result.last_modified, result.max_age) == (b"<rss/>", '"a"', "x", 600.0)


def test_429_raises_rate_limited_with_retry_after() -> None:
    """A 429 is RateLimited carrying the Retry-After seconds."""
    with pytest.raises(RateLimited) as caught:
        make(lambda r: httpx.Response(429, headers={"Retry-After": "120"})).fetch("https://feeds.example/rss")
    assert caught.value.retry_after == 120.0


@pytest.mark.parametrize(("status", "error"), [(500, TransientError), (503, TransientError), (408, TransientError),
                                               (404, FetchRefused), (403, FetchRefused), (410, FetchRefused)])
def test_status_classes(status: int, error: type) -> None:
    """5xx and 408 are transient; other 4xx are permanent refusals."""
    with pytest.raises(error):
        make(lambda r: httpx.Response(status)).fetch("https://feeds.example/rss")


def test_timeout_is_transient() -> None:
    """A read timeout becomes TransientError."""
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TransientError, match="timeout"):
        make(handler).fetch("https://feeds.example/rss")


def test_gzip_bomb_stops_at_the_decoded_cap() -> None:
    """A small gzip body that inflates past http_max_bytes is refused without inflating it all."""
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)  # ~50 KB on the wire, 50 MB decoded
    assert len(bomb) < 100_000

    def handler(request: httpx.Request) -> httpx.Response:
        return streamed(200, bomb, {"Content-Encoding": "gzip"})

    with pytest.raises(FetchRefused, match="exceeds 1000000 bytes"):
        make(handler, http_max_bytes=1_000_000).fetch("https://feeds.example/rss")


def test_gzip_and_deflate_bodies_are_decoded() -> None:
    """Normal gzip, zlib-deflate and raw-deflate bodies decode to the original bytes."""
    body = b"<rss>" + b"x" * 5000 + b"</rss>"
    raw = zlib.compressobj(wbits=-15)
    encodings = {"gzip": gzip.compress(body), "deflate": zlib.compress(body)}
    for encoding, payload in encodings.items():
        result = make(lambda r, p=payload, e=encoding: streamed(200, p, {"Content-Encoding": e})
                      ).fetch("https://feeds.example/rss")
        assert result.body == body
    raw_payload = raw.compress(body) + raw.flush()
    result = make(lambda r: streamed(200, raw_payload, {"Content-Encoding": "deflate"})
                  ).fetch("https://feeds.example/rss")
    assert result.body == body


def test_reading_stops_at_the_end_of_the_gzip_stream() -> None:
    """Bytes after the end of a gzip stream are not the body: reading stops there instead of collecting them."""
    body = b"<html>" + b"x" * 5000 + b"</html>"
    pulled = 0

    class Trailer(httpx.SyncByteStream):
        def __iter__(self):  # noqa: ANN204
            nonlocal pulled
            pulled += 1
            yield gzip.compress(body)
            for _ in range(200):  # "endless" garbage after the stream, 3.2 MB of it
                pulled += 1
                yield b"\0" * 16384

    result = make(lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=Trailer())
                  ).fetch("https://news.example/page")
    assert result.body == body
    assert pulled == 1, f"{pulled - 1} chunks read after the end of the gzip stream"


def test_plain_body_over_cap_is_refused() -> None:
    """An uncompressed body over max_bytes is refused."""
    with pytest.raises(FetchRefused, match="exceeds"):
        make(lambda r: streamed(200, b"a" * 2000)).fetch("https://feeds.example/rss", max_bytes=1000)


def test_redirects_are_followed_up_to_the_cap() -> None:
    """Redirect chains within http_max_redirects are followed; one hop more is refused."""
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.strip("/") or 0)
        if n < 3:
            return httpx.Response(302, headers={"Location": f"/{n + 1}"})
        return streamed(200, b"done")

    result = make(handler, http_max_redirects=3).fetch("https://feeds.example/0")
    assert result.final_url == "https://feeds.example/3" and result.body == b"done"
    with pytest.raises(FetchRefused, match="more than 2 redirects"):
        make(handler, http_max_redirects=2).fetch("https://feeds.example/0")


def test_redirect_to_another_scheme_is_refused() -> None:
    """Every hop is re-checked: a redirect to file:// is refused."""
    with pytest.raises(FetchRefused, match="scheme"):
        make(lambda r: httpx.Response(301, headers={"Location": "file:///etc/passwd"})).fetch("https://feeds.example/")


def test_header_parsers() -> None:
    """Retry-After accepts seconds and HTTP dates; Cache-Control no-cache means max-age 0."""
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_max_age("no-cache") == 0.0
    assert parse_max_age("max-age=60, must-revalidate") == 60.0
    assert parse_max_age(None) is None


@pytest.mark.parametrize("broken", [httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError])
def test_a_connection_broken_under_the_request_is_retried_once(broken: type[httpx.TransportError]) -> None:
    """A kept-alive connection the server closed just as it was reused breaks the first try; the GET is repeated
    once and the page arrives (without that, the story kept only its feed text)."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if len(calls) == 1:
            raise broken("Server disconnected without sending a response.", request=request)
        return streamed(200, b"<html>page</html>", {"content-type": "text/html"})

    result = make(handler).fetch("https://news.example/a")
    assert result.body == b"<html>page</html>" and len(calls) == 2


def test_a_connection_that_keeps_breaking_is_transient_after_two_tries() -> None:
    """Only one repeat: a host that breaks every connection is a TransientError, as before."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadError("[Errno 9] Bad file descriptor", request=request)

    with pytest.raises(TransientError, match="ReadError"):
        make(handler).fetch("https://news.example/a")
    assert len(calls) == 2


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.ConnectError])
def test_timeouts_and_refused_connections_are_not_repeated(error: type[httpx.TransportError]) -> None:
    """A timeout or a refused connection is not a broken kept-alive connection: no repeat inside one fetch."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise error("no", request=request)

    with pytest.raises(TransientError):
        make(handler).fetch("https://news.example/a")
    assert len(calls) == 1
