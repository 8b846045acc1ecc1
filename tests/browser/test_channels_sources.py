"""Issue 28's web features in a real headless Chromium, against the real uvicorn server, Elasticsearch and Kafka.

An analyst picks each non-Slack channel on the subscription form (Teams, JSON webhook, e-mail), sees what was saved
shown back, and sends a test message that really arrives at the local receivers (govwatch_dev's Teams/JSON receiver
and aiosmtpd on 127.0.0.1); a destination the server may not use is refused on the form and nothing is saved; a spike
rule is saved and shown again, a bad k is explained. The source pages list the seeded feeds with their state, and a
feed's page shows its open incident's reason and links its recent stories.

The form is a plain HTML form (no script switches the channel fields): a channel's fields are checked by saving them
and reading the subscription page back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govwatch.adapters.es_io import make_client
from govwatch.alerts.spike import SpikeRule
from govwatch.alerts.store import SubscriptionStore
from govwatch.settings import Settings
from govwatch.web.source_pages import RECENT
from govwatch_dev.channel_receiver import ChannelReceiver
from govwatch_dev.smtp_receiver import SmtpReceiver
from tests.browser._seed import BROKEN_ERROR, OWNER, SourcesSeeded, seed_sources
from tests.browser.webapp_client import WebApp, start_web_app

HOOK_NAME = "SECRETHOOKPATH0028"  # the secret part of the webhook URLs: never rendered back
SIGNING = "whsec-browser-secret-0123456789"
SAVED = re.compile(r"/subscriptions/(?!new\b)[A-Za-z0-9_.-]+\?done=created$")


@dataclass
class ChannelSite:
    app: WebApp
    http: ChannelReceiver
    smtp: SmtpReceiver

    def url(self, path: str) -> str:
        return f"{self.app.base_url}{path}"

    def store(self) -> SubscriptionStore:
        return SubscriptionStore(make_client(self.app.settings.es_url), self.app.settings.index("subscriptions"))


@pytest.fixture
def channel_site(initialized: Settings) -> Iterator[ChannelSite]:
    """The app with Teams and JSON webhooks allowed to 127.0.0.1 and e-mail through the local SMTP receiver."""
    with ChannelReceiver() as http, SmtpReceiver() as smtp:
        settings = initialized.model_copy(update={
            "teams_webhook_hosts": ["127.0.0.1"], "json_webhook_hosts": ["127.0.0.1"], "smtp_host": smtp.host,
            "smtp_port": smtp.port, "smtp_starttls": False, "smtp_from": "alerts@govwatch.example"})
        with start_web_app(settings) as app:
            yield ChannelSite(app, http, smtp)


def _log_in(page: Any, base_url: str, token: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_test_id("login-token").fill(token)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r"/subscriptions"))


def _new_form(page: Any, site: ChannelSite, name: str, kind: str) -> None:
    page.goto(site.url("/subscriptions/new"))
    page.get_by_test_id("sub-name").fill(name)
    page.get_by_test_id("sub-query").fill('"AI Act"')
    page.get_by_test_id("sub-channel-kind").select_option(kind)


def _clean(page: Any) -> None:
    assert page.events.errors == [] and page.events.dialogs == [] and page.events.csp_violations() == []


def test_each_channel_is_saved_shown_back_and_its_test_message_arrives(page: Any, channel_site: ChannelSite) -> None:
    """Teams, JSON webhook (signed) and e-mail: saved from the form, shown masked with the channel kept selected,
    and "Send test message" reports where it went and the message reaches the local receiver."""
    site = channel_site
    site.http.expect_signature(f"/hooks/{HOOK_NAME}", SIGNING)
    _log_in(page, site.app.base_url, site.app.tokens[OWNER])
    fills = {
        "teams": {"sub-teams-url": site.http.teams_url(HOOK_NAME)},
        "json": {"sub-json-url": site.http.hook_url(HOOK_NAME), "sub-signing-secret": SIGNING},
        "email": {"sub-email-to": "policy-team@example.org, desk@example.org"},
    }
    shown = {"teams": "teams http://127.0.0.1/****", "json": "json http://127.0.0.1/****",
             "email": "email -> policy-team@example.org, desk@example.org"}
    for kind, fields in fills.items():
        _new_form(page, site, f"{kind} watch", kind)
        for test_id, value in fields.items():
            page.get_by_test_id(test_id).fill(value)
        page.get_by_test_id("sub-save").click()
        page.wait_for_url(SAVED)
        assert page.get_by_test_id("sub-title").inner_text().strip() == f"{kind} watch"
        assert page.get_by_test_id("sub-destination").inner_text().strip() == shown[kind]
        assert page.get_by_test_id("sub-channel-kind").input_value() == kind  # the edit form keeps the channel
        if kind == "email":
            assert page.get_by_test_id("sub-email-to").input_value() == "policy-team@example.org, desk@example.org"
        for secret_field in ("sub-teams-url", "sub-json-url", "sub-signing-secret"):
            assert page.get_by_test_id(secret_field).input_value() == ""  # secrets are write-only
        sub_id = page.url.split("/subscriptions/")[1].split("?")[0]
        saved = site.store().get(sub_id)
        assert saved.destination.kind == kind and saved.owner == OWNER

        page.get_by_test_id("sub-test").click()
        notice = page.get_by_test_id("notice")
        notice.wait_for()
        assert notice.inner_text().strip() == f"Test message sent to {shown[kind]}."
        assert HOOK_NAME not in page.content() and SIGNING not in page.content()

    teams, hook = site.http.deliveries
    assert (teams.path, teams.status) == (f"/teams/{HOOK_NAME}", 202)
    assert "teams watch" in str(teams.payload)
    assert (hook.path, hook.status) == (f"/hooks/{HOOK_NAME}", 200)  # the receiver verified the signature
    assert "json watch" in str(hook.payload)
    (mail,) = site.smtp.messages
    assert mail.rcpt_tos == ("policy-team@example.org", "desk@example.org")
    assert "email watch" in mail.message["Subject"]
    _clean(page)


def test_an_existing_subscription_switches_channel_on_the_edit_form(page: Any, channel_site: ChannelSite) -> None:
    """A Teams subscription edited to e-mail is saved as e-mail (the Teams URL dropped) and its test goes by mail."""
    site = channel_site
    _log_in(page, site.app.base_url, site.app.tokens[OWNER])
    _new_form(page, site, "switcher", "teams")
    page.get_by_test_id("sub-teams-url").fill(site.http.teams_url(HOOK_NAME))
    page.get_by_test_id("sub-save").click()
    page.wait_for_url(SAVED)
    sub_id = page.url.split("/subscriptions/")[1].split("?")[0]

    page.get_by_test_id("sub-channel-kind").select_option("email")
    page.get_by_test_id("sub-email-to").fill("desk@example.org")
    page.get_by_test_id("sub-save").click()
    page.wait_for_url(re.compile(rf"/subscriptions/{sub_id}\?done=saved$"))
    assert page.get_by_test_id("sub-destination").inner_text().strip() == "email -> desk@example.org"
    assert page.get_by_test_id("sub-channel-kind").input_value() == "email"
    saved = site.store().get(sub_id).destination
    assert saved.kind == "email" and saved.webhook_url is None and list(saved.to) == ["desk@example.org"]

    page.get_by_test_id("sub-test").click()
    page.get_by_test_id("notice").wait_for()
    assert [m.rcpt_tos for m in site.smtp.messages] == [("desk@example.org",)]
    assert site.http.requests == []
    _clean(page)


@pytest.mark.parametrize(("kind", "test_id", "value", "expected"), [
    ("teams", "sub-teams-url", "https://evil.example.net/teams/x", "GOVWATCH_TEAMS_WEBHOOK_HOSTS"),
    ("json", "sub-json-url", "https://10.1.2.3/_doc", "GOVWATCH_JSON_WEBHOOK_HOSTS"),
    ("email", "sub-email-to", "desk-at-example.org", "is not an e-mail address"),
    ("email", "sub-email-to", "Policy Team <policy@example.org>", "is not an e-mail address"),
])
def test_a_refused_destination_is_explained_on_the_form_and_not_saved(
        page: Any, channel_site: ChannelSite, kind: str, test_id: str, value: str, expected: str) -> None:
    """A webhook host off the allowlist or a malformed recipient shows the reason at the top of the re-displayed
    form (typed fields kept, the channel still selected); no subscription is saved and nothing is sent."""
    site = channel_site
    _log_in(page, site.app.base_url, site.app.tokens[OWNER])
    _new_form(page, site, "refused", kind)
    page.get_by_test_id(test_id).fill(value)
    page.get_by_test_id("sub-save").click()
    error = page.get_by_test_id("form-error")
    error.wait_for()
    assert expected in error.inner_text(), error.inner_text()
    assert error.is_visible() and error.bounding_box()["y"] < page.viewport_size["height"]  # seen without scrolling
    assert page.get_by_test_id("sub-name").input_value() == "refused"
    assert page.get_by_test_id("sub-channel-kind").input_value() == kind
    assert page.url == site.url("/subscriptions/new")
    assert site.store().list(owner=OWNER) == []
    page.goto(site.url("/subscriptions"))
    assert page.get_by_test_id("sub-row").count() == 0
    assert site.http.requests == [] and site.smtp.messages == []
    _clean(page)


def test_spike_rule_is_saved_shown_again_and_a_bad_k_is_explained(page: Any, channel_site: ChannelSite) -> None:
    """Spike on, k 4.5, a 2 h window over 12 baseline windows, minimum 3, entity Q458: saved as that rule and
    shown again on the edit form; k 0 or "abc" is refused with a message naming k, and the saved rule is kept."""
    site = channel_site
    _log_in(page, site.app.base_url, site.app.tokens[OWNER])
    _new_form(page, site, "surge watch", "email")
    page.get_by_test_id("sub-email-to").fill("desk@example.org")
    page.get_by_test_id("sub-spike-on").check()
    page.get_by_test_id("sub-spike-k").fill("4.5")
    page.locator("input[name=spike_window_minutes]").fill("120")
    page.locator("input[name=spike_baseline_windows]").fill("12")
    page.get_by_test_id("sub-spike-min").fill("3")
    page.locator("input[name=spike_entity_id]").fill("Q458")
    page.get_by_test_id("sub-save").click()
    page.wait_for_url(SAVED)
    sub_id = page.url.split("/subscriptions/")[1].split("?")[0]
    rule = SpikeRule(k=4.5, window_minutes=120, baseline_windows=12, min_count=3, entity_id="Q458")
    assert site.store().get(sub_id).spike == rule

    page.goto(site.url(f"/subscriptions/{sub_id}"))  # the edit form, fresh from the store
    assert page.get_by_test_id("sub-spike-on").is_checked()
    assert page.get_by_test_id("sub-spike-k").input_value() == "4.5"
    assert page.locator("input[name=spike_window_minutes]").input_value() == "120"
    assert page.locator("input[name=spike_baseline_windows]").input_value() == "12"
    assert page.get_by_test_id("sub-spike-min").input_value() == "3"
    assert page.locator("input[name=spike_entity_id]").input_value() == "Q458"

    for bad in ("0", "abc"):
        page.get_by_test_id("sub-spike-k").fill(bad)
        page.get_by_test_id("sub-save").click()
        error = page.get_by_test_id("form-error")
        error.wait_for()
        text = error.inner_text()
        assert re.search(r"\bk\b", text) and ("greater than 1" in text if bad == "0" else "number" in text), text
        assert page.get_by_test_id("sub-spike-k").input_value() == bad  # what was typed is shown with the error
        assert site.store().get(sub_id).spike == rule
    _clean(page)


@dataclass
class SourcesSite:
    app: WebApp
    data: SourcesSeeded

    def url(self, path: str) -> str:
        return f"{self.app.base_url}{path}"


@pytest.fixture
def sources_site(initialized: Settings, tmp_path: Path) -> Iterator[SourcesSite]:
    """Three feeds (one failing, one healthy, one never polled) evaluated at the seed's clock, and the app."""
    data = seed_sources(initialized, tmp_path)
    with start_web_app(data.settings) as app:
        yield SourcesSite(app, data)


def test_sources_list_feeds_and_a_feed_page_shows_its_incident_and_stories(
        page: Any, sources_site: SourcesSite) -> None:
    """Sources menu -> every registry feed with its state, the failing one first -> its page gives the incident's
    reason, the last poll error and its recent stories, newest first -> a story link opens that story."""
    site = sources_site
    assert "open: broken-wire failing" in site.data.summary, site.data.summary
    _log_in(page, site.app.base_url, site.app.tokens[OWNER])
    page.get_by_role("link", name="Sources", exact=True).click()
    page.wait_for_url(re.compile(r"/sources$"))
    rows = page.get_by_test_id("source-row")
    rows.first.wait_for()
    assert [rows.nth(i).get_attribute("data-feed-id") for i in range(rows.count())] == [
        "broken-wire", "new-feed", "steady-news"]  # open incidents first, then by id
    broken, fresh, steady = (rows.nth(i) for i in range(3))
    assert broken.get_by_test_id("source-incidents").inner_text().strip() == "failing"
    assert "(9 failures)" in broken.inner_text()
    assert steady.get_by_test_id("source-incidents").inner_text().strip() == "none"
    assert "1 h" in steady.inner_text() and steady.get_by_test_id("source-extraction-today").inner_text().startswith(
        "100%")
    assert fresh.inner_text().count("never") == 2  # never polled, no story

    broken.get_by_role("link", name="Broken Wire").click()
    page.wait_for_url(re.compile(r"/sources/broken-wire$"))
    assert page.get_by_test_id("source-name").inner_text().strip() == "Broken Wire"
    assert page.get_by_test_id("source-last-error").inner_text().strip() == BROKEN_ERROR
    incident = page.get_by_test_id("source-open-incidents").inner_text()
    assert "failing" in incident and "every poll has failed for 10.0 h (9 in a row" in incident, incident
    assert BROKEN_ERROR in incident
    stories = page.get_by_test_id("source-story")
    newest = site.data.stories["broken-wire"]
    assert stories.count() == min(len(newest), RECENT)
    assert [stories.nth(i).get_attribute("data-story-id") for i in range(3)] == [s.story_id for s in newest[:3]]

    stories.first.get_by_role("link", name=newest[0].title).click()
    page.get_by_test_id("story-title").wait_for()
    assert page.url == site.url(f"/stories/{newest[0].story_id}")
    assert page.get_by_test_id("story-title").inner_text().strip() == newest[0].title

    page.goto(site.url("/sources/steady-news"))
    assert page.get_by_test_id("source-open-incidents").inner_text().strip() == "none"
    assert page.get_by_test_id("source-interval").inner_text().startswith("1 h")
    _clean(page)
