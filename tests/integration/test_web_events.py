"""The events pages, the events API and ``govwatch events`` over real HTTP and the real Elasticsearch.

Three events (tests/event_seed.py) are assigned by the real EventAssigner and their stories indexed through the
real bulk path with their event ids; the app runs with a fixed clock two days later, so today's date changes
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from govwatch.adapters.es_io import make_client
from govwatch.alerts.ledger import AlertLedger, alert_id
from govwatch.cli import main
from govwatch.models import Alert
from govwatch.settings import Settings
from tests import event_seed
from tests.support.webapp import admin_settings, free_port, make_token, run_web_app

NOW = event_seed.BASE + timedelta(days=2)


@dataclass
class App:
    base_url: str
    settings: Settings
    seeded: event_seed.Seeded
    token: str
    admin: str

    def api(self, *, anonymous: bool = False) -> httpx.Client:
        headers = {} if anonymous else {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=f"{self.base_url}/api/v1", headers=headers, timeout=60)

    def session(self, token: str | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=60)
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        assert client.post("/login", data={"token": token or self.token, "csrf": csrf}).status_code == 303
        return client


@pytest.fixture
def app(initialized: Settings) -> Iterator[App]:
    seeded = event_seed.seed(make_client(initialized.es_url), initialized.index_prefix)
    settings, admin = admin_settings(initialized)
    token = make_token(settings, "alice")
    with run_web_app(settings, clock=lambda: NOW) as base_url:
        yield App(base_url, settings, seeded, token, admin)


def test_events_api_lists_by_outlets_with_languages_and_shows_one_event_with_its_coverage(app: App) -> None:
    """GET /api/v1/events orders the three events by outlets with their languages; GET /api/v1/events/{id} gives
    the summit's three stories, Reuters marked as the first report, with links, outlets, languages, entity names
    and topic labels."""
    ev = app.seeded.events
    with app.api() as api:
        listed = api.get("/events", params={"days": 7}).json()
        assert [e["event_id"] for e in listed["events"]] == [ev["summit"], ev["act"], ev["chips"]]
        summit = listed["events"][0]
        assert (summit["outlet_count"], summit["story_count"], summit["languages"]) == (3, 3, ["en", "fr"])
        assert listed["events"][1]["languages"] == ["de", "fr"]
        by_stories = api.get("/events", params={"order": "recent"}).json()["events"]
        assert [e["event_id"] for e in by_stories] == [ev["chips"], ev["act"], ev["summit"]]
        assert [e["event_id"] for e in api.get("/events", params={"limit": 1}).json()["events"]] == [ev["summit"]]
        one = api.get(f"/events/{ev['summit']}").json()
    assert one["first_seen"].startswith("2026-11-02T08:00")
    coverage = one["coverage"]
    assert [(c["outlet"], c["language"], c["first_report"]) for c in coverage] == [
        ("Reuters", "en", True), ("Wire Daily", "en", False), ("Le Monde", "fr", False)]
    assert coverage[0]["url"] == "https://news.example.org/summit-reuters" and all(c["indexed"] for c in coverage)
    assert {"id": "event.paris_ai_action_summit", "name": "AI Action Summit", "type": "event"} in one["entities"]
    assert one["topics"] == [{"id": "summits_events", "label": "Summits and events"}]


def test_events_api_refuses_bad_ids_and_arguments_and_anonymous_callers(app: App) -> None:
    """Ids that are not 64 lowercase hex characters, and unknown ids, are 404 without a lookup error; a days value
    outside the choices or a limit out of range is 422; no token is 401."""
    with app.api() as api:
        for bad in ("abc", "A" * 64, "a" * 65, "a" * 63 + "g", "..%2F..%2Fetc", "a" * 5000, "a" * 64 + "%0A"):
            assert api.get(f"/events/{bad}").status_code == 404, bad
        assert api.get(f"/events/{'0' * 64}").json() == {"detail": "no such event"}
        assert api.get("/events", params={"days": 2}).status_code == 422
        assert api.get("/events", params={"limit": 0}).status_code == 422
        assert api.get("/events", params={"order": "evil"}).status_code == 422
    with app.api(anonymous=True) as anonymous:
        assert anonymous.get("/events").status_code == 401


def test_events_pages_list_link_and_show_coverage_and_stories_link_back(app: App) -> None:
    """/events lists the events with outlets and languages and links each to its page; the event page marks the
    first report and lists every story; a story page links to its event; bad or unknown ids are 404 pages."""
    ev = app.seeded.events
    browser = app.session()
    try:
        listing = browser.get("/events")
        assert listing.status_code == 200
        rows = listing.text.split('data-testid="event-row"')[1:]
        assert [re.search(r'data-event-id="([0-9a-f]{64})"', r).group(1) for r in rows] == [
            ev["summit"], ev["act"], ev["chips"]]
        assert "Reuters" in rows[0] and "en, fr" in rows[0] and f'href="/events/{ev["summit"]}"' in rows[0]
        page = browser.get(f"/events/{ev['summit']}").text
        coverage = page.split('data-testid="coverage-row"')[1:]
        assert len(coverage) == 3 and 'data-testid="first-report"' in coverage[0] and "Reuters" in coverage[0]
        assert 'href="https://news.example.org/summit-lemonde"' in page and "AI Action Summit" in page
        reuters = app.seeded.stories["summit-reuters"].story_id
        story_page = browser.get(f"/stories/{reuters}").text
        assert f'href="/events/{ev["summit"]}"' in story_page
        assert browser.get("/events/not-an-id").status_code == 404
        assert browser.get(f"/events/{'0' * 64}").status_code == 404
    finally:
        browser.close()


def test_an_alert_links_to_its_event_on_the_alerts_page_and_in_the_api(app: App) -> None:
    """A ledger entry recorded with the story's event_id shows an event link on /alerts and event_id in
    GET /api/v1/alerts; an entry from before events (no event_id) shows no link and null."""
    story = app.seeded.stories["summit-lemonde"]
    ledger = AlertLedger(make_client(app.settings.es_url), app.settings.index("alert-ledger"))
    alerts = [Alert(alert_id=alert_id(sub, story.cluster_id), subscription_id=sub, subscription_name=sub,
                    story_id=story.story_id, cluster_id=story.cluster_id, title=story.title, url=story.raw.url,
                    source=story.raw.source, trace=story.trace, event_id=event)
              for sub, event in (("sub-events", app.seeded.events["summit"]), ("sub-old", None))]
    ledger.record(alerts, NOW)
    make_client(app.settings.es_url).indices.refresh(index=app.settings.index("alert-ledger"))
    browser = app.session(app.admin)
    try:
        rows = browser.get("/alerts").text.split('data-testid="alert-row"')[1:]
    finally:
        browser.close()
    linked = [r for r in rows if 'data-testid="alert-event-link"' in r]
    assert len(rows) == 2 and len(linked) == 1 and f'href="/events/{app.seeded.events["summit"]}"' in linked[0]
    with httpx.Client(base_url=f"{app.base_url}/api/v1", headers={"Authorization": f"Bearer {app.admin}"},
                      timeout=60) as api:
        by_sub = {a["subscription_id"]: a["event_id"] for a in api.get("/alerts").json()}
    assert by_sub == {"sub-events": app.seeded.events["summit"], "sub-old": None}


def test_events_read_when_elasticsearch_is_unreachable_is_a_clear_503(initialized: Settings) -> None:
    """With Elasticsearch unreachable the events API answers 503 with a message naming Elasticsearch, not a 500."""
    settings, admin = admin_settings(initialized.model_copy(update={"es_url": f"http://127.0.0.1:{free_port()}"}))
    with run_web_app(settings, clock=lambda: NOW) as base_url, httpx.Client(
            base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {admin}"}, timeout=120) as api:
        for path in ("/events", f"/events/{'0' * 64}"):
            answer = api.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert "Elasticsearch" in answer.json()["detail"]


def test_cli_lists_and_shows_events_with_clear_exit_codes(initialized: Settings, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`govwatch events list` prints the three events with their full ids, `show` the coverage with the first report
    starred; a malformed id exits 2, an unknown one 1."""
    seeded = event_seed.seed(make_client(initialized.es_url), initialized.index_prefix)
    monkeypatch.setenv("GOVWATCH_INDEX_PREFIX", initialized.index_prefix)
    monkeypatch.setenv("GOVWATCH_ES_URL", initialized.es_url)
    assert main(["events", "list", "--since", "2026-11-01T00:00Z", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 events seen since 2026-11-01 00:00Z")
    ids = re.findall(r"^    ([0-9a-f]{64})$", out, re.M)
    assert ids == [seeded.events["summit"], seeded.events["act"], seeded.events["chips"]]
    assert re.search(r"3 outlets\s+3 stories\s+en,fr\s+Paris AI Action Summit", out)
    assert main(["events", "show", seeded.events["act"]]) == 0
    shown = capsys.readouterr().out
    assert "2 stories in 2 outlets; languages: de, fr" in shown and "entities: AI Act, European Union" in shown
    starred = [line for line in shown.splitlines() if line.startswith("* ")]
    assert len(starred) == 1 and "Le Monde" in starred[0] and "Der Standard" in shown
    assert "https://news.example.org/act-standard" in shown
    assert main(["events", "show", "nope"]) == 2
    assert main(["events", "show", "f" * 64]) == 1
    assert "no event " + "f" * 64 in capsys.readouterr().err
