"""``create_app``: the web app for analysts (pages, JSON API, static files) behind one security gate."""

from __future__ import annotations

import secrets
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from govwatch.alerts.subscription_service import Clock
from govwatch.log import get_logger
from govwatch.models import utcnow
from govwatch.settings import Settings
from govwatch.web import event_pages, pages, source_pages, subscription_pages
from govwatch.web.api import build_api
from govwatch.web.auth import Authenticator, SessionSigner, TokenStore
from govwatch.web.context import WebContext, secret_text
from govwatch.web.gate import Gate
from govwatch.web.proxy import ProxyResolver
from govwatch.web.render import make_environment
from govwatch.web.startup import check_secrets
from govwatch.web.throttle import Throttle
from govwatch.wiring.web import subscription_service

log = get_logger("govwatch.web")
# How uvicorn serves the app (``govwatch web`` and the test servers alike). Its own X-Forwarded-* handling trusts
# 127.0.0.1 by default and only rewrites the scheme it sees; the gate decides instead, from
# GOVWATCH_WEB_TRUSTED_PROXIES and GOVWATCH_WEB_PUBLIC_URL (govwatch.web.proxy), so there is one rule, not two.
UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False, "server_header": False}


def session_secret(settings: Settings) -> bytes:
    """The configured signing key, or a random one for this process (sessions then end with the process)."""
    configured = secret_text(settings.web_session_secret)
    if configured:
        return configured.encode("utf-8")
    log.warning("web_session_secret_unset", detail="GOVWATCH_WEB_SESSION_SECRET is not set: sessions are signed "
                "with a key made for this process and end when it stops (and differ between replicas)")
    return secrets.token_bytes(32)


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow) -> FastAPI:
    """The ASGI app. ``clock`` decides "the last N days" of previews and counts (tests pass a fixed one)."""
    settings = settings or Settings()
    for warning in check_secrets(settings):  # raises ConfigError for a placeholder or guessable secret
        log.warning("web_secret_weak", detail=warning)
    proxies = ProxyResolver(settings.web_trusted_proxies, settings.web_public_url)
    service = subscription_service(settings, clock=clock)
    admin_hash = (secret_text(settings.web_admin_token_hash) or "").strip() or None
    auth = Authenticator(TokenStore(service.es, settings.index("web-tokens")), admin_hash)
    ctx = WebContext(settings=settings, es=service.es, service=service, auth=auth,
                     signer=SessionSigner(session_secret(settings)), clock=clock, env=make_environment())

    app = FastAPI(title="govwatch web", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    api = build_api()
    api.state.ctx = ctx
    app.mount("/api/v1", api)
    app.mount("/static", StaticFiles(directory=str(files("govwatch.web") / "static")), name="static")
    app.include_router(pages.router)
    app.include_router(subscription_pages.router)
    app.include_router(event_pages.router)
    app.include_router(source_pages.router)
    throttle = Throttle(settings.web_auth_failures_per_minute, settings.web_auth_failures_global_per_minute)
    app.add_middleware(Gate, auth=auth, signer=ctx.signer, proxy_header=settings.web_trusted_proxy_header,
                       throttle=throttle, proxies=proxies, max_body_bytes=settings.web_max_body_bytes)
    return app
