"""The one door every request goes through (a plain ASGI middleware), so no route can forget a check.

1. Security headers on every response (CSP without inline script, frame denial, nosniff, no referrer leak).
2. Authentication: public are only ``/login``, ``/healthz`` and ``/static/``. ``/api/v1`` accepts only
   ``Authorization: Bearer`` (cookies are ignored there, so the API is immune to CSRF by construction); pages
   accept the signed session cookie, or the trusted proxy header when the settings name one.
3. CSRF on every unsafe method of the pages: the urlencoded body is read here (capped), its ``csrf`` field
   compared in constant time with the session's token (``/login``: with the login cookie, double-submit), and
   the parsed form handed to the route in ``scope["state"]["form"]``.
4. Against hostile clients: the client address and scheme come from trusted proxies only (govwatch.web.proxy);
   login posts and unverified bearer tokens are rate-limited per address and globally before any hashing
   (govwatch.web.throttle: 429 with ``Retry-After``); request bodies are capped (413 as soon as Content-Length or
   the bytes read pass the cap); a body that is not UTF-8 is a 400; over https every response carries HSTS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import anyio

from govwatch.log import get_logger
from govwatch.web.auth import Authenticator, BadToken, Principal, SessionSigner, csrf_matches
from govwatch.web.proxy import ProxyResolver
from govwatch.web.throttle import Throttle

log = get_logger("govwatch.web")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")  # a year, as browsers' preload lists expect
SESSION_COOKIE = "gw_session"
LOGIN_CSRF_COOKIE = "gw_login_csrf"
MAX_BODY_BYTES = 64 * 1024  # default cap: a subscription form is a few hundred bytes, its JSON a few KB
THROTTLE_LOG_EVERY_S = 10.0  # one summary line per window, not one per refused request (a flood would flood the log)
MAX_FORM_FIELDS = 200  # the subscription form has ~20
PUBLIC_PATHS = ("/login", "/healthz")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith("/static/")


def is_api(path: str) -> bool:
    return path == "/api/v1" or path.startswith("/api/v1/")


def cookies_of(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001, S112 - a malformed cookie header is simply no cookie
                continue
    return {k: m.value for k, m in jar.items()}


def header_of(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


class BadBody(Exception):
    """A request body we will not read: too large (413) or not what the route takes (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Gate:
    """Security headers, authentication, CSRF and limits for the whole app (see the module docstring)."""

    def __init__(self, app: ASGIApp, auth: Authenticator, signer: SessionSigner,
                 proxy_header: str | None = None, *, throttle: Throttle | None = None,
                 proxies: ProxyResolver | None = None, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.auth = auth
        self.signer = signer
        self.proxy_header = proxy_header.lower().encode("latin-1") if proxy_header else None
        self.throttle = throttle or Throttle(10, 120)
        self.proxies = proxies or ProxyResolver([])
        self.max_body_bytes = max_body_bytes
        self._logged_refused = 0
        self._logged_at = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        client, scheme = self.proxies.resolve(peer[0] if peer else None, header_of(scope, b"x-forwarded-for"),
                                              header_of(scope, b"x-forwarded-proto"), scope.get("scheme", "http"))
        scope["client"] = (client, peer[1] if peer else 0) if client else peer
        scope.setdefault("state", {})["peer"] = peer[0] if peer else None
        scope["scheme"] = scheme
        extra = [*SECURITY_HEADERS, HSTS] if scheme == "https" else SECURITY_HEADERS
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {name for name, _ in extra}]
                message["headers"] = headers + extra
            await send(message)

        try:
            await self._dispatch(scope, receive, send_with_headers)
        except BadBody as exc:
            if not started:
                await self._refuse(scope, send_with_headers, exc.status, str(exc))
        except Exception:
            log.exception("web_request_failed", path=scope.get("path"), method=scope.get("method"))
            if not started:
                await _text(send_with_headers, 500, "internal error (see the web app's log)")

    async def _dispatch(self, scope: Scope, receive: Receive, send_with_headers: Send) -> None:
        path, method = scope["path"], scope["method"]
        state = scope.setdefault("state", {})
        login_post = path == "/login" and method not in SAFE_METHODS
        if is_public(path) and not login_post:
            await self.app(scope, receive, send_with_headers)
            return
        if is_api(path):
            principal = await self._bearer(scope, send_with_headers)
            if principal is False:
                return  # refused by the rate limit: answered
            if principal is None:
                refusal = {"detail": "authentication required: Authorization: Bearer <token>"}
                await _json(send_with_headers, 401, refusal, [(b"www-authenticate", b"Bearer")])
                return
            state["principal"] = principal
            if method not in SAFE_METHODS:
                receive = _replay(await self._read_body(scope, receive), receive)
            await self.app(scope, receive, send_with_headers)
            return
        if login_post:
            await self._login(scope, receive, send_with_headers)
            return
        # A page.
        session = await self._session(scope)
        if session is None:
            if method in SAFE_METHODS:
                await _redirect(send_with_headers, "/login")
            else:
                await _text(send_with_headers, 403, "not logged in (or the session expired): log in again")
            return
        state["principal"], state["csrf"] = session
        await self._with_csrf(scope, receive, send_with_headers, state["csrf"])

    async def _with_csrf(self, scope: Scope, receive: Receive, send: Send, expected: str | None) -> None:
        """Run the app; for an unsafe method only after the form's CSRF token matched ``expected``."""
        if scope["method"] not in SAFE_METHODS:
            form, receive = await self._read_form(scope, receive)
            if not csrf_matches(expected, next(iter(form.get("csrf") or []), None)):
                await _text(send, 403, "the form's CSRF token is missing or wrong: reload the page")
                return
            scope["state"]["form"] = form
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The login post: one attempt from the client's budget, given back when it signs in (a 303) or when the
        failure was ours (a 5xx)."""
        client = _client(scope)
        wait = self.throttle.acquire(client)
        if wait is not None:
            await self._too_many(scope, send, wait)
            return
        give_back = False

        async def watch(message: Message) -> None:
            nonlocal give_back
            if message["type"] == "http.response.start" and (message["status"] == 303 or message["status"] >= 500):
                give_back = True
            await send(message)

        try:
            await self._with_csrf(scope, receive, watch, cookies_of(scope).get(LOGIN_CSRF_COOKIE))
        finally:
            if give_back:
                self.throttle.release(client)

    async def _bearer(self, scope: Scope, send: Send) -> Principal | bool | None:
        """The caller's principal, None without a valid token, False when the rate limit answered (429)."""
        value = header_of(scope, b"authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        if self.auth.has_verified(token):
            try:
                return await anyio.to_thread.run_sync(self.auth.authenticate, token)
            except BadToken:
                return None
        client = _client(scope)
        wait = self.throttle.acquire(client)
        if wait is not None:
            await self._too_many(scope, send, wait)
            return False
        try:
            principal = await anyio.to_thread.run_sync(self.auth.authenticate, token)
        except BadToken:
            return None
        except Exception:
            self.throttle.release(client)  # our failure (Elasticsearch away), not a wrong guess
            raise
        self.throttle.release(client)
        return principal

    async def _session(self, scope: Scope) -> tuple[Principal, str] | None:
        cookie = cookies_of(scope).get(SESSION_COOKIE)
        if cookie:
            try:
                principal, csrf = self.signer.read(cookie)
            except BadToken:
                principal = None
            if principal is not None and (
                principal.token_id is None or await anyio.to_thread.run_sync(self.auth.token_active, principal.token_id)
            ):
                return principal, csrf
        if self.proxy_header is not None and (not self.proxies.trusted or self.proxies.trusts(scope["state"]["peer"])):
            # With GOVWATCH_WEB_TRUSTED_PROXIES set, only those peers may name the user (anyone else reaching the
            # app directly could claim any name); without it, the operator's network must keep clients away.
            user = (header_of(scope, self.proxy_header) or "").strip()
            if user:  # the proxy authenticated this user; their CSRF token is bound to the name
                return Principal(user, False, None), self.signer.csrf_for(user)
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, or BadBody(413) as soon as the declared or received size passes the cap."""
        declared = header_of(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_body_bytes:
            raise BadBody(413, self._too_large())
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                raise BadBody(413, self._too_large())
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _read_form(self, scope: Scope, receive: Receive) -> tuple[dict[str, list[str]], Receive]:
        """The urlencoded body (capped) as a form, and a ``receive`` that replays it to the app."""
        body = await self._read_body(scope, receive)
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except UnicodeDecodeError as exc:
            raise BadBody(400, "the form is not UTF-8 text: send it urlencoded from the page's form") from exc
        except ValueError as exc:
            raise BadBody(400, f"the form has more than {MAX_FORM_FIELDS} fields") from exc
        return form, _replay(body, receive)

    def _too_large(self) -> str:
        return (f"the request body is larger than {self.max_body_bytes} bytes, the most this app reads "
                "(GOVWATCH_WEB_MAX_BODY_BYTES)")

    async def _refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        if is_api(scope["path"]):
            await _json(send, status, {"detail": message})
        else:
            await _text(send, status, message)

    async def _too_many(self, scope: Scope, send: Send, wait: int) -> None:
        """429 with Retry-After, cheap (no hashing, no Elasticsearch); a summary log line per window."""
        now = time.monotonic()
        if now - self._logged_at >= THROTTLE_LOG_EVERY_S:
            log.warning("web_auth_throttled", refused=self.throttle.refused - self._logged_refused,
                        client=_client(scope), path=scope["path"], retry_after_s=wait)
            self._logged_at, self._logged_refused = now, self.throttle.refused
        message = f"too many failed sign-in attempts: try again in {wait} s"
        headers = [(b"retry-after", str(wait).encode())]
        if is_api(scope["path"]):
            await _json(send, 429, {"detail": message}, headers)
        else:
            await _text(send, 429, message, headers)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits on the connection as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _json(send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None,
                ) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _text(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(data)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": data})


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
