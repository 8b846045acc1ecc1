"""The compose `setup` service's script (deploy/compose/setup-elasticsearch.sh): its password checks, and the
security API calls it makes, read back from a recording HTTP server on 127.0.0.1. Whether Elasticsearch accepts
the role bodies is not tested here: the local Elasticsearch has no security plugin (see test_es_roles.py)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from govwatch_dev.localserver import LocalServer
from tests.deploy.compose_env import GOVWATCH_ROLES, ROLES_DIR, SETUP, env_values
from tests.deploy.tools import run


def _setup_check(values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "SETUP_ROLES_DIR": str(ROLES_DIR), **values}
    return run(["bash", SETUP, "check"], env=env)


def test_setup_accepts_the_generated_passwords(generated_env: str) -> None:
    """The setup service's checks pass for make-env.sh's values (the run stops before any certificate or call)."""
    proc = _setup_check(env_values(generated_env))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(("change", "message"), [
    ({"ELASTIC_PASSWORD": "CHANGE-elastic-password"}, "ELASTIC_PASSWORD contains the placeholder word 'change'"),
    ({"ES_PASSWORD_WEB": ""}, "ES_PASSWORD_WEB is empty: set it in deploy/compose/.env (make one: openssl rand"),
    ({"ES_PASSWORD_ENRICH": "a1b2c3d4e5"}, "ES_PASSWORD_ENRICH has 10 characters, fewer than 20"),
    ({"KIBANA_IMPORT_PASSWORD": 'ab"cd' * 6}, "KIBANA_IMPORT_PASSWORD may hold only letters, digits"),
    ({"ES_PASSWORD_ALERT": "same-value"}, "is the same as"),
])
def test_setup_refuses_weak_or_shared_passwords(generated_env: str, change: dict[str, str], message: str) -> None:
    """Missing, placeholder, short, JSON-breaking or shared passwords stop setup (and so the stack) with the fix."""
    values = env_values(generated_env)
    if change.get("ES_PASSWORD_ALERT") == "same-value":
        change = {"ES_PASSWORD_ALERT": values["ES_PASSWORD_NOTIFY"]}
    proc = _setup_check({**values, **change})
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


class _SecurityApi:
    """A real HTTP server on 127.0.0.1 standing in for Elasticsearch's security API: records each request and
    answers 200 (or ``refuse``'s status for one path), so the setup script's calls can be read back."""

    def __init__(self, refuse: tuple[str, int] | None = None) -> None:
        self.requests: list[tuple[str, str, str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append(("PUT", self.path, self.headers.get("Authorization", ""), body))
                status = refuse[1] if refuse and refuse[0] == self.path else 200
                answer = b'{"error":{"type":"action_request_validation_exception"}}' if status != 200 else b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = LocalServer(Handler, name="security-api")
        self.url = self.server.start()

    def close(self) -> None:
        self.server.stop()


def _setup_users(values: dict[str, str], api: _SecurityApi) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "SETUP_ROLES_DIR": str(ROLES_DIR), "SETUP_ES_URL": api.url, **values}
    return run(["bash", SETUP, "users"], env=env)


def test_setup_creates_one_role_and_one_user_per_govwatch_role(generated_env: str) -> None:
    """`setup-elasticsearch.sh users` PUTs, as `elastic`, each role body (index prefix filled in) and a user
    govwatch_<role> with that role and its own password, then govwatch_kibana_import (kibana_admin). Against a
    recording server: Elasticsearch's acceptance of the bodies is not tested here (no security plugin locally)."""
    values = env_values(generated_env)
    api = _SecurityApi()
    try:
        proc = _setup_users(values, api)
    finally:
        api.close()
    assert proc.returncode == 0, proc.stderr
    basic = "Basic " + base64.b64encode(f"elastic:{values['ELASTIC_PASSWORD']}".encode()).decode()
    assert {auth for _, _, auth, _ in api.requests} == {basic}
    calls = {path: body for _, path, _, body in api.requests}
    assert len(calls) == len(api.requests) == 2 * len(GOVWATCH_ROLES) + 1
    for role in GOVWATCH_ROLES:
        wanted = json.loads((ROLES_DIR / f"{role}.json").read_text().replace("{prefix}", "govwatch"))
        assert calls[f"/_security/role/govwatch_{role}"] == wanted
        user = calls[f"/_security/user/govwatch_{role}"]
        assert user["roles"] == [f"govwatch_{role}"]
        assert user["password"] == values[f"ES_PASSWORD_{role.upper()}"]
    assert calls["/_security/user/govwatch_kibana_import"]["roles"] == ["kibana_admin"]
    assert values["ELASTIC_PASSWORD"] not in proc.stdout + proc.stderr


def test_setup_stops_when_elasticsearch_refuses_a_call(generated_env: str) -> None:
    """A refused call (here the alert role) stops setup with the method, path, status and Elasticsearch's reason,
    so the govwatch roles never start against a half-made set of users."""
    api = _SecurityApi(refuse=("/_security/role/govwatch_alert", 400))
    try:
        proc = _setup_users(env_values(generated_env), api)
    finally:
        api.close()
    assert proc.returncode != 0
    assert "PUT /_security/role/govwatch_alert answered 400: " in proc.stderr
    assert "action_request_validation_exception" in proc.stderr
    assert "/_security/user/govwatch_alert" not in {path for _, path, _, _ in api.requests}
