"""The web app against hostile clients, through the real app and gate (Starlette's TestClient, no server):
failed-authentication limits per address and globally (429 with Retry-After before any hashing), the client
address taken from trusted proxies only, Secure cookies and HSTS behind an https proxy, body caps, and malformed
input answered with a 4xx instead of a 500. Elasticsearch is never reached on these paths (the settings point at
a closed port)."""

from __future__ import annotations

import re
import secrets
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

with warnings.catch_warnings():  # Starlette 1.x would like `httpx2`; its TestClient works the same on httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from govwatch.settings import Settings
from govwatch.web.app import create_app
from govwatch.web.auth import Authenticator, hash_password, hash_token

ADMIN_TOKEN = secrets.token_urlsafe(32)
ATTACKER = ("203.0.113.7", 40000)
PROXY = ("10.1.2.3", 40000)
FAST = 1_000  # PBKDF2 iterations of a legacy hash in these tests


def _settings(**extra: Any) -> Settings:  # noqa: ANN401
    values: dict[str, Any] = {"es_url": "http://127.0.0.1:9",
                              "web_session_secret": SecretStr(secrets.token_urlsafe(48)),
                              "web_admin_token_hash": SecretStr(hash_token(ADMIN_TOKEN)),
                              "web_auth_failures_per_minute": 5, "web_auth_failures_global_per_minute": 50}
    values.update(extra)
    return Settings(_env_file=None, **values)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the app tried to verify (where hashing and Elasticsearch reads happen)."""
    seen: list[str] = []
    original = Authenticator.authenticate

    def counting(self: Authenticator, token: str) -> Any:  # noqa: ANN401
        seen.append(token)
        return original(self, token)

    monkeypatch.setattr(Authenticator, "authenticate", counting)
    return seen


def _client(settings: Settings | None = None, client: tuple[str, int] = ATTACKER) -> TestClient:
    return TestClient(create_app(settings or _settings()), client=client, follow_redirects=False)


def _login_csrf(client: TestClient, **headers: str) -> str:
    page = client.get("/login", headers=headers)
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_wrong_logins_are_refused_with_429_before_any_hashing(calls: list[str]) -> None:
    """After the per-address budget, wrong logins get 429 with Retry-After and the token is never verified."""
    client = _client()
    csrf = _login_csrf(client)
    answers = [client.post("/login", data={"token": f"wrong-{i}", "csrf": csrf}) for i in range(30)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses
    assert len(calls) == 5  # the 25 refused attempts never reached the token check
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1 and "too many failed sign-in attempts" in refused.text
    assert refused.headers["content-security-policy"]  # the gate's headers on refusals too


def test_a_successful_login_does_not_count_and_other_addresses_are_not_limited(calls: list[str]) -> None:
    """Successes give their attempt back; a second address has its own budget; sessions are never limited."""
    app = create_app(_settings())
    attacker = TestClient(app, client=ATTACKER, follow_redirects=False)
    csrf = _login_csrf(attacker)
    for _ in range(6):
        attacker.post("/login", data={"token": "wrong", "csrf": csrf})
    assert attacker.post("/login", data={"token": "wrong", "csrf": csrf}).status_code == 429
    user = TestClient(app, client=("198.51.100.20", 5000), follow_redirects=False)
    for _ in range(10):  # ten good logins from one address: more than the budget, none refused
        done = user.post("/login", data={"token": ADMIN_TOKEN, "csrf": _login_csrf(user)})
        assert done.status_code == 303, done.text
    assert user.get("/login").status_code == 200
    before = len(calls)
    assert attacker.post("/login", data={"token": ADMIN_TOKEN, "csrf": csrf}).status_code == 429
    assert len(calls) == before


def test_bearer_failures_are_limited_but_a_verified_token_keeps_working(calls: list[str]) -> None:
    """Unknown bearer tokens from one address: 401 five times, then 429 without verification. A token that verified
    before passes the limit even from that address (it is no guess)."""
    client = _client()
    assert client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    statuses = [client.get("/api/v1/whoami", headers={"Authorization": f"Bearer guess-{i}"}).status_code
                for i in range(12)]
    assert statuses == [401] * 5 + [429] * 7
    refused = client.get("/api/v1/whoami", headers={"Authorization": "Bearer guess-x"})
    assert refused.json()["detail"].startswith("too many failed") and refused.headers["retry-after"]
    assert client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()["admin"] is True
    assert len(calls) == 1 + 5 + 1
    assert client.get("/api/v1/whoami").status_code == 401  # no token at all: plain 401, nothing to limit


def test_the_global_cap_stops_many_addresses(calls: list[str]) -> None:
    """Failures from many addresses together stop at the global budget."""
    app = create_app(_settings(web_auth_failures_per_minute=3, web_auth_failures_global_per_minute=10))
    statuses = []
    for n in range(8):
        client = TestClient(app, client=(f"192.0.2.{n + 1}", 1000))
        statuses += [client.get("/api/v1/whoami", headers={"Authorization": f"Bearer g{i}"}).status_code
                     for i in range(3)]
    assert statuses.count(401) == 10 and statuses.count(429) == 14 and len(calls) == 10


def test_legacy_pbkdf2_admin_hash_still_works_and_refusals_never_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin hash made before (PBKDF2) still signs the admin in; PBKDF2 runs once per allowed attempt only."""
    import hashlib

    runs = []
    original = hashlib.pbkdf2_hmac

    def counting(*args: Any, **kwargs: Any) -> bytes:  # noqa: ANN401
        runs.append(1)
        return original(*args, **kwargs)

    settings = _settings(web_admin_token_hash=SecretStr(hash_password(ADMIN_TOKEN, iterations=FAST)))
    monkeypatch.setattr("govwatch.web.auth.hashlib.pbkdf2_hmac", counting)
    client = _client(settings)
    assert client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    for i in range(40):
        client.get("/api/v1/whoami", headers={"Authorization": f"Bearer guess-{i}"})
    assert len(runs) == 1 + 5


def test_client_address_comes_from_trusted_proxies_only(calls: list[str]) -> None:
    """Behind a trusted proxy each X-Forwarded-For address has its own budget; from anyone else the header is
    ignored, so rotating it does not escape the limit."""
    settings = _settings(web_trusted_proxies=["10.0.0.0/8"])
    app = create_app(settings)
    direct = TestClient(app, client=ATTACKER)
    statuses = [direct.get("/api/v1/whoami", headers={"Authorization": f"Bearer g{i}",
                                                       "X-Forwarded-For": f"198.51.100.{i}"}).status_code
                for i in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    proxied = TestClient(app, client=PROXY)
    statuses = [proxied.get("/api/v1/whoami", headers={"Authorization": f"Bearer g{i}",
                                                        "X-Forwarded-For": f"6.6.6.6, 198.51.100.{i}"}).status_code
                for i in range(8)]
    assert statuses == [401] * 8  # eight real clients behind the proxy, one failure each
    # The client spoofs an address to the left of what our proxy appended: the proxy's entry wins.
    spoofed = [proxied.get("/api/v1/whoami", headers={"Authorization": f"Bearer s{i}",
                                                       "X-Forwarded-For": f"192.0.2.{i}, 203.0.113.99"}).status_code
               for i in range(7)]
    assert spoofed == [401] * 5 + [429] * 2


def test_secure_cookie_and_hsts_only_behind_a_trusted_https_proxy_or_an_https_public_url() -> None:
    """X-Forwarded-Proto: https from a trusted proxy, or GOVWATCH_WEB_PUBLIC_URL=https://…, make the session
    cookie Secure and add HSTS; the same header from anyone else changes nothing."""
    https = {"X-Forwarded-Proto": "https"}
    untrusted = _client(_settings(web_trusted_proxies=["10.0.0.0/8"]))
    page = untrusted.get("/login", headers=https)
    assert "secure" not in page.headers["set-cookie"].lower() and "strict-transport-security" not in page.headers
    trusted = _client(_settings(web_trusted_proxies=["10.0.0.0/8"]), client=PROXY)
    page = trusted.get("/login", headers=https)
    assert "; secure" in page.headers["set-cookie"].lower()
    assert page.headers["strict-transport-security"].startswith("max-age=")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    # The client keeps a Secure cookie off this plain-http hop; the proxy would pass it: send it by hand.
    cookie = page.headers["set-cookie"].split(";")[0]
    done = trusted.post("/login", data={"token": ADMIN_TOKEN, "csrf": csrf}, headers={**https, "Cookie": cookie})
    assert done.status_code == 303 and "; secure" in done.headers["set-cookie"].lower()
    public = _client(_settings(web_public_url="https://govwatch.example.org"))
    page = public.get("/healthz")
    assert page.headers["strict-transport-security"]
    assert "; secure" in public.get("/login").headers["set-cookie"].lower()


def test_non_ascii_csrf_cookie_signature_and_bearer_are_refusals_not_500() -> None:
    """Non-ASCII in the CSRF field, the login cookie, the session cookie's signature or payload, or a bearer token
    gets a 4xx with a message (these raised TypeError in compare_digest: HTTP 500)."""
    client = TestClient(create_app(_settings()), client=ATTACKER, follow_redirects=False, raise_server_exceptions=False)
    csrf = _login_csrf(client)
    bad_field = client.post("/login", data={"token": "x", "csrf": "\u00e9" * 32})
    assert bad_field.status_code == 403 and "CSRF" in bad_field.text
    client.cookies.clear()
    raw_cookie = {"Cookie": "gw_login_csrf=\u00e9t\u00e9\u00e9t\u00e9".encode()}
    assert client.post("/login", data={"token": "x", "csrf": "\u00e9t\u00e9\u00e9t\u00e9"},
                       headers=raw_cookie).status_code == 403
    assert client.post("/login", data={"token": "x", "csrf": csrf}, headers=raw_cookie).status_code == 403
    fresh = TestClient(create_app(_settings()), client=("192.0.2.50", 1), follow_redirects=False,
                       raise_server_exceptions=False)
    for cookie in ("abc.\u00e9\u00e9\u00e9", "\u00e9\u00e9.abc", "a.b.c", "\u00ff"):
        raw = {"Cookie": f"gw_session={cookie}".encode()}
        assert fresh.get("/subscriptions", headers=raw).status_code == 303  # back to the login page
        assert fresh.post("/subscriptions/new", data={"csrf": "x"}, headers=raw).status_code == 403
    for token in ("gwt_\u00e9\u00e9_x", "\u00e9" * 40, "a" * 5000):
        answer = fresh.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}".encode()})
        assert answer.status_code == 401, (token[:10], answer.status_code)


def test_bodies_over_the_cap_get_413_and_a_non_utf8_form_400() -> None:
    """JSON and form bodies above GOVWATCH_WEB_MAX_BODY_BYTES are refused (declared or streamed) with a message
    naming the setting; a form that is not UTF-8 is a 400."""
    settings = _settings(web_max_body_bytes=2048)
    client = TestClient(create_app(settings), client=ATTACKER, follow_redirects=False, raise_server_exceptions=False)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    big = b'{"query": "' + b"a" * 5000 + b'"}'
    answer = client.post("/api/v1/query/check", content=big, headers={**auth, "Content-Type": "application/json"})
    assert answer.status_code == 413 and "GOVWATCH_WEB_MAX_BODY_BYTES" in answer.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap is counted while reading
        yield b'{"query": "'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"}'

    streamed = client.post("/api/v1/query/check", content=chunks(),
                           headers={**auth, "Content-Type": "application/json"})
    assert streamed.status_code == 413
    csrf = _login_csrf(client)
    form = client.post("/login", content=f"csrf={csrf}&token=".encode() + b"x" * 4000,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 413 and "bytes" in form.text
    latin = client.post("/login", content=f"csrf={csrf}&token=".encode() + b"\xff\xfe",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert latin.status_code == 400 and "UTF-8" in latin.text
    small = client.post("/api/v1/query/check", content=b"[[[[", headers={**auth, "Content-Type": "application/json"})
    assert small.status_code == 422  # malformed JSON under the cap: FastAPI's validation answer, not a 500


def test_proxy_user_header_only_from_trusted_proxies_when_they_are_listed() -> None:
    """With GOVWATCH_WEB_TRUSTED_PROXIES set, the user-name header is believed from those peers only: a client that
    reaches the app directly cannot become another user by sending it."""
    settings = _settings(web_trusted_proxy_header="X-Remote-User", web_trusted_proxies=["10.0.0.0/8"])
    app = create_app(settings)
    direct = TestClient(app, client=ATTACKER, follow_redirects=False)
    assert direct.get("/login", headers={"X-Remote-User": "admin"}).status_code == 200
    assert direct.get("/alerts", headers={"X-Remote-User": "dora"}).status_code == 303  # to the login page
    via_proxy = TestClient(app, client=PROXY, follow_redirects=False)
    page = via_proxy.get("/does-not-exist", headers={"X-Remote-User": "dora"})
    assert page.status_code == 404  # past the gate: authenticated as dora (the route simply does not exist)
    from govwatch.web.startup import check_secrets

    assert "GOVWATCH_WEB_TRUSTED_PROXIES" in check_secrets(_settings(web_trusted_proxy_header="X-Remote-User"))[0]


def test_throttle_refills_over_a_minute_groups_ipv6_by_64_and_stays_bounded() -> None:
    """A bucket refills evenly (Retry-After says when), an IPv6 /64 is one client, and the table never grows past
    its bound (the global bucket still counts)."""
    from govwatch.web.throttle import Throttle, client_key

    now = [0.0]
    throttle = Throttle(6, 1000, clock=lambda: now[0], max_clients=3)
    assert [throttle.acquire("2001:db8::1") for _ in range(6)] == [None] * 6
    assert throttle.acquire("2001:db8::ffff") == 10  # same /64: refused; one attempt refills every 10 s
    now[0] = 10.0
    assert throttle.acquire("2001:db8::2") is None and throttle.acquire("2001:db8::3") is not None
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1" and client_key("not-an-ip") == "not-an-ip"
    for n in range(10):
        throttle.acquire(f"192.0.2.{n}")
    assert len(throttle._buckets) <= 3
