"""The web app served for tests: a real uvicorn server on 127.0.0.1 and a free port, ready when /healthz answers.

    with run_web_app(settings, clock=lambda: NOW) as base_url:
        httpx.get(f"{base_url}/healthz")

``make_token(settings, owner)`` stores a per-user API token (hashed) the way ``govwatch web token create`` does
and returns the token; ``admin_settings(settings)`` adds a fresh admin token's hash to the settings.
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from pydantic import SecretStr

from govwatch.settings import Settings
from govwatch_dev.chaos.webprocess import wait_healthy

READY_TIMEOUT_S = 30.0
SESSION_SECRET = secrets.token_urlsafe(48)  # random: the app refuses placeholder-looking secrets at start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_settings(settings: Settings, **extra: object) -> tuple[Settings, str]:
    """``settings`` with a new admin token's hash and a fixed session secret, and that admin token."""
    from govwatch.web.auth import hash_token

    token = secrets.token_urlsafe(24)
    update = {"web_admin_token_hash": SecretStr(hash_token(token)), "web_session_secret": SecretStr(SESSION_SECRET),
              **extra}
    return settings.model_copy(update=update), token


def make_token(settings: Settings, owner: str, admin: bool = False) -> str:
    """A per-user API token stored (hashed) in the settings' web-tokens index."""
    from govwatch.adapters.es_io import make_client
    from govwatch.web.auth import TokenStore

    return TokenStore(make_client(settings), settings.index("web-tokens")).create(owner, admin)


@contextmanager
def run_web_app(settings: Settings, clock: Callable[[], datetime] | None = None) -> Iterator[str]:
    """Serve ``create_app(settings)`` with uvicorn in a thread; yields the base URL once /healthz answers 200."""
    import uvicorn

    from govwatch.web.app import UVICORN_OPTIONS, create_app

    app = create_app(settings, clock=clock) if clock is not None else create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off", **UVICORN_OPTIONS))
    thread = threading.Thread(target=server.run, name=f"govwatch-web-{port}", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, READY_TIMEOUT_S, lambda: None if thread.is_alive() else
                     "the web app's server thread stopped before it answered /healthz")
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def admin_pages(paths: list[str], at: datetime) -> list[str]:
    """Pages of the web app built from the environment's Settings (admin session, clock ``at``), each answered
    200."""
    import re

    import httpx

    from govwatch.settings import Settings

    web_settings, admin = admin_settings(Settings())
    with run_web_app(web_settings, clock=lambda: at) as base_url, httpx.Client(base_url=base_url, timeout=60) as web:
        form = web.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        assert web.post("/login", data={"token": admin, "csrf": csrf.group(1)}).status_code == 303
        pages = [web.get(path) for path in paths]
    assert [p.status_code for p in pages] == [200] * len(paths)
    return [p.text for p in pages]
