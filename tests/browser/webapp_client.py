"""The web app as the browser tests and the screenshot script use it: the real uvicorn server on 127.0.0.1 from
tests/support/webapp.py, on the seed's fixed clock, with a fresh admin token and a per-user token for the seeded
owner (stored hashed in the web-tokens index, as `govwatch web token create` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from govwatch.settings import Settings
from tests.browser._seed import NOW, OWNER
from tests.support.webapp import admin_settings, make_token, run_web_app

ADMIN = "admin"


@dataclass
class WebApp:
    base_url: str
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)  # who -> login/bearer token ("admin", OWNER)


@contextmanager
def start_web_app(settings: Settings, now: datetime = NOW) -> Iterator[WebApp]:
    """The app serving ``settings`` at the fixed instant ``now`` until the block ends."""
    served, admin = admin_settings(settings)
    owner = make_token(served, OWNER)
    with run_web_app(served, clock=lambda: now) as base_url:
        yield WebApp(base_url=base_url, settings=served, tokens={ADMIN: admin, OWNER: owner})
