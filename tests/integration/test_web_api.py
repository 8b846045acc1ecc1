"""The web app over real HTTP (uvicorn on 127.0.0.1) against the real Elasticsearch and Kafka: the JSON API's
operations, query refusals, owner isolation, authentication and CSRF, security headers, escaping of hostile
stories, retry through the ledger, and that no secret ever appears in a response body.

Each test has its own index and topic prefix (the ``initialized`` fixture) and a fixed clock, so neither other tests
nor today's date change what it sees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from govwatch.adapters.es_io import make_client
from govwatch.adapters.story_index import bulk_index
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.matcher import fetch_stories, match_batch
from govwatch.alerts.store import SubscriptionStore
from govwatch.models import EntityRef, IndexedStory
from govwatch.settings import Settings
from govwatch.stages.alerter import build_alert
from govwatch_dev.slack_receiver import SlackReceiver
from tests.integration._alert_helpers import TEXTS, WEBHOOK, story, sub
from tests.support.webapp import SESSION_SECRET, admin_settings, make_token, run_web_app

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)  # stories were first seen on 30 Nov and 1 Dec (two monthly indices)
BOT_TOKEN = "xoxb-0000-SECRETBOTTOKEN"
HOSTILE_TITLE = 'AI Act <script>window.__pwned=1</script><img src=x onerror="alert(1)"> probe'
HOSTILE_URL = "javascript:alert('story-url')"
HOSTILE_N = 90
EXPECTED_CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
                "base-uri 'none'; form-action 'self'")


@dataclass
class Web:
    """A running app, its tokens, and every response body it sent (scanned for secrets at the end)."""

    base_url: str
    settings: Settings
    admin_token: str
    tokens: dict[str, str]
    bodies: list[str] = field(default_factory=list)
    clients: list[httpx.Client] = field(default_factory=list)

    def _record(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(response.text)
        self.bodies.append(json.dumps(dict(response.headers)))

    def api(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=f"{self.base_url}/api/v1", headers=headers, timeout=60,
                              event_hooks={"response": [self._record]})
        self.clients.append(client)
        return client

    def browser(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=60, event_hooks={"response": [self._record]})
        self.clients.append(client)
        return client

    def secrets(self) -> list[str]:
        token_hash = self.settings.web_admin_token_hash
        assert token_hash is not None
        return [WEBHOOK, "SECRETSECRET", BOT_TOKEN, "SECRETBOTTOKEN", self.admin_token,
                token_hash.get_secret_value(), token_hash.get_secret_value().split("$")[-1], SESSION_SECRET,
                *self.tokens.values()]


def _hostile() -> Any:  # noqa: ANN401 - EnrichedStory
    base = story(HOSTILE_N, HOSTILE_TITLE, "The AI Act probe <script>window.__pwned=2</script> continues.", "FR",
                 source="Hostile <b>Feed</b>")
    return base.model_copy(update={"raw": base.raw.model_copy(update={"url": HOSTILE_URL})})


def _seed(settings: Settings) -> dict[str, Any]:
    """Stories (with a syndicated copy and a hostile one), alice's and bob's subscriptions, alerts in the ledger."""
    es = make_client(settings)
    stories = [story(i, t, x, c, cluster=0 if i == 0 else None) for i, (t, x, c) in enumerate(TEXTS)]
    stories += [story(91, TEXTS[0][0], TEXTS[0][1], "BE", cluster=0, source="Second Outlet"), _hostile()]
    assert bulk_index(es, settings.index_prefix, stories) == {}
    store = SubscriptionStore(es, settings.index("subscriptions"))
    alice = store.add(sub("EU AI Act", '"AI Act"', owner="alice"))
    bob = store.add(sub("bob's NIST", "NIST", owner="bob"))
    alias = settings.index("stories")
    docs = fetch_stories(es, alias, [s.story_id for s in stories])
    by_id = {s.story_id: s for s in stories}
    order = {s.story_id: i for i, s in enumerate(stories)}
    alerts = []
    for s in (alice, bob):
        for m in sorted((m for m in match_batch(es, alias, [s], docs) if m.subscription_id == s.id),
                        key=lambda m: order[m.story_id]):
            st = by_id[m.story_id]
            alerts.append(build_alert(s, docs[m.story_id], m, IndexedStory(story_id=st.story_id,
                                                                           cluster_id=st.cluster_id, trace=st.trace)))
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    ledger.record(alerts, NOW - timedelta(hours=2))
    ids = {(a.subscription_id, a.story_id): a.alert_id for a in alerts}
    hostile = stories[-1].story_id
    dead = ids[(alice.id, hostile)]
    ledger.mark_failed(dead, "Slack answered 404: channel_not_found", attempts=1, permanent=True, at=NOW)
    ledger.mark_delivered(ids[(alice.id, stories[0].story_id)], NOW)
    es.indices.refresh(index=settings.index("alert-ledger"))
    return {"alice": alice, "bob": bob, "hostile": hostile, "dead": dead, "guidance": stories[1].story_id,
            "bob_alert": ids[(bob.id, stories[3].story_id)]}


@pytest.fixture
def web(initialized: Settings) -> Iterator[Web]:  # the app on 127.0.0.1; afterwards, no secret in any body
    with SlackReceiver() as receiver:
        settings, admin = admin_settings(initialized, slack_api_base=receiver.api_base)
        tokens = {"alice": make_token(settings, "alice"), "bob": make_token(settings, "bob")}
        with run_web_app(settings, clock=lambda: NOW) as base_url:
            app = Web(base_url, settings, admin, tokens)
            app.receiver = receiver  # type: ignore[attr-defined]
            yield app
            for client in app.clients:
                client.close()
    leaked = [s for s in app.secrets() for body in app.bodies if s and s in body]
    assert leaked == [], f"secrets in response bodies: {sorted(set(leaked))}"
    assert app.bodies  # the scan had something to scan


def _login(web: Web, token: str) -> tuple[httpx.Client, str]:
    """A cookie session made through the login form; returns the client and a page's CSRF token."""
    client = web.browser()
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    done = client.post("/login", data={"token": token, "csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == "/subscriptions"
    page = client.get("/subscriptions")
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_api_create_edit_pause_resume_preview_delete(web: Web) -> None:
    """Through /api/v1 an owner creates (secret in), reads it masked, edits, pauses, resumes, previews, deletes."""
    _seed(web.settings)
    api = web.api(web.tokens["alice"])
    made = api.post("/subscriptions", json={"name": "fines", "query": '"AI Act" AND fine',
                                            "filters": {"countries": ["FR"]}, "mode": "daily",
                                            "destination": {"webhook_url": WEBHOOK}})
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    assert made.json()["owner"] == "alice" and made.json()["destination"] == "webhook https://hooks.slack.com/****"
    edited = api.patch(f"/subscriptions/{sid}", json={"query": '"AI Act" AND (fine OR guidance)',
                                                      "destination": {"bot_token": BOT_TOKEN, "channel": "#gov"}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["query"] == '"AI Act" AND (fine OR guidance)'
    assert edited.json()["destination"] == "bot xoxb-**** -> #gov" and edited.json()["filters"]["countries"] == ["FR"]
    stored = SubscriptionStore(make_client(web.settings), web.settings.index("subscriptions")).get(sid)
    assert stored.destination.bot_token.get_secret_value() == BOT_TOKEN  # type: ignore[union-attr]
    assert api.post(f"/subscriptions/{sid}/pause").json()["paused"] is True
    resumed = api.post(f"/subscriptions/{sid}/resume").json()
    assert resumed["subscription"]["paused"] is False and resumed["released"] == 0 and resumed["error"] is None

    preview = api.post("/preview", json={"query": '"AI Act"', "days": 30, "top": 3})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert len(body["per_day"]) == 30 and body["per_day"][-1]["day"] == "2026-12-02"
    assert body["total"] == sum(d["count"] for d in body["per_day"]) == 4  # stories 0, 1, the copy, the hostile one
    assert len(body["top"]) == 3 and all("<em>" in m["snippet_marked"] for m in body["top"])
    assert all("<em>" not in m["snippet"] for m in body["top"])
    listed = {s["id"]: s for s in api.get("/subscriptions").json()}
    assert set(listed) == {sid, _alice_id(web)} and listed[_alice_id(web)]["alerts_last_7_days"] == 3
    assert api.delete(f"/subscriptions/{sid}").status_code == 204
    assert api.get(f"/subscriptions/{sid}").status_code == 404
    # Refused input is reported without being echoed (FastAPI's default 422 would quote the webhook URL).
    refused = api.post("/subscriptions", json={"name": "", "query": "x", "destination": {"webhook_url": WEBHOOK}})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "name"]
    insecure = WEBHOOK.replace("https://", "http://")
    refused = api.post("/subscriptions", json={"name": "n", "query": "x", "destination": {"webhook_url": insecure}})
    assert refused.status_code == 422 and "https://" in refused.json()["detail"]


def _alice_id(web: Web) -> str:
    return SubscriptionStore(make_client(web.settings), web.settings.index("subscriptions")).get("EU AI Act").id


@pytest.mark.parametrize(("query", "words"), [('"AI Act" AND (', "query is incomplete at column 14"),
                                              ("*act", "leading wildcard '*act' at column 0"),
                                              ("/ai.*/ OR act", "regular expression")])
def test_invalid_and_expensive_queries_are_refused_with_the_reason(web: Web, query: str, words: str) -> None:
    """The check says why (and where); create and preview refuse the same query with the same message."""
    api = web.api(web.tokens["alice"])
    checked = api.post("/query/check", json={"query": query})
    assert checked.status_code == 200 and checked.json()["ok"] is False and words in checked.json()["error"]
    if "column" in words:
        assert checked.json()["column"] == int(words.rsplit(" ", 1)[-1])
    made = api.post("/subscriptions", json={"name": "x", "query": query, "destination": {"webhook_url": WEBHOOK}})
    assert made.status_code == 422 and words in made.json()["detail"]
    preview = api.post("/preview", json={"query": query})
    assert preview.status_code == 422 and words in preview.json()["detail"]
    assert api.get("/subscriptions").json() == []
    assert api.post("/query/check", json={"query": '"AI Act" AND fine'}).json() == {"ok": True, "error": None,
                                                                                  "column": None}


def test_owners_see_and_change_only_their_own(web: Web) -> None:
    """Bob gets 404 (not 403) for each operation on Alice's subscription and sees none of her alerts; the admin
    sees both owners' subscriptions."""
    seeded = _seed(web.settings)
    alice_id, bob_id = seeded["alice"].id, seeded["bob"].id
    alice, bob, admin = web.api(web.tokens["alice"]), web.api(web.tokens["bob"]), web.api(web.admin_token)
    assert [s["id"] for s in bob.get("/subscriptions").json()] == [bob_id]
    assert [s["id"] for s in alice.get("/subscriptions").json()] == [alice_id]
    for method, path, kwargs in (("GET", f"/subscriptions/{alice_id}", {}),
                                 ("PATCH", f"/subscriptions/{alice_id}", {"json": {"query": "NIST"}}),
                                 ("POST", f"/subscriptions/{alice_id}/pause", {}),
                                 ("POST", f"/subscriptions/{alice_id}/test", {}),
                                 ("DELETE", f"/subscriptions/{alice_id}", {}),
                                 ("GET", f"/alerts?subscription={alice_id}", {}),
                                 ("POST", f"/alerts/{seeded['dead']}/retry", {})):
        response = bob.request(method, path, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
    assert alice.get(f"/subscriptions/{bob_id}").status_code == 404
    assert {a["subscription_id"] for a in bob.get("/alerts").json()} == {bob_id}
    assert {a["subscription_id"] for a in alice.get("/alerts").json()} == {alice_id}
    story = bob.get(f"/stories/{seeded['guidance']}").json()
    assert story["matched_subscriptions"] == [] and story["alerts"] == []
    stored = SubscriptionStore(make_client(web.settings), web.settings.index("subscriptions")).get(alice_id)
    assert stored.query == '"AI Act"' and not stored.paused  # nothing Bob sent changed it
    assert {s["id"] for s in admin.get("/subscriptions").json()} == {alice_id, bob_id}
    assert admin.get("/whoami").json() == {"owner": "admin", "admin": True}
    # An owner cannot file a subscription under someone else; the admin can.
    made = bob.post("/subscriptions", json={"name": "n", "query": "NIST", "owner": "alice",
                                            "destination": {"webhook_url": WEBHOOK}})
    assert made.status_code == 201 and made.json()["owner"] == "bob"
    given = admin.post("/subscriptions", json={"name": "n2", "query": "NIST", "owner": "carol",
                                               "destination": {"webhook_url": WEBHOOK}})
    assert given.status_code == 201 and given.json()["owner"] == "carol"


def test_everything_needs_authentication_and_the_api_ignores_cookies(web: Web) -> None:
    """Only /login, /healthz and static files answer without credentials; a logged-in browser's cookie alone does
    not open the API (bearer only); wrong tokens are refused; the session cookie is HttpOnly and SameSite=Lax."""
    anon = web.browser()
    assert anon.get("/healthz").json() == {"status": "ok"}
    assert anon.get("/static/app.js").status_code == 200
    assert anon.get("/login").status_code == 200
    for path in ("/", "/subscriptions", "/subscriptions/new", "/alerts", "/stories/" + "0" * 64):
        response = anon.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    for path in ("/subscriptions", "/openapi.json", "/whoami", "/alerts"):
        assert web.api(None).get(path).status_code == 401
        assert web.api("gwt_000000000000_wrong").get(path).status_code == 401
        assert web.api("not-the-admin-token").get(path).status_code == 401

    session = web.browser()
    csrf = re.search(r'name="csrf" value="([^"]+)"', session.get("/login").text).group(1)
    login = session.post("/login", data={"token": web.tokens["alice"], "csrf": csrf})
    set_cookie = login.headers["set-cookie"].lower()
    assert "gw_session=" in set_cookie and "httponly" in set_cookie and "samesite=lax" in set_cookie
    cookie = next(h for h in session.cookies.jar if h.name == "gw_session")
    assert session.get("/subscriptions").status_code == 200
    assert session.get("/api/v1/subscriptions").status_code == 401  # the cookie alone: refused
    assert session.post("/api/v1/subscriptions", json={"name": "x", "query": "NIST",
                                                       "destination": {"webhook_url": WEBHOOK}}).status_code == 401
    forged = web.browser()
    forged.cookies.set("gw_session", cookie.value[:-3] + "AAA")
    assert forged.get("/subscriptions").status_code == 303
    bad = web.browser()
    csrf = re.search(r'name="csrf" value="([^"]+)"', bad.get("/login").text).group(1)
    assert bad.post("/login", data={"token": "wrong", "csrf": csrf}).status_code == 401
    spec = web.api(web.tokens["alice"]).get("/openapi.json")
    assert (spec.status_code == 200 and "/subscriptions/{key}" in spec.json()["paths"]
            and "/preview" in spec.json()["paths"])


def test_session_cookie_is_secure_over_https(web: Web) -> None:
    """X-Forwarded-Proto: https counts only from a proxy in GOVWATCH_WEB_TRUSTED_PROXIES (uvicorn's own trust of
    127.0.0.1 is off): then the session cookie is Secure and HSTS is sent; from anyone else nothing changes."""
    https = {"X-Forwarded-Proto": "https"}
    ignored = web.browser().get("/login", headers=https)
    assert "secure" not in ignored.headers["set-cookie"].lower() and "strict-transport-security" not in ignored.headers
    proxied = web.settings.model_copy(update={"web_trusted_proxies": ["127.0.0.1/32"]})
    with run_web_app(proxied, clock=lambda: NOW) as base_url, httpx.Client(base_url=base_url) as client:
        form = client.get("/login", headers=https)
        assert "; secure" in form.headers["set-cookie"].lower()
        assert form.headers["strict-transport-security"].startswith("max-age=")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        # httpx (rightly) keeps a Secure cookie off this plain-http hop; the proxy would pass it: send it by hand.
        cookie = form.headers["set-cookie"].split(";")[0]
        login = client.post("/login", data={"token": web.tokens["alice"], "csrf": csrf},
                            headers={**https, "Cookie": cookie})
        assert login.status_code == 303 and "; secure" in login.headers["set-cookie"].lower()


def test_trusted_proxy_header_only_when_enabled(initialized: Settings) -> None:
    """With GOVWATCH_WEB_TRUSTED_PROXY_HEADER set, pages take the proxy's user (CSRF still checked; no admin
    rights; never for the API); without it the same header is ignored."""
    settings, _ = admin_settings(initialized)
    SubscriptionStore(make_client(settings), settings.index("subscriptions")).add(sub("mine", "NIST", owner="dora"))
    user = {"X-Remote-User": "dora"}
    with run_web_app(settings, clock=lambda: NOW) as base_url, httpx.Client(base_url=base_url) as client:
        assert client.get("/subscriptions", headers=user).status_code == 303  # not enabled: ignored
    proxied = settings.model_copy(update={"web_trusted_proxy_header": "X-Remote-User"})
    with run_web_app(proxied, clock=lambda: NOW) as base_url, httpx.Client(base_url=base_url) as client:
        page = client.get("/subscriptions", headers=user)
        assert page.status_code == 200 and ">mine</a>" in page.text and "(admin)" not in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        form = {"name": "via proxy", "query": "Ofcom", "webhook_url": WEBHOOK, "action": "save"}
        assert client.post("/subscriptions/new", data=form, headers=user).status_code == 403
        assert client.post("/subscriptions/new", data={**form, "csrf": csrf}, headers=user).status_code == 303
        other = {"X-Remote-User": "eve"}
        assert client.post("/subscriptions/new", data={**form, "csrf": csrf}, headers=other).status_code == 403
        assert client.get("/api/v1/subscriptions", headers=user).status_code == 401
    made = SubscriptionStore(make_client(settings), settings.index("subscriptions")).get("via proxy")
    assert made.owner == "dora"


def test_every_route_refuses_anonymous_requests(web: Web) -> None:
    """Each route the app declares (pages and API, every method) refuses a request without credentials, except
    /login and /healthz: the gate guards routes added later too."""
    from govwatch.web import pages, subscription_pages
    from govwatch.web.api import build_api

    def concrete(path: str) -> str:
        return re.sub(r"\{[a-z_]+\}", "a" * 64, path)

    anon, checked = web.browser(), 0
    for route in [*pages.router.routes, *subscription_pages.router.routes]:
        for method in sorted(route.methods - {"HEAD"}):
            response = anon.request(method, concrete(route.path))
            if route.path in ("/login", "/healthz"):
                assert response.status_code in (200, 403), (method, route.path)  # POST /login: no CSRF cookie
                continue
            assert response.status_code in ((303,) if method == "GET" else (403,)), (method, route.path)
            checked += 1
    for route in build_api().routes:
        for method in sorted(getattr(route, "methods", set()) - {"HEAD"}):
            assert anon.request(method, "/api/v1" + concrete(route.path)).status_code == 401, (method, route.path)
            checked += 1
    assert checked >= 25


def test_forms_refuse_posts_without_the_csrf_token(web: Web) -> None:
    """Every unsafe page request needs the session's CSRF token (login: the login form's); refused ones change
    nothing."""
    _seed(web.settings)
    session, csrf = _login(web, web.tokens["alice"])
    form = {"name": "no-csrf", "query": "NIST", "webhook_url": WEBHOOK, "action": "save"}
    assert session.post("/subscriptions/new", data=form).status_code == 403
    assert session.post("/subscriptions/new", data={**form, "csrf": "forged"}).status_code == 403
    alice_id = _alice_id(web)
    assert session.post(f"/subscriptions/{alice_id}/delete", data={}).status_code == 403
    assert session.post(f"/subscriptions/{alice_id}/pause", data={"csrf": ""}).status_code == 403
    assert session.post("/logout").status_code == 403
    store = SubscriptionStore(make_client(web.settings), web.settings.index("subscriptions"))
    assert {s.name for s in store.list()} == {"EU AI Act", "bob's NIST"} and not store.get(alice_id).paused
    login_without = web.browser()
    assert login_without.post("/login", data={"token": web.tokens["alice"]}).status_code == 403
    # The same posts with the token work: the refusal above was the CSRF check.
    saved = session.post("/subscriptions/new", data={**form, "csrf": csrf})
    assert saved.status_code == 303 and store.get("no-csrf").owner == "alice"
    assert session.post(f"/subscriptions/{alice_id}/pause", data={"csrf": csrf}).status_code == 303
    assert store.get(alice_id).paused


def test_security_headers_on_every_kind_of_response(web: Web) -> None:
    """CSP without inline script, frame denial, nosniff and a referrer policy on pages, API, static, errors."""
    session, _ = _login(web, web.tokens["alice"])
    api = web.api(web.tokens["alice"])
    responses = [web.browser().get("/login"), web.browser().get("/healthz"), web.browser().get("/static/app.css"),
                 web.browser().get("/alerts"), session.get("/subscriptions"), session.get("/stories/" + "f" * 64),
                 session.post("/subscriptions/new", data={}), api.get("/subscriptions"), web.api(None).get("/whoami"),
                 api.get("/subscriptions/nope")]
    for response in responses:
        headers = response.headers
        assert headers["content-security-policy"] == EXPECTED_CSP, response.url
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_hostile_story_renders_escaped_and_unlinked(web: Web) -> None:
    """A <script> headline, markup in the source and text, and a javascript: URL are shown as text on the alerts and
    story pages: no element is created from them and no href carries the javascript: URL; the API gives url null."""
    seeded = _seed(web.settings)
    session, _ = _login(web, web.tokens["alice"])
    for path in ("/alerts", f"/stories/{seeded['hostile']}"):
        page = session.get(path)
        assert page.status_code == 200
        assert "<script>window" not in page.text and "<img src=x" not in page.text and "<b>Feed" not in page.text
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page.text
        assert not re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", page.text, re.I)
        assert page.text.count("<script") == 1 and '<script src="/static/app.js" defer></script>' in page.text
    story_page = session.get(f"/stories/{seeded['hostile']}").text
    assert "javascript:alert(&#39;story-url&#39;)</span>" in story_page  # shown as text
    assert "<mark>AI</mark> <mark>Act</mark>" in story_page  # the subscription's terms, highlighted safely
    story = web.api(web.tokens["alice"]).get(f"/stories/{seeded['hostile']}").json()
    assert story["url"] is None and story["title"] == HOSTILE_TITLE
    hostile_alert = next(a for a in web.api(web.tokens["alice"]).get("/alerts").json()
                         if a["story_id"] == seeded["hostile"])
    assert hostile_alert["url"] is None and hostile_alert["status"] == "dead_lettered"


def test_alerts_page_and_story_explanation(web: Web) -> None:
    """Alerts newest first with delivery state, dead-letter reason and "also in"; the story page names entities,
    topics, the cluster copy and the matching subscription with its terms highlighted."""
    seeded = _seed(web.settings)
    session, _ = _login(web, web.tokens["alice"])
    alerts = session.get(f"/alerts?subscription={seeded['alice'].id}").text
    rows = alerts.split('data-testid="alert-row"')[1:]
    assert len(rows) == 3
    assert any("dead-lettered" in r and "channel_not_found" in r and "alert-retry" in r for r in rows)
    assert any("delivered" in r and "also in 1 outlet" in r for r in rows)
    link = re.search(r'href="/stories/([0-9a-f]{64})"[^>]*>' + re.escape(TEXTS[0][0]), alerts)
    page = session.get(f"/stories/{link.group(1)}").text
    assert 'data-testid="story-entities"' in page and ">FR<" in page and "compliance_enforcement" in page
    assert "Second Outlet" in page  # the cluster copy
    matched = page.split('data-testid="story-matched-subscriptions"')[1]
    assert "EU AI Act" in matched and "<mark>" in matched


def test_story_page_lists_subjects_and_the_sources_cited_apart_and_the_api_carries_roles(web: Web) -> None:
    """A story about Meta citing TechCrunch: the page's entity list names Meta (not TechCrunch), a "Sources cited"
    line names TechCrunch (a story citing none says so), and the API's story JSON gives each entity its role."""
    meta = EntityRef(id="Q380", name="Meta Platforms", type="org", qid="Q380")
    techcrunch = EntityRef(id="org.techcrunch", name="TechCrunch", type="org", role="source")
    base = story(92, "Meta asks for camera-roll access", "Meta asks for the camera roll, TechCrunch reported.", "US")
    cited = base.model_copy(update={"entities": [meta, techcrunch]})
    assert bulk_index(make_client(web.settings), web.settings.index_prefix, [cited]) == {}
    session, _ = _login(web, web.tokens["alice"])
    page = session.get(f"/stories/{cited.story_id}").text
    subjects = page.split('data-testid="story-entities"')[1].split("</ul>")[0]
    assert ">Meta Platforms<" in subjects and "TechCrunch" not in subjects
    sources = page.split('data-testid="story-sources-cited"')[1].split("</p>")[0]
    assert "Sources cited:" in sources and ">TechCrunch<" in sources and "Meta" not in sources
    data = web.api(web.tokens["alice"]).get(f"/stories/{cited.story_id}").json()
    assert [(e["name"], e["role"]) for e in data["entities"]] == [("Meta Platforms", "subject"),
                                                                 ("TechCrunch", "source")]
    plain = story(93, "Ofcom opens probe", "Ofcom opened a probe.", "GB")  # no source cited
    assert bulk_index(make_client(web.settings), web.settings.index_prefix, [plain]) == {}
    none_cited = session.get(f"/stories/{plain.story_id}").text.split('data-testid="story-sources-cited"')[1]
    assert "none named" in none_cited.split("</p>")[0]


def test_retry_reopens_a_dead_letter_and_queues_it_for_the_notifier(web: Web) -> None:
    """Retry goes through the ledger's re-open (dead_lettered -> failed) and produces the stored alert again to the
    alerts topic with its usual key; a delivered alert is not retried."""
    from kafka import KafkaConsumer, TopicPartition

    from govwatch.adapters.kafka_io import client_config
    from govwatch.adapters.kafka_topics import ALERTS

    seeded = _seed(web.settings)
    topic = web.settings.topic(ALERTS)
    consumer = KafkaConsumer(**client_config(web.settings), group_id=None, enable_auto_commit=False,
                             consumer_timeout_ms=20_000)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_end(*parts)
        start = {tp: consumer.position(tp) for tp in parts}
        api = web.api(web.tokens["alice"])
        done = api.post(f"/alerts/{seeded['dead']}/retry")
        assert done.status_code == 200 and done.json()["outcome"] == "re-opened and queued for delivery"
        entry = AlertLedger(make_client(web.settings), web.settings.index("alert-ledger")).get(seeded["dead"])
        assert entry["status"] == "failed" and entry["attempts"] == 0
        assert "replayed from the DLQ; was: Slack answered 404" in entry["last_error"]
        got = next(iter(consumer))  # the first record after the end offsets taken before the retry
        assert got.offset >= start[TopicPartition(got.topic, got.partition)]
        assert got.key == seeded["alice"].id.encode() and json.loads(got.value)["alert_id"] == seeded["dead"]
    finally:
        consumer.close()
    delivered = next(a for a in api.get("/alerts").json() if a["status"] == "delivered")
    again = api.post(f"/alerts/{delivered['alert_id']}/retry")
    assert again.status_code == 409 and "delivered" in again.json()["detail"]


def test_send_test_message_and_plain_form_flow(web: Web) -> None:
    """Without JavaScript: preview by form post (matches listed), save, see it listed, send a test message (it
    reaches the Slack-compatible receiver), pause; the page never shows the webhook URL back."""
    _seed(web.settings)
    receiver: SlackReceiver = web.receiver  # type: ignore[attr-defined]
    hook = receiver.webhook_url("T111/B111/SECRETSECRET")
    session, csrf = _login(web, web.tokens["alice"])
    form = {"csrf": csrf, "name": "guidance watch", "query": '"AI Act" AND guidance', "webhook_url": hook,
            "days": "30"}
    preview = session.post("/subscriptions/new", data={**form, "action": "preview"})
    assert preview.status_code == 200 and preview.text.count('data-testid="preview-match"') == 1
    assert "AI Act guidance published" in preview.text and 'data-testid="query-error"' not in preview.text
    saved = session.post("/subscriptions/new", data={**form, "action": "save"})
    assert saved.status_code == 303
    sid = saved.headers["location"].split("/")[-1].split("?")[0]
    listed = session.get("/subscriptions").text
    assert f'data-testid="sub-row" data-sub-id="{sid}"' in listed and "webhook http://127.0.0.1/****" in listed
    tested = session.post(f"/subscriptions/{sid}/test", data={"csrf": csrf})
    assert tested.status_code == 200 and "Test message sent to webhook http://127.0.0.1/****" in tested.text
    sent = [r for r in receiver.deliveries if r.path.startswith("/services/")]
    assert len(sent) == 1 and "guidance watch" in json.dumps(sent[0].payload)
    assert session.post(f"/subscriptions/{sid}/pause", data={"csrf": csrf}).status_code == 303
    view = session.get(f"/subscriptions/{sid}").text
    assert 'data-testid="sub-resume"' in view and 'data-testid="sub-pause"' not in view
    bad = session.post("/subscriptions/check", data={"csrf": csrf, "query": "?ct AND ai"}).json()
    assert bad["ok"] is False and "leading wildcard" in bad["error"] and bad["column"] == 0


def test_a_token_stored_with_the_old_pbkdf2_hash_works_once_and_is_rehashed(initialized: Settings) -> None:
    """Migration: a per-user token whose stored hash is the old PBKDF2 form still authenticates, and its record in
    Elasticsearch is rewritten to the fast sha256 form; a new token is stored as sha256 from the start."""
    from govwatch.web.auth import hash_password, new_token

    settings, _ = admin_settings(initialized)
    es = make_client(settings)
    index = settings.index("web-tokens")
    token_id, token = new_token()
    es.create(index=index, id=token_id, refresh="wait_for",
              document={"token_id": token_id, "owner": "olga", "admin": False, "hash": hash_password(token),
                        "created_at": NOW.isoformat(), "revoked": False})
    fresh = make_token(settings, "nina")
    assert es.get(index=index, id=fresh.split("_")[1])["_source"]["hash"].startswith("sha256$")
    with run_web_app(settings, clock=lambda: NOW) as base_url, httpx.Client(base_url=base_url) as client:
        who = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        assert who.status_code == 200 and who.json()["owner"] == "olga"
    assert es.get(index=index, id=token_id)["_source"]["hash"].startswith("sha256$")
    with run_web_app(settings, clock=lambda: NOW) as base_url, httpx.Client(base_url=base_url) as client:
        assert client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json()["owner"] == "olga"
