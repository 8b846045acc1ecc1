"""The one door every request goes through (a plain ASGI middleware), so no route can forget a check.

1. Security headers on every response (CSP without inline script, frame denial, nosniff, no referrer leak).
2. Authentication: public are only ``/login``, ``/healthz`` and ``/static/``. ``/api/v1`` accepts only
   ``Authorization: Bearer`` (cookies are ignored there, so the API is immune to CSRF by construction); pages
   accept the signed session cookie, or the trusted proxy header when the settings name one.
3. CSRF on every unsafe method of the pages: the urlencoded body is read here (capped), its ``csrf`` field
   compared in constant time with the session's token (``/login``: with the login cookie, double-submit), and
   the parsed form handed to the route in ``scope["state"]["form"]``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import anyio

from govwatch.log import get_logger
from govwatch.web.auth import Authenticator, BadToken, Principal, SessionSigner, csrf_matches

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
SESSION_COOKIE = "gw_session"
LOGIN_CSRF_COOKIE = "gw_login_csrf"
MAX_FORM_BYTES = 64 * 1024  # a subscription form is a few hundred bytes; anything bigger is not ours
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
            except Exception:  # noqa: BLE001 - a malformed cookie header is simply no cookie
                continue
    return {k: m.value for k, m in jar.items()}


def header_of(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class Gate:
    """Security headers, authentication and CSRF for the whole app (see the module docstring)."""

    def __init__(self, app: ASGIApp, auth: Authenticator, signer: SessionSigner,
                 proxy_header: str | None = None) -> None:
        self.app = app
        self.auth = auth
        self.signer = signer
        self.proxy_header = proxy_header.lower().encode("latin-1") if proxy_header else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {name for name, _ in SECURITY_HEADERS}]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        try:
            await self._dispatch(scope, receive, send_with_headers)
        except Exception:  # noqa: BLE001 - an error page with our headers, the details only in the log
            log.exception("web_request_failed", path=scope.get("path"), method=scope.get("method"))
            if not started:
                await _text(send_with_headers, 500, "internal error (see the web app's log)")

    async def _dispatch(self, scope: Scope, receive: Receive, send_with_headers: Send) -> None:
        path, method = scope["path"], scope["method"]
        state = scope.setdefault("state", {})
        if is_public(path) and not (path == "/login" and method not in SAFE_METHODS):
            await self.app(scope, receive, send_with_headers)
            return
        if is_api(path):
            principal = await self._bearer(scope)
            if principal is None:
                await _json(send_with_headers, 401, {"detail": "authentication required: Authorization: Bearer <token>"},
                            [(b"www-authenticate", b"Bearer")])
                return
            state["principal"] = principal
            await self.app(scope, receive, send_with_headers)
            return
        # A page (or the login post).
        session = await self._session(scope) if path != "/login" else None
        if session is None and path != "/login":
            if method in SAFE_METHODS:
                await _redirect(send_with_headers, "/login")
            else:
                await _text(send_with_headers, 403, "not logged in (or the session expired): log in again")
            return
        if session is not None:
            state["principal"], state["csrf"] = session
        if method not in SAFE_METHODS:
            form, receive = await _read_form(receive)
            if form is None:
                await _text(send_with_headers, 413, "form too large or not urlencoded")
                return
            expected = state.get("csrf") if path != "/login" else cookies_of(scope).get(LOGIN_CSRF_COOKIE)
            if not csrf_matches(expected, (form.get("csrf") or [None])[0]):
                await _text(send_with_headers, 403, "the form's CSRF token is missing or wrong: reload the page")
                return
            state["form"] = form
        await self.app(scope, receive, send_with_headers)

    async def _bearer(self, scope: Scope) -> Principal | None:
        value = header_of(scope, b"authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return await anyio.to_thread.run_sync(self.auth.authenticate, token)
        except BadToken:
            return None

    async def _session(self, scope: Scope) -> tuple[Principal, str] | None:
        cookie = cookies_of(scope).get(SESSION_COOKIE)
        if cookie:
            try:
                principal, csrf = self.signer.read(cookie)
            except BadToken:
                principal = None
            if principal is not None:
                if principal.token_id is None or await anyio.to_thread.run_sync(self.auth.token_active,
                                                                                principal.token_id):
                    return principal, csrf
        if self.proxy_header is not None:
            user = (header_of(scope, self.proxy_header) or "").strip()
            if user:  # the proxy authenticated this user; their CSRF token is bound to the name
                return Principal(user, False, None), self.signer.csrf_for(user)
        return None


async def _read_form(receive: Receive) -> tuple[dict[str, list[str]] | None, Receive]:
    """The urlencoded body (capped), and a ``receive`` that replays it to the app."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_FORM_BYTES:
            return None, receive
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return None, receive
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return form, replay


async def _json(send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None,
                ) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _text(send: Send, status: int, text: str) -> None:
    data = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
