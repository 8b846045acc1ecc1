"""The demo's web step: it serves the app on the demo's data and the admin token it prints logs in (API and form)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from pydantic import SecretStr

from govwatch.web.auth import hash_token
from govwatch_dev import demo
from govwatch_dev.demo_web import DemoWeb
from tests.support.webapp import free_port

READY_TIMEOUT_S = 30.0


def _wait_ready(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert thread.is_alive(), "the demo's web server stopped before it answered /healthz"
        assert time.monotonic() < deadline, f"no answer from {url}/healthz within {READY_TIMEOUT_S} s"
        time.sleep(0.05)  # readiness poll interval


def test_demo_prints_url_and_a_token_that_logs_in(initialized: Any) -> None:  # noqa: ANN401 - Settings
    """Without a configured hash the demo makes an admin token, prints it once with the URL, and that token (and
    no other) reads the demo's subscriptions over the API; stop() ends the server."""
    settings = initialized.model_copy(update={"web_admin_token_hash": None, "web_session_secret": None})
    es = demo.es_client(settings)
    names = demo.ensure_subscriptions(settings, es, demo.REPO / "deploy" / "demo" / "subscriptions.yaml",
                                      "https://hooks.slack.com/services/T000/B000/DEMODEMO")
    web = DemoWeb(settings, port=free_port())
    said: list[str] = []
    web.announce(said.append)
    token_lines = [line for line in said if "demo admin token" in line]
    assert len(token_lines) == 1 and web.token and token_lines[0].endswith(web.token), said
    assert any(f"{web.url}/login" in line for line in said)
    assert web.token not in web.settings.web_admin_token_hash.get_secret_value()  # only its hash is kept

    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    try:
        _wait_ready(web.url, thread)
        ok = httpx.get(f"{web.url}/api/v1/subscriptions", headers={"Authorization": f"Bearer {web.token}"}, timeout=30)
        assert ok.status_code == 200, ok.text
        assert {s["name"] for s in ok.json()} == set(names)
        assert "DEMODEMO" not in ok.text and demo.DEMO_BOT_TOKEN not in ok.text  # destinations' secrets stay hidden
        assert {s["granularity"] for s in ok.json()} == {"event", "cluster", "story"}
        wrong = httpx.get(f"{web.url}/api/v1/subscriptions", headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401
    finally:
        web.stop()
        thread.join(timeout=15)
    assert not thread.is_alive()


def test_demo_uses_the_configured_admin_token(initialized: Any) -> None:  # noqa: ANN401 - Settings
    """With GOVWATCH_WEB_ADMIN_TOKEN_HASH set the demo makes no token, prints none, and keeps the configured hash."""
    configured = SecretStr(hash_token("operator-chosen-token"))
    web = DemoWeb(initialized.model_copy(update={"web_admin_token_hash": configured}), port=free_port())
    said: list[str] = []
    web.announce(said.append)
    assert web.token is None and web.settings.web_admin_token_hash == configured
    assert not any("demo admin token" in line for line in said)
    assert any("GOVWATCH_WEB_ADMIN_TOKEN_HASH" in line for line in said)
