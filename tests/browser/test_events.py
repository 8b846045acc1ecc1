"""The events pages in a real headless Chromium, against a real uvicorn server and the real Elasticsearch.

Three events (tests/event_seed.py: the real EventAssigner writes them, the real stories bulk indexes their stories
with event ids). An analyst opens Events from the menu, sees them ordered by outlets with their languages, clicks
into the Paris summit and reads its coverage, the first report marked, then follows a story to its page and back
to the event.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from govwatch.adapters.es_io import make_client
from govwatch.settings import Settings
from tests import event_seed
from tests.browser._seed import OWNER
from tests.browser.webapp_client import WebApp, start_web_app


@dataclass
class EventSite:
    app: WebApp
    data: event_seed.Seeded

    def url(self, path: str) -> str:
        return f"{self.app.base_url}{path}"


@pytest.fixture
def event_site(initialized: Settings) -> Iterator[EventSite]:
    """The three events and their stories, and the app on 127.0.0.1 with a clock two days after them."""
    data = event_seed.seed(make_client(initialized.es_url), initialized.index_prefix)
    with start_web_app(initialized, now=event_seed.BASE + timedelta(days=2)) as app:
        yield EventSite(app, data)


def test_analyst_opens_events_clicks_into_one_and_sees_its_coverage(page: Any, event_site: EventSite) -> None:
    """Events menu -> list by outlets (summit first: 3 outlets, en and fr) -> the summit's page lists its three
    stories with outlets, Reuters marked as the first report -> a story page links back to the event."""
    site = event_site
    page.goto(site.url("/login"))
    page.get_by_test_id("login-token").fill(site.app.tokens[OWNER])
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r"/subscriptions"))

    page.get_by_role("link", name="Events", exact=True).click()
    page.wait_for_url(re.compile(r"/events$"))
    rows = page.get_by_test_id("event-row")
    rows.first.wait_for()
    ids = [rows.nth(i).get_attribute("data-event-id") for i in range(rows.count())]
    assert ids == [site.data.events["summit"], site.data.events["act"], site.data.events["chips"]]
    first = rows.first
    assert first.get_by_test_id("event-outlet-count").inner_text().strip() == "3"
    assert first.get_by_test_id("event-languages").inner_text().strip() == "en, fr"
    assert "Reuters" in first.get_by_test_id("event-outlets").inner_text()

    first.get_by_test_id("event-link").click()
    page.wait_for_url(re.compile(rf"/events/{site.data.events['summit']}$"))
    assert "Paris AI Action Summit" in page.get_by_test_id("event-title").inner_text()
    assert page.get_by_test_id("event-counts").inner_text().strip() == "3 stories in 3 outlets"
    coverage = page.get_by_test_id("coverage-row")
    assert coverage.count() == 3
    outlets = [coverage.nth(i).get_by_test_id("coverage-outlet").inner_text().strip() for i in range(3)]
    assert outlets == ["Reuters", "Wire Daily", "Le Monde"]
    assert coverage.first.get_by_test_id("first-report").is_visible()
    assert page.get_by_test_id("first-report").count() == 1
    assert "AI Action Summit" in page.get_by_test_id("event-entities").inner_text()
    assert "Summits and events" in page.get_by_test_id("event-topics").inner_text()

    coverage.nth(2).get_by_role("link", name=re.compile("Macron urges")).click()
    page.get_by_test_id("story-title").wait_for()
    assert page.get_by_test_id("story-source").inner_text().strip() == "Le Monde"
    page.get_by_test_id("story-event-link").click()
    page.wait_for_url(re.compile(rf"/events/{site.data.events['summit']}$"))
    assert page.events.errors == [] and page.events.dialogs == [] and page.events.csp_violations() == []
