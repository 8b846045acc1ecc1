"""The one HTTP client of govwatch (feeds now, article pages later): polite, bounded and SSRF-guarded.

- conditional GET (ETag / Last-Modified); the caller compares ``FetchResult.body_hash`` for servers that
  ignore both;
- redirects followed by hand, at most ``settings.http_max_redirects`` hops, each re-checked (scheme here,
  address by ``ssrf.GuardedBackend`` when the socket opens);
- budgets, each a ``FetchBudgetExceeded`` naming the setting to change: a whole-fetch wall-clock deadline
  (all hops, connect, headers and body; enforced on every socket operation by ``fetch_deadline``, so a
  server trickling a byte every half second is cut at the deadline), a cap on raw bytes read off the wire
  (the declared Content-Length included, whatever the Content-Encoding), a cap on decoded bytes (the body
  is decompressed here with a bounded output per step, so a gzip bomb stops at ``max_bytes``), and
  httpcore's 100 KB cap on response headers;
- reading stops at the end of a compressed stream: bytes after it are not the body, and a server that
  sends them forever must not keep us reading;
- errors are translated at the edge: ``FetchRefused`` (permanent), ``RateLimited`` (429),
  ``TransientError`` (timeouts, 408, 5xx, connection errors);
- a connection that breaks before or while the answer is read (a server closing a kept-alive connection just as
  it is reused: "Server disconnected", a reset, EBADF) is retried once on a new connection within the same
  deadline; a GET is safe to repeat, and without the retry one such race left a story with only its feed text
  (and missed its alert) until a replay fetched the page. Timeouts and refused connections are not retried here.

A ``Fetcher`` holds one ``httpx.Client`` and is safe to share between threads.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

import httpx

from govwatch.adapters.fetch_deadline import Deadline, DeadlineBackend, active
from govwatch.adapters.ssrf import Allowlist, GuardedBackend, Resolver, check_scheme, system_resolver
from govwatch.errors import FetchBudgetExceeded, FetchRefused, RateLimited, TransientError
from govwatch.settings import Settings

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
# Only encodings we can decode with a bounded output; asking for br/zstd would need their own bomb guards.
ACCEPT_ENCODING = "gzip, deflate"
# Decoded bytes produced per decompress call: small enough that one compressed chunk cannot balloon.
DECODE_STEP = 64 * 1024
DEADLINE_SETTING = "GOVWATCH_HTTP_FETCH_DEADLINE_S"
MAX_BYTES_SETTING = "GOVWATCH_HTTP_MAX_BYTES"
RAW_BYTES_SETTING = "GOVWATCH_HTTP_MAX_RAW_BYTES"
# httpcore (h11) refuses response headers larger than this with "Receive buffer too long".
HEADER_CAP = "100 KB"


# Transport errors of a connection that broke under a request (not timeouts, not a refused connection).
BROKEN_CONNECTION = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class FetchResult:
    """What one GET produced. ``body`` is empty when ``not_modified``."""

    status: int
    url: str
    final_url: str
    body: bytes
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    not_modified: bool
    max_age: float | None
    retry_after: float | None
    elapsed: float

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` seconds from Cache-Control (``s-maxage`` is for shared caches; we are a private one)."""
    if not cache_control:
        return None
    if re.search(r"(?:^|,)\s*(no-store|no-cache)\b", cache_control, re.I):
        return 0.0
    match = re.search(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", cache_control, re.I)
    return float(match.group(1)) if match else None


class _BoundedDecoder:
    """Content-Encoding decoder whose total output is capped at ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int, url: str, setting: str = MAX_BYTES_SETTING) -> None:
        self.limit, self.url, self.setting = limit, url, setting
        self.size = 0
        self.parts: list[bytes] = []
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchRefused(
                f"refused {url}: unsupported Content-Encoding {encoding!r} (we ask for {ACCEPT_ENCODING})"
            )
        self.coding = codings[0] if codings else None
        self.zobj = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.coding in ("gzip", "x-gzip") else (
            zlib.decompressobj() if self.coding == "deflate" else None)
        self._deflate_probe = self.coding == "deflate"

    def _emit(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise FetchBudgetExceeded(f"refused {self.url}: decoded body exceeds {self.limit} bytes ({self.setting})",
                                      budget="decoded_bytes")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> bool:
        """Decode one raw chunk; True once the compressed stream has ended (read no further)."""
        if self.zobj is None:
            self._emit(chunk)
            return False
        if self._deflate_probe and chunk:  # "deflate" is raw deflate on some servers, zlib-wrapped on others
            self._deflate_probe = False
            if (chunk[0] & 0x0F) != 8:
                self.zobj = zlib.decompressobj(-zlib.MAX_WBITS)
        data = chunk
        try:
            while data:
                out = self.zobj.decompress(data, DECODE_STEP)
                self._emit(out)
                data = self.zobj.unconsumed_tail
                if self.zobj.eof:
                    # Whatever follows the stream's end is ignored, never accumulated: zlib would keep
                    # appending it to ``unused_data`` (a copy per chunk, quadratic in an endless trailer).
                    return True
        except zlib.error as exc:
            raise FetchRefused(f"refused {self.url}: corrupt {self.coding} body ({exc})") from exc
        return False

    def finish(self) -> bytes:
        if self.zobj is not None and not self.zobj.eof:
            try:
                self._emit(self.zobj.flush(DECODE_STEP))
            except zlib.error as exc:
                raise FetchRefused(f"refused {self.url}: corrupt {self.coding} body ({exc})") from exc
        return b"".join(self.parts)


class Fetcher:
    """GETs URLs under govwatch's rules. Construct once per process; thread-safe."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None,
                 transport: httpx.BaseTransport | None = None, resolver: Resolver = system_resolver,
                 max_connections: int | None = None) -> None:
        self.settings = settings
        self.max_redirects = settings.http_max_redirects
        self.max_bytes = settings.http_max_bytes
        self.max_raw_bytes = settings.http_max_raw_bytes
        self.deadline_s = settings.http_fetch_deadline_s
        self._own_client = client is None
        if client is None:
            if transport is None:
                transport = guarded_transport(settings, resolver, max_connections)
            timeout = httpx.Timeout(settings.http_read_timeout_s, connect=settings.http_connect_timeout_s)
            # trust_env=False: an HTTP(S)_PROXY from the environment would bypass the address check.
            client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
        self.client = client

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
              max_bytes: int | None = None, max_bytes_setting: str = MAX_BYTES_SETTING,
              deadline_s: float | None = None, deadline_setting: str = DEADLINE_SETTING) -> FetchResult:
        """GET ``url`` (conditionally when ``etag``/``last_modified`` are given), following checked redirects.

        ``max_bytes`` (default ``http_max_bytes``) caps the decoded body and ``deadline_s`` (default
        ``http_fetch_deadline_s``) the whole fetch; the ``*_setting`` names are what a refusal tells the reader
        to change (a caller with its own budget names its own setting).
        """
        limit = max_bytes or self.max_bytes
        limit_setting = max_bytes_setting if max_bytes else MAX_BYTES_SETTING
        headers = {"User-Agent": self.settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        deadline = Deadline.after(self.deadline_s if deadline_s is None else deadline_s, deadline_setting)
        current = url
        with active(deadline):
            for _hop in range(self.max_redirects + 1):
                check_scheme(current)
                if deadline.expired():
                    raise _deadline_error(url, deadline)
                status, resp_headers, body = self._get_retrying(current, headers, (limit, limit_setting), deadline)
                if status in REDIRECT_CODES:
                    location = resp_headers.get("location")
                    if not location:
                        raise FetchRefused(f"refused {current}: {status} redirect without a Location header")
                    current = urljoin(current, location)
                    continue
                return self._result(url, current, status, resp_headers, body, time.monotonic() - started)
        raise FetchRefused(f"refused {url}: more than {self.max_redirects} redirects (GOVWATCH_HTTP_MAX_REDIRECTS)")

    def _get_retrying(self, url: str, headers: dict[str, str], cap: tuple[int, str],
                      deadline: Deadline) -> tuple[int, dict[str, str], bytes]:
        """``_get_once``, repeated once on a new connection when the first one broke (see the module docstring)."""
        try:
            return self._get_once(url, headers, cap, deadline)
        except TransientError as exc:
            if not isinstance(exc.__cause__, BROKEN_CONNECTION) or deadline.expired():
                raise
            return self._get_once(url, headers, cap, deadline)

    def _get_once(self, url: str, headers: dict[str, str], cap: tuple[int, str],
                  deadline: Deadline) -> tuple[int, dict[str, str], bytes]:
        limit, limit_setting = cap
        try:
            with self.client.stream("GET", url, headers=headers, timeout=self._timeout_within(deadline)) as response:
                resp_headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code in REDIRECT_CODES or response.status_code == 304:
                    return response.status_code, resp_headers, b""
                if response.status_code >= 400:
                    self._raise_for_status(url, response.status_code, resp_headers)
                self._check_declared_length(url, resp_headers, cap)
                decoder = _BoundedDecoder(resp_headers.get("content-encoding", ""), limit, url, limit_setting)
                raw = 0
                for chunk in response.iter_raw():
                    raw += len(chunk)
                    if raw > self.max_raw_bytes:
                        raise FetchBudgetExceeded(
                            f"refused {url}: more than {self.max_raw_bytes} bytes on the wire ({RAW_BYTES_SETTING})",
                            budget="raw_bytes")
                    if decoder.feed(chunk):
                        break  # the compressed stream ended: what follows is not the body
                    if deadline.expired():  # socket reads are bounded too; this also covers other transports
                        raise _deadline_error(url, deadline)
                return response.status_code, resp_headers, decoder.finish()
        except httpx.TimeoutException as exc:
            if deadline.binding or deadline.expired():
                raise _deadline_error(url, deadline) from exc
            raise TransientError(f"timeout fetching {url}: {type(exc).__name__}") from exc
        except httpx.UnsupportedProtocol as exc:
            raise FetchRefused(f"refused {url}: {exc}") from exc
        except httpx.InvalidURL as exc:
            raise FetchRefused(f"refused {url}: invalid URL ({exc})") from exc
        except httpx.RemoteProtocolError as exc:
            if "receive buffer too long" in str(exc).lower():
                raise FetchBudgetExceeded(f"refused {url}: response headers exceed {HEADER_CAP} (fixed by httpcore)",
                                          budget="headers") from exc
            raise TransientError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from exc

    def _timeout_within(self, deadline: Deadline) -> httpx.Timeout:
        """The client's timeouts, none longer than the time left (the pool wait included)."""
        left = max(deadline.remaining(), 0.001)
        base = self.client.timeout

        def clip(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(connect=clip(base.connect), read=clip(base.read), write=clip(base.write),
                             pool=clip(base.pool))

    def _check_declared_length(self, url: str, headers: dict[str, str], cap: tuple[int, str]) -> None:
        """Refuse before reading when the server announces a body over a cap (encoded or not)."""
        declared = headers.get("content-length", "").strip()
        if not declared.isdigit():
            return
        if int(declared) > self.max_raw_bytes:
            raise FetchBudgetExceeded(
                f"refused {url}: Content-Length {declared} exceeds {self.max_raw_bytes} bytes on the wire "
                f"({RAW_BYTES_SETTING})", budget="raw_bytes")
        limit, limit_setting = cap
        if not headers.get("content-encoding") and int(declared) > limit:
            raise FetchBudgetExceeded(
                f"refused {url}: Content-Length {declared} exceeds {limit} bytes ({limit_setting})",
                budget="decoded_bytes")

    @staticmethod
    def _raise_for_status(url: str, status: int, headers: dict[str, str]) -> None:
        if status == 429:
            retry_after = parse_retry_after(headers.get("retry-after"))
            raise RateLimited(f"{url} answered 429 (retry after {retry_after}s)", retry_after=retry_after)
        if status == 408 or status >= 500:
            raise TransientError(f"{url} answered {status}")
        raise FetchRefused(f"refused {url}: HTTP {status}")

    @staticmethod
    def _result(url: str, final_url: str, status: int, headers: dict[str, str], body: bytes,
                elapsed: float) -> FetchResult:
        return FetchResult(
            status=status, url=url, final_url=final_url, body=body, headers=headers,
            etag=headers.get("etag"), last_modified=headers.get("last-modified"), not_modified=status == 304,
            max_age=parse_max_age(headers.get("cache-control")),
            retry_after=parse_retry_after(headers.get("retry-after")), elapsed=elapsed,
        )


def _deadline_error(url: str, deadline: Deadline) -> FetchBudgetExceeded:
    return FetchBudgetExceeded(f"refused {url}: not fetched within the whole-fetch deadline of {deadline.seconds:g} s "
                               f"({deadline.setting})", budget="deadline")


def guarded_transport(settings: Settings, resolver: Resolver = system_resolver,
                      max_connections: int | None = None) -> httpx.HTTPTransport:
    """An httpx transport whose sockets only open to addresses the SSRF guard approved, and whose every
    socket operation respects the running fetch's deadline."""
    limits = httpx.Limits(max_connections=max_connections or 100, max_keepalive_connections=20)
    transport = httpx.HTTPTransport(limits=limits, retries=0)
    # httpx exposes no network_backend argument; the pool's backend is where every connection is opened.
    transport._pool._network_backend = GuardedBackend(  # noqa: SLF001
        Allowlist(settings.ssrf_allowlist), resolver, inner=DeadlineBackend())
    return transport
