"""Where spike rules are set: the JSON API, the web form and ``govwatch spikes``, on the real stack; and the
backtest (``govwatch spikes test``) replaying history across a month boundary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx

from govwatch.adapters import es_io
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.settings import Settings
from govwatch_dev.slack_receiver import SlackReceiver
from tests.integration.test_spike_alerts import MIDNIGHT, _index, _series
from tests.support.webapp import admin_settings, make_token, run_web_app

NOW = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def test_api_and_web_form_set_change_and_remove_a_spike_rule(initialized: Settings) -> None:
    """The API stores a spike rule and refuses k <= 1 with 422; the web form sets one and unticking removes it."""
    with SlackReceiver() as receiver:
        settings, _ = admin_settings(initialized)
        token = make_token(settings, "alice")
        hook = receiver.webhook_url("T/B/spikes")
        with run_web_app(settings, clock=lambda: NOW) as base_url:
            api = httpx.Client(base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {token}"},
                               timeout=60)
            made = api.post("/subscriptions", json={
                "name": "AI Act surge", "query": '"AI Act"', "destination": {"webhook_url": hook},
                "spike": {"k": 4, "window_minutes": 120, "min_count": 6}})
            refused = api.patch(f"/subscriptions/{made.json()['id']}", json={"spike": {"k": 1}})
            changed = api.patch(f"/subscriptions/{made.json()['id']}", json={"spike": {"k": 2.5, "entity_id": "Q458"}})

            browser = httpx.Client(base_url=base_url, timeout=60)
            login = browser.get("/login")
            assert browser.post("/login", data={"token": token, "csrf": _csrf(login)}).status_code == 303
            form = browser.get("/subscriptions/new")
            created = browser.post("/subscriptions/new", data={
                "csrf": _csrf(form), "name": "Form surge", "query": "deepfake", "mode": "immediate",
                "granularity": "event", "channel_kind": "slack", "webhook_url": hook, "spike_on": "on",
                "spike_k": "5", "spike_window_minutes": "60", "spike_baseline_windows": "", "spike_min_count": "3",
                "spike_entity_id": ""})
            location = created.headers.get("location", "")
            page = browser.get(location.split("?")[0])
            edited = browser.post(location.split("?")[0], data={
                "csrf": _csrf(page), "name": "Form surge", "query": "deepfake", "mode": "immediate",
                "granularity": "event", "channel_kind": "slack"})
            api.close()
            browser.close()

    store = SubscriptionStore(es_io.make_client(settings.es_url), settings.index("subscriptions"))
    assert made.status_code == 201 and made.json()["spike"]["k"] == 4 and made.json()["spike"]["baseline_windows"] == 28
    assert refused.status_code == 422
    assert changed.status_code == 200 and changed.json()["spike"]["entity_id"] == "Q458"
    assert created.status_code == 303, created.text[:500]
    assert 'data-testid="sub-spike-on" checked' in page.text and 'value="5.0"' in page.text
    assert edited.status_code == 303
    assert store.get("Form surge").spike is None and store.get("AI Act surge").spike is not None


def test_cli_adds_lists_backtests_and_removes(initialized: Settings) -> None:
    """`govwatch spikes add` sets a rule, `list` shows it armed, `test` replays the history (a spike across
    midnight of 31 October once; a flat series never) and `rm` removes it. The CLI runs in its own process, as a
    user runs it (in this process its logging set-up would outlive the test's captured stderr)."""
    settings = initialized
    env = {**os.environ, "GOVWATCH_INDEX_PREFIX": settings.index_prefix, "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix}

    def govwatch(*args: str) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "govwatch.cli", *args], env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        return done.returncode, done.stdout

    es = es_io.make_client(settings.es_url)
    width = timedelta(hours=6)
    ends = [MIDNIGHT + timedelta(hours=3) - i * width for i in range(5)][::-1]
    _index(es, settings.index_prefix, _series("surge", 1000, [2, 2, 2, 2, 12], ends, width)
           + _series("steady", 2000, [4, 4, 4, 4, 4], ends, width))
    store = SubscriptionStore(es, settings.index("subscriptions"))
    for word in ("surge", "steady"):
        store.add(Subscription(name=word, query=word, destination=Destination(
            kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/x")))
    rule = ["--k", "3", "--window-minutes", "360", "--baseline-windows", "4", "--min-count", "5"]
    assert govwatch("spikes", "add", "surge", *rule)[0] == 0
    assert govwatch("spikes", "add", "steady", *rule)[0] == 0
    assert govwatch("spikes", "add", "steady", "--k", "0.5")[0] == 2  # refused, the stored rule unchanged
    rc, listed = govwatch("spikes", "list")
    assert rc == 0
    rc, surge = govwatch("spikes", "test", "surge", "--days", "3", "--step-minutes", "60", "--now", NOW.isoformat())
    assert rc == 0
    rc, steady = govwatch("spikes", "test", "steady", "--days", "3", "--step-minutes", "60", "--now",
                          NOW.isoformat())
    assert rc == 0
    assert govwatch("spikes", "rm", "surge")[0] == 0

    assert "surge" in listed and "steady" in listed and listed.count("armed") == 2
    assert "1 spike(s) in the last 3 days" in surge and "2026-11-01 00:00 UTC" in surge, surge
    assert "0 spike(s)" in steady, steady
    assert store.get("surge").spike is None and store.get("steady").spike.k == 3


def test_web_page_and_api_backtest_a_spike_rule(initialized: Settings) -> None:
    """The subscription page's backtest links and the API replay the same decision as `govwatch spikes test` (at the
    evaluation interval's step): the surge across midnight of 31 October fires once, at 00:00 on 1 November; the
    flat series never; a subscription without a rule, or days out of range, get a clear refusal."""
    settings, _ = admin_settings(initialized.model_copy(update={"spike_interval_s": 3600}))
    token = make_token(settings, "alice")
    es = es_io.make_client(settings.es_url)
    width = timedelta(hours=6)
    ends = [MIDNIGHT + timedelta(hours=3) - i * width for i in range(5)][::-1]
    _index(es, settings.index_prefix, _series("surge", 1000, [2, 2, 2, 2, 12], ends, width)
           + _series("steady", 2000, [4, 4, 4, 4, 4], ends, width))
    rule = {"k": 3, "window_minutes": 360, "baseline_windows": 4, "min_count": 5}
    hook = "https://hooks.slack.com/services/T/B/x"
    with run_web_app(settings, clock=lambda: NOW) as base_url:
        api = httpx.Client(base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        ids = {name: api.post("/subscriptions", json={"name": name, "query": name, "destination": {
            "webhook_url": hook}, **({"spike": rule} if name != "plain" else {})}).json()["id"]
            for name in ("surge", "steady", "plain")}
        surge_api = api.get(f"/subscriptions/{ids['surge']}/spike-backtest", params={"days": 3})
        steady_api = api.get(f"/subscriptions/{ids['steady']}/spike-backtest", params={"days": 3})
        plain_api = api.get(f"/subscriptions/{ids['plain']}/spike-backtest")
        too_long = api.get(f"/subscriptions/{ids['surge']}/spike-backtest", params={"days": 400})
        browser = httpx.Client(base_url=base_url, timeout=60)
        login = browser.get("/login")
        assert browser.post("/login", data={"token": token, "csrf": _csrf(login)}).status_code == 303
        page = browser.get(f"/subscriptions/{ids['surge']}")
        surge_page = browser.get(f"/subscriptions/{ids['surge']}/spike-backtest", params={"days": 7})
        steady_page = browser.get(f"/subscriptions/{ids['steady']}/spike-backtest", params={"days": 7})
        plain_page = browser.get(f"/subscriptions/{ids['plain']}/spike-backtest", params={"days": 7})
        api.close()
        browser.close()

    assert surge_api.status_code == 200, surge_api.text
    assert [f["at"] for f in surge_api.json()["fired"]] == ["2026-11-01T00:00:00+00:00"]
    assert surge_api.json()["fired"][0]["count"] >= 5 and surge_api.json()["step_minutes"] == 60
    assert steady_api.status_code == 200 and steady_api.json()["fired"] == []
    assert plain_api.status_code == 422 and "no spike rule" in plain_api.text
    assert too_long.status_code == 422
    assert 'href="/subscriptions/' + ids["surge"] + '/spike-backtest?days=30"' in page.text
    assert surge_page.status_code == 200 and surge_page.text.count('data-testid="sub-spike-firing"') == 1
    assert "2026-11-01 00:00 UTC" in surge_page.text and "every 60 minutes" in surge_page.text
    assert steady_page.status_code == 200 and "It would not have fired in the last 7 days" in steady_page.text
    assert plain_page.status_code == 422 and "no spike rule" in plain_page.text
