"""Picking a channel and sending a test message in the web app (form and JSON API) and the CLI, on real parts: the app
served by uvicorn, Elasticsearch, the Teams/JSON receiver and aiosmtpd on 127.0.0.1. Secrets never come back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from govwatch.settings import Settings
from govwatch_dev import demo
from govwatch_dev.channel_receiver import ChannelReceiver
from govwatch_dev.smtp_receiver import SmtpReceiver
from tests.support.webapp import admin_settings, make_token, run_web_app

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
HOOK_NAME = "SECRETHOOKPATH0001"
SIGNING = "whsec-web-secret-0123456789"


@pytest.fixture
def parts(initialized: Settings) -> Iterator[tuple[Settings, str, str, ChannelReceiver, SmtpReceiver]]:
    with ChannelReceiver() as http, SmtpReceiver() as smtp:
        settings, _ = admin_settings(initialized, teams_webhook_hosts=["127.0.0.1"], json_webhook_hosts=["127.0.0.1"],
                                     smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
                                     smtp_from="alerts@govwatch.example")
        token = make_token(settings, "alice")
        with run_web_app(settings, clock=lambda: NOW) as base_url:
            yield settings, base_url, token, http, smtp


def _session(base_url: str, token: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base_url, timeout=60)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"token": token, "csrf": csrf}).status_code == 303
    page = client.get("/subscriptions/new")
    assert 'data-testid="sub-channel-kind"' in page.text and 'value="email"' in page.text
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_form_picks_each_channel_and_sends_a_test_message(parts) -> None:  # noqa: ANN001
    _, base_url, token, http, smtp = parts
    session, csrf = _session(base_url, token)
    fields = {"teams": {"teams_url": http.teams_url(HOOK_NAME)},
              "json": {"json_url": http.hook_url(HOOK_NAME), "signing_secret": SIGNING},
              "email": {"email_to": "policy-team@example.org, desk@example.org"}}
    http.expect_signature(f"/hooks/{HOOK_NAME}", SIGNING)
    bodies = []
    try:
        for kind, extra in fields.items():
            form = {"csrf": csrf, "name": f"{kind} watch", "query": '"AI Act"', "channel_kind": kind, "action": "save",
                    **extra}
            saved = session.post("/subscriptions/new", data=form)
            assert saved.status_code == 303, saved.text[-500:]
            sid = saved.headers["location"].split("/")[-1].split("?")[0]
            view = session.get(f"/subscriptions/{sid}")
            assert f"{kind} " in view.text or "email -&gt;" in view.text
            tested = session.post(f"/subscriptions/{sid}/test", data={"csrf": csrf})
            assert tested.status_code == 200 and "Test message sent to" in tested.text
            bodies += [view.text, tested.text]
        refused = session.post("/subscriptions/new", data={"csrf": csrf, "name": "x", "query": '"AI Act"',
                                                           "channel_kind": "email", "email_to": "a@b\r\nBcc: c@d.org",
                                                           "action": "save"})
        assert refused.status_code in (400, 422) and "e-mail address" in refused.text
    finally:
        session.close()
    assert [r.status for r in http.deliveries] == [202, 200]
    assert len(smtp.messages) == 1 and smtp.messages[0].rcpt_tos == ("policy-team@example.org", "desk@example.org")
    assert all(HOOK_NAME not in body and SIGNING not in body for body in bodies)


def test_api_takes_channel_fields_and_sends_a_test_message(parts) -> None:  # noqa: ANN001
    _, base_url, token, http, _ = parts
    with httpx.Client(base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        created = api.post("/subscriptions", json={"name": "api json", "query": '"AI Act"',
                                                   "destination": {"json_url": http.hook_url(HOOK_NAME)}})
        assert created.status_code in (200, 201), created.text
        sid = created.json()["id"]
        assert HOOK_NAME not in created.text and created.json()["destination"].startswith("json ")
        sent = api.post(f"/subscriptions/{sid}/test")
        assert sent.status_code == 200, sent.text
        elsewhere = api.post("/subscriptions", json={"name": "internal", "query": '"AI Act"',
                                                     "destination": {"json_url": "https://10.1.2.3/_doc"}})
        assert elsewhere.status_code in (400, 422) and "GOVWATCH_JSON_WEBHOOK_HOSTS" in elsewhere.text
    body = http.deliveries[-1].payload
    assert body["schema"] == "govwatch.alert.v1" and "api json" in json.dumps(body)


def test_cli_send_test(parts) -> None:  # noqa: ANN001
    settings, _, _, _, smtp = parts
    env = demo.child_env(settings, {"GOVWATCH_SMTP_HOST": smtp.host, "GOVWATCH_SMTP_PORT": str(smtp.port),
                                    "GOVWATCH_SMTP_STARTTLS": "false", "GOVWATCH_SMTP_FROM": "alerts@govwatch.example"})

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "govwatch.cli", *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300, check=False)

    added = cli("subscriptions", "add", "--name", "cli mail", "--query", '"AI Act"', "--email", "desk@example.org")
    assert added.returncode == 0 and "email -> desk@example.org" in added.stdout, added.stderr[-2000:]
    sent = cli("subscriptions", "send-test", "cli mail")
    assert sent.returncode == 0 and "test message sent -> email -> desk@example.org" in sent.stdout, sent.stderr
    mail = smtp.messages[-1].message
    assert mail["Message-ID"].endswith("@govwatch.example>") and "cli mail" in mail["Subject"]
