"""The demo's last step: the web app for analysts on 127.0.0.1, with demo credentials printed once.

When GOVWATCH_WEB_ADMIN_TOKEN_HASH is set, that admin token logs in and nothing is printed but the URL. Otherwise a
random admin token is made for this run only: printed once, kept in memory as its salted hash (the app's setting),
never written anywhere — the next run makes a new one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from govwatch.settings import Settings

DEMO_WEB_PORT = 8088
TOKEN_BYTES = 24  # 192 bits: unguessable, short enough to paste

Say = Callable[[str], None]


def demo_credentials(settings: Settings) -> tuple[Settings, str | None]:
    """``settings`` with an admin token hash, and the new token when one was made (None: the configured one).

    Without a configured session secret the demo signs its session cookies with a key of its own run (the
    sessions end with the demo anyway)."""
    from govwatch.web.auth import hash_token

    update: dict[str, SecretStr] = {}
    if settings.web_session_secret is None:
        update["web_session_secret"] = SecretStr(secrets.token_urlsafe(32))
    token = None
    if settings.web_admin_token_hash is None:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        update["web_admin_token_hash"] = SecretStr(hash_token(token))
    return settings.model_copy(update=update), token


class DemoWeb:
    """The app served by uvicorn; ``run()`` blocks until Ctrl-C (or ``stop()`` from another thread)."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = DEMO_WEB_PORT) -> None:
        import uvicorn

        from govwatch.web.app import UVICORN_OPTIONS, create_app

        self.settings, self.token = demo_credentials(settings)
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(create_app(self.settings), host=host, port=port, log_level="warning",
                                access_log=False, lifespan="on", **UVICORN_OPTIONS)
        self.server: Any = uvicorn.Server(config)

    def announce(self, say: Say) -> None:
        say(f"==> web app for analysts: {self.url}/login")
        if self.token is None:
            say("     log in with the admin token whose hash is GOVWATCH_WEB_ADMIN_TOKEN_HASH")
        else:
            say(f"     demo admin token (printed once, valid for this run only): {self.token}")
            say(f"     API: curl -H 'Authorization: Bearer <token>' {self.url}/api/v1/subscriptions")
        say("     Ctrl-C stops the web app (the stack stays up)")

    def run(self) -> None:
        self.server.run()

    def stop(self) -> None:
        self.server.should_exit = True
