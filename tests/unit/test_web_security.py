"""Pure parts of the web app's security: token hashing, session signing, CSRF comparison, what may become a link or
markup, the Kibana link's encoding, and the subscription form never carrying secrets back."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import unquote

import pytest

from govwatch.alerts.subscriptions import Destination, Filters, Subscription
from govwatch.web.auth import (
    Authenticator,
    BadToken,
    Principal,
    SessionSigner,
    csrf_matches,
    hash_password,
    hash_problem,
    hash_token,
    is_legacy,
    new_token,
    token_id_of,
    verify_token,
)
from govwatch.web.forms import SubscriptionForm
from govwatch.web.render import highlighted, kibana_discover_url, make_environment, plain, safe_href

FAST = 1_000  # PBKDF2 iterations of the legacy hashes in these tests (the product used auth.ITERATIONS)


def test_token_hash_is_fast_sha256_and_verified_in_constant_time() -> None:
    """A random token is stored as ``sha256$<digest>`` (no slow KDF: 256 random bits need none); it verifies, a
    wrong, empty or non-ASCII token and malformed hashes do not."""
    token = new_token()[1]
    stored = hash_token(token)
    assert stored.startswith("sha256$") and token not in stored and hash_token(token) == stored
    assert verify_token(token, stored) and hash_problem(stored) is None
    for wrong in (token + "!", "", "\u00e9" * 40, token[:-1]):
        assert not verify_token(wrong, stored)
    for broken in ("", "sha256$", "sha256$!!", "md5$aa", stored + "$extra", stored[:-4]):
        assert not verify_token(token, broken)
    with pytest.raises(ValueError, match="an empty token cannot be hashed"):
        hash_token("")


def test_legacy_pbkdf2_hashes_still_verify() -> None:
    """Hashes stored before (salted PBKDF2, ``pbkdf2_sha256$<iterations>$…``) keep working and are recognised as
    old (the authenticator rehashes per-user ones); malformed ones never verify."""
    a, b = hash_password("s3cret", iterations=FAST), hash_password("s3cret", iterations=FAST)
    assert a != b and a.startswith("pbkdf2_sha256$1000$") and "s3cret" not in a
    assert verify_token("s3cret", a) and verify_token("s3cret", b) and is_legacy(a) and not is_legacy(hash_token("x"))
    assert not verify_token("s3cret!", a) and not verify_token("", a) and not verify_token("\u00e9", a)
    for broken in ("pbkdf2_sha256$x$y$z", a.rsplit("$", 1)[0], a + "$extra"):
        assert not verify_token("s3cret", broken) and hash_problem(broken) is not None
    assert hash_problem(a) is None


@pytest.mark.parametrize("value", ["CHANGE-the-output-of-govwatch-web-hash-token", "s3cret-token", "sha256$abc",
                                   "pbkdf2_sha256$0$AAAA$AAAA"])
def test_admin_hash_placeholders_are_not_hashes(value: str) -> None:
    """What an example file or a pasted token puts in GOVWATCH_WEB_ADMIN_TOKEN_HASH is named as not a hash."""
    assert "hash-token" in (hash_problem(value) or "")


def test_legacy_per_user_token_is_rehashed_once() -> None:
    """A per-user token stored with PBKDF2 signs in and is rewritten to sha256; afterwards it verifies fast."""
    token_id, token = new_token()

    class Tokens:  # a TokenStore stand-in: one record
        record: ClassVar[dict[str, object]] = {"token_id": token_id, "owner": "alice", "admin": False,
                                               "hash": hash_password(token, iterations=FAST), "revoked": False}

        def lookup(self, wanted: str) -> dict[str, object] | None:
            return dict(self.record) if wanted == token_id else None

        def rehash(self, wanted: str, new_hash: str) -> None:
            self.record["hash"] = new_hash

    tokens = Tokens()
    auth = Authenticator(tokens, None)  # type: ignore[arg-type]
    assert auth.authenticate(token) == Principal("alice", False, token_id)
    assert tokens.record["hash"] == hash_token(token) and auth.has_verified(token)
    assert Authenticator(tokens, None).authenticate(token).owner == "alice"  # type: ignore[arg-type]
    with pytest.raises(BadToken):
        auth.authenticate(f"gwt_{token_id}_wrong")
    assert not auth.has_verified(f"gwt_{token_id}_wrong")


def test_per_user_tokens_carry_a_public_id() -> None:
    """``gwt_<12 hex>_<secret>``: the id is found again, anything else has none."""
    token_id, token = new_token()
    assert token_id_of(token) == token_id and len(token) > 50
    assert token_id_of("gwt_short_x") is None and token_id_of("admin-token") is None


def test_session_cookie_is_signed_and_expires() -> None:
    """The cookie round-trips; a changed payload or signature, another key, or expiry is refused."""
    signer = SessionSigner(b"k" * 32, ttl_s=60)
    cookie, csrf = signer.issue(Principal("alice", False, "abc"), now=1000.0)
    principal, got_csrf = signer.read(cookie, now=1030.0)
    assert principal == Principal("alice", False, "abc") and got_csrf == csrf
    payload, sig = cookie.split(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (f"{tampered}.{sig}", f"{payload}.{sig[:-1]}x", "garbage", "", f"{payload}."):
        with pytest.raises(BadToken):
            signer.read(bad, now=1030.0)
    with pytest.raises(BadToken):
        SessionSigner(b"o" * 32).read(cookie, now=1030.0)
    with pytest.raises(BadToken):
        signer.read(cookie, now=1061.0)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        SessionSigner(b"short")
    for hostile in (f"{payload}.\u00e9{sig[1:]}", f"\u00e9{payload}.{sig}", "\u00ff.\u00ff", "\x00.\x00"):
        with pytest.raises(BadToken):  # non-ASCII raised TypeError in compare_digest (HTTP 500)
            signer.read(hostile, now=1030.0)


def test_csrf_comparison_needs_both_sides() -> None:
    """Missing or different tokens never match."""
    assert csrf_matches("abc", "abc")
    assert not csrf_matches("abc", "abd") and not csrf_matches("", "") and not csrf_matches(None, "x")
    assert not csrf_matches("abc", None)
    assert not csrf_matches("abc", "\u00e9bc") and not csrf_matches("\u00e9", "abc")  # non-ASCII: no TypeError
    assert csrf_matches("\u00e9t\u00e9", "\u00e9t\u00e9")


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)",
                                 "data:text/html,<script>", "vbscript:x", "//evil.example/x", "/relative",
                                 "http:no-host", "https://exa\nmple.com", "", None, 42])
def test_only_http_links_are_links(url: object) -> None:
    """A URL is linked only when it is http(s) with a host; anything else (scripts, data:, control characters)
    is not."""
    assert safe_href(url) is None


def test_http_links_pass() -> None:
    assert safe_href("https://example.com/a?b=1") == "https://example.com/a?b=1"
    assert safe_href(" http://example.com ") == "http://example.com"


def test_highlight_marks_terms_and_escapes_the_rest() -> None:
    """Elasticsearch's <em> marks become <mark>; any other markup in the fragment is escaped text."""
    html = str(highlighted('<em>AI</em> <script>x()</script> <em>Act</em> <img src=x onerror="y">'))
    assert html == ('<mark>AI</mark> &lt;script&gt;x()&lt;/script&gt; <mark>Act</mark> '
                    '&lt;img src=x onerror=&#34;y&#34;&gt;')
    assert str(highlighted("<em>unclosed")) == "&lt;em&gt;unclosed"
    assert str(highlighted("<em><script></em>")) == "<mark>&lt;script&gt;</mark>"
    assert plain("<em>AI</em> Act") == "AI Act"


def test_templates_autoescape_story_text() -> None:
    """Every template escapes by default (a hostile title renders as its characters)."""
    env = make_environment()
    out = env.from_string("<h1>{{ t }}</h1>").render(t='<script>alert("x")</script>')
    assert out == "<h1>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</h1>"


def test_kibana_link_encodes_the_query() -> None:
    """Discover on the stories data view with the query rison-quoted; no link without an http(s) Kibana URL."""
    url = kibana_discover_url("https://kibana.example/", "govwatch-stories", "\"AI Act\" AND it's!", days=7)
    assert url is not None and url.startswith("https://kibana.example/app/discover#/?_g=")
    decoded = unquote(url)
    assert "(time:(from:now-7d,to:now))" in decoded
    assert "query:(language:lucene,query:'\"AI Act\" AND it!'s!!')" in decoded
    assert "dataViewId:'govwatch-stories'" in decoded and " " not in url
    assert kibana_discover_url(None, "v", "q") is None and kibana_discover_url("javascript:x", "v", "q") is None


def test_form_keeps_what_was_typed_but_never_the_secrets() -> None:
    """Parsing reads filters and destination; the re-displayed form has no webhook URL or bot token, and a saved
    subscription's form shows only the channel."""
    f = SubscriptionForm.parse({"name": ["n"], "query": ['"AI Act"'], "countries": ["FR, DE"], "min_relevance": ["0.5"],
                                "mode": ["weekly"], "webhook_url": ["https://hooks.slack.com/services/SECRET"],
                                "bot_token": ["xoxb-SECRET"], "days": ["14"]})
    assert f.mode == "immediate" and f.preview_days() == 14
    assert f.to_filters() == Filters(countries=["FR", "DE"], min_relevance=0.5)
    shown = f.without_secrets()
    assert shown.webhook_url == "" and shown.bot_token == "" and shown.query == '"AI Act"'
    sub = Subscription(name="n", query="q", destination=Destination(kind="bot", bot_token="xoxb-SECRET",
                                                                    channel="#c"))
    again = SubscriptionForm.of(sub)
    assert again.channel == "#c" and "SECRET" not in repr(again.__dict__)
    with pytest.raises(ValueError, match="could not convert string to float: 'lots'"):
        SubscriptionForm.parse({"min_relevance": ["lots"]}).to_filters()
