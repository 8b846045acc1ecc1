"""The web app in a real headless Chromium, against a real uvicorn server and the real Elasticsearch.

An analyst logs in with a per-user token, writes a query, sees the preview's matches from the indexed test stories,
saves, finds the subscription listed, pauses it; opens an alert and its story page; and a hostile story (script in
the headline, a javascript: link) renders as inert text under a CSP that blocks inline script.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from govwatch.adapters.es_io import make_client
from govwatch.alerts.store import SubscriptionStore
from govwatch.settings import Settings
from tests.browser._seed import HOSTILE_TITLE, OWNER, Seeded, seed
from tests.browser.webapp_client import WebApp, start_web_app
from tests.integration._alert_helpers import WEBHOOK


@dataclass
class Site:
    app: WebApp
    data: Seeded

    def url(self, path: str) -> str:
        return f"{self.app.base_url}{path}"


@pytest.fixture
def site(initialized: Settings) -> Iterator[Site]:
    """Seeded stories, subscriptions and alerts, and the app on 127.0.0.1 (ready: /healthz answered)."""
    data = seed(initialized)
    with start_web_app(initialized) as app:
        yield Site(app, data)


def _log_in(page: Any, site: Site, token: str) -> None:
    page.goto(site.url("/login"))
    page.get_by_test_id("login-token").fill(token)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r"/subscriptions"))


def _no_script_ran(page: Any) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined", page.evaluate("window.__pwned")
    assert page.events.dialogs == []
    assert page.events.errors == []


def _javascript_links(page: Any) -> list[str]:
    """Every href (and src/action) that the browser would treat as a javascript: URL, after HTML parsing."""
    return page.evaluate("""() => [...document.querySelectorAll('[href],[src],[action],[formaction]')]
        .flatMap(el => ['href', 'src', 'action', 'formaction'].map(a => el.getAttribute(a)))
        .filter(v => v !== null && v.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase().startsWith('javascript:'))""")


def test_analyst_previews_saves_lists_and_pauses_a_subscription(page: Any, site: Site) -> None:
    """Log in, type a query, preview shows the matching indexed stories, save, the row is listed, pause sticks."""
    _log_in(page, site, site.app.tokens[OWNER])
    rows = page.get_by_test_id("sub-row")
    names = rows.all_inner_texts()
    assert any("EU AI Act" in n for n in names) and any("UK online safety" in n for n in names), names
    assert not any("Someone else" in n for n in names), names  # another owner's subscription is not shown

    page.goto(site.url("/subscriptions/new"))
    page.get_by_test_id("sub-name").fill("AI Act watch")
    page.get_by_test_id("sub-query").fill('"AI Act" AND guidance')
    page.get_by_test_id("sub-preview").click()
    results = page.get_by_test_id("preview-results")
    results.get_by_test_id("preview-match").first.wait_for()
    matches = results.get_by_test_id("preview-match").all_inner_texts()
    assert len(matches) == 1 and "AI Act guidance published" in matches[0], matches
    assert page.get_by_test_id("query-error").count() == 0 or not page.get_by_test_id("query-error").is_visible()

    page.get_by_test_id("sub-webhook").fill(WEBHOOK)
    page.get_by_test_id("sub-save").click()
    page.wait_for_url(re.compile(r"/subscriptions/(?!new\b)[A-Za-z0-9_.-]+\?done=created$"))
    assert "SECRETSECRET" not in page.content()  # the webhook URL is never rendered back
    page.goto(site.url("/subscriptions"))
    row = page.get_by_test_id("sub-row").filter(has_text="AI Act watch")
    assert row.count() == 1
    sub_id = row.get_attribute("data-sub-id")
    store = SubscriptionStore(make_client(site.app.settings.es_url), site.app.settings.index("subscriptions"))
    saved = store.get(sub_id)
    assert saved.query == '"AI Act" AND guidance' and saved.owner == OWNER and not saved.paused

    page.goto(site.url(f"/subscriptions/{sub_id}"))
    page.get_by_test_id("sub-pause").click()
    page.get_by_test_id("sub-resume").wait_for()
    assert store.get(sub_id).paused is True
    page.goto(site.url("/subscriptions"))
    assert "paused" in page.get_by_test_id("sub-row").filter(has_text="AI Act watch").inner_text().lower()
    _no_script_ran(page)


def test_invalid_query_is_explained_in_the_form(page: Any, site: Site) -> None:
    """A query Elasticsearch cannot parse shows the reason in the form instead of a preview."""
    _log_in(page, site, site.app.tokens[OWNER])
    page.goto(site.url("/subscriptions/new"))
    page.get_by_test_id("sub-name").fill("broken")
    page.get_by_test_id("sub-query").fill('"AI Act" AND (fine')
    page.get_by_test_id("sub-preview").click()
    error = page.get_by_test_id("query-error")
    error.wait_for()
    assert error.inner_text().strip(), "the error says nothing"
    assert page.get_by_test_id("preview-match").count() == 0


def test_alert_leads_to_its_story_and_why_it_matched(page: Any, site: Site) -> None:
    """The alerts page lists what fired with its delivery state; a story link opens entities, topics and matches."""
    _log_in(page, site, site.app.tokens[OWNER])
    page.goto(site.url("/alerts"))
    rows = page.get_by_test_id("alert-row")
    rows.first.wait_for()
    texts = [t.lower() for t in rows.all_inner_texts()]
    assert len(texts) == 3, texts
    assert any("delivered" in t for t in texts)
    assert any("failed" in t and "503" in t for t in texts)
    assert any("dead" in t and "channel_not_found" in t for t in texts)
    assert any("also in 1" in t for t in texts)  # the syndicated copy of story 0

    row = rows.filter(has_text="AI Act guidance published")
    row.get_by_test_id("alert-story-link").click()
    page.get_by_test_id("story-title").wait_for()
    assert page.get_by_test_id("story-title").inner_text().strip() == "AI Act guidance published"
    assert "DE" in page.get_by_test_id("story-entities").inner_text()
    assert page.get_by_test_id("story-topics").inner_text().strip()
    matched = page.get_by_test_id("story-matched-subscriptions")
    assert "EU AI Act" in matched.inner_text()
    assert matched.locator("em, mark").count() >= 1  # the matching terms are highlighted
    _no_script_ran(page)


def test_hostile_story_renders_as_inert_text(page: Any, site: Site) -> None:
    """A headline with <script> and an onerror handler, body HTML and a javascript: story URL show as plain text:
    no script runs (no flag, no dialog), no element carries a javascript: URL, on the alerts and the story page."""
    _log_in(page, site, site.app.tokens[OWNER])
    page.goto(site.url("/alerts"))
    hostile_row = page.get_by_test_id("alert-row").filter(has_text="<script>")
    assert hostile_row.count() == 1, page.get_by_test_id("alert-row").all_inner_texts()
    assert _javascript_links(page) == []
    _no_script_ran(page)

    page.goto(site.url(f"/stories/{site.data.hostile_story_id}"))
    title = page.get_by_test_id("story-title")
    title.wait_for()
    assert title.inner_text().strip() == HOSTILE_TITLE  # the markup is shown as the characters it is
    assert page.locator("img[src='x']").count() == 0
    assert _javascript_links(page) == []
    _no_script_ran(page)


def test_csp_blocks_inline_script_on_the_app_pages(page: Any, site: Site) -> None:
    """The pages carry a CSP without 'unsafe-inline' and frame denial; an inline script put into the page is
    blocked by Chromium (reported as a CSP violation; its flag stays unset)."""
    _log_in(page, site, site.app.tokens[OWNER])
    response = page.goto(site.url(f"/stories/{site.data.hostile_story_id}"))
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "script-src" in csp or "default-src" in csp
    assert "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'none'" in csp or headers.get("x-frame-options", "").upper() == "DENY"
    try:
        page.add_script_tag(content="window.__pwned = 'inline-probe';")
    except Exception as exc:  # noqa: BLE001 - Playwright may report the blocked tag; the checks below decide
        assert "Content Security Policy" in str(exc) or "violates" in str(exc), exc  # noqa: PT017 - it may not raise
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.events.csp_violations(), page.events.console


def test_pages_need_a_login_and_a_bad_token_is_refused(page: Any, site: Site) -> None:
    """Without a session every page leads to the login form and shows no data; a wrong token is refused there."""
    for path in ("/subscriptions", "/alerts", f"/stories/{site.data.hostile_story_id}"):
        page.goto(site.url(path))
        assert page.url == site.url("/login"), path
        assert "AI Act" not in page.content()
    page.get_by_test_id("login-token").fill("gwt_000000000000_not-a-real-token")
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("login-error").wait_for()
    assert page.url == site.url("/login")
    _no_script_ran(page)
