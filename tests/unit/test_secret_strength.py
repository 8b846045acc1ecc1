"""Placeholder and guessable secrets are refused when the web app starts (and by ``govwatch web hash-token``), with a
message that says how to make a good one; generated values pass. The compose example's placeholders are refused
whatever their exact wording (the test reads the file and checks every secret-looking value in it)."""

from __future__ import annotations

import io
import re
import secrets
import string
from pathlib import Path

import pytest
from pydantic import SecretStr

from govwatch import cli
from govwatch.errors import ConfigError
from govwatch.settings import Settings
from govwatch.web.auth import hash_token
from govwatch.web.secret_strength import KEY, MAKE_ONE, PASSWORD, weakness
from govwatch.web.startup import check_secrets, secret_problems

COMPOSE_ENV = Path(__file__).resolve().parents[2] / "deploy" / "compose" / ".env.example"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|_HASH$")


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.main configures logging onto this test's captured stderr; later tests would then write to a closed file."""
    monkeypatch.setattr("govwatch.log.configure_logging", lambda *args, **kwargs: None)


@pytest.mark.parametrize("value", [
    "CHANGE-this-to-32-or-more-random-characters", "changeme-changeme-changeme-changeme",
    "my-example-session-key-12345678",
    "Password1234567890Password1234567890", "x" * 48, "abcd" * 12, "0123456789" * 4, "test-session-secret-" + "x" * 24,
    "short-but-random-Qz8",
])
def test_placeholder_and_guessable_keys_are_refused(value: str) -> None:
    """Placeholder words, repeated characters, repeated patterns, short or low-entropy values are not keys."""
    assert weakness(value, KEY) is not None


def test_generated_keys_and_passwords_pass() -> None:
    """What the message tells people to run (and the usual generators) passes, every time over many draws."""
    alphabet = string.ascii_letters + string.digits
    for _ in range(2000):
        assert weakness(secrets.token_urlsafe(48), KEY) is None
        assert weakness(secrets.token_urlsafe(32), KEY) is None
        assert weakness(secrets.token_hex(32), KEY) is None
        assert weakness("".join(secrets.choice(alphabet) for _ in range(16)), PASSWORD) is None


@pytest.mark.parametrize("value", ["CHANGE-elastic-password", "changeme", "aaaaaaaaaaaaaaaa", "ab12ab12ab12"])
def test_placeholder_passwords_are_refused(value: str) -> None:
    """Passwords have a lower floor than keys, but placeholders and patterns still fail."""
    assert weakness(value, PASSWORD) is not None


def test_web_app_refuses_to_start_with_the_example_session_secret() -> None:
    """``create_app`` (what ``govwatch web`` runs) raises a ConfigError naming the setting and how to make a value."""
    from govwatch.web.app import create_app

    settings = _settings(web_session_secret=SecretStr("CHANGE-this-to-32-or-more-random-characters"),
                         es_password=SecretStr("CHANGE-elastic-password"),
                         web_admin_token_hash=SecretStr("CHANGE-the-output-of-govwatch-web-hash-token"))
    with pytest.raises(ConfigError) as caught:
        create_app(settings)
    message = str(caught.value)
    for name in ("GOVWATCH_WEB_SESSION_SECRET", "GOVWATCH_ES_PASSWORD", "GOVWATCH_WEB_ADMIN_TOKEN_HASH", MAKE_ONE,
                 "govwatch web hash-token"):
        assert name in message
    assert "CHANGE-this" not in message  # the refused value itself is never echoed
    no_scheme = secret_problems(_settings(web_public_url="govwatch.example.org"))
    assert no_scheme and "https://govwatch.example.org" in no_scheme[0]


def test_good_secrets_start_and_an_old_pbkdf2_admin_hash_only_warns() -> None:
    """Generated secrets and a current hash pass without warnings; an old PBKDF2 hash passes with a warning."""
    from govwatch.web.auth import hash_password

    good = _settings(web_session_secret=SecretStr(secrets.token_urlsafe(48)),
                     web_admin_token_hash=SecretStr(hash_token(secrets.token_urlsafe(32))))
    assert check_secrets(good) == []
    assert check_secrets(_settings()) == []  # nothing set: nothing to refuse (sessions then use a per-process key)
    old = good.model_copy(update={"web_admin_token_hash": SecretStr(hash_password("t" * 40, iterations=1000))})
    assert "PBKDF2" in check_secrets(old)[0]


def _compose_values() -> dict[str, str]:
    values = {}
    for line in COMPOSE_ENV.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match and SECRET_NAME.search(match.group(1)):
            value = match.group(2).strip().strip("'\"")
            if value and not value.startswith("${"):
                values[match.group(1)] = value
    return values


# What deploy/compose/.env.example carried before issue 22 (a copied .env may still hold them).
OLD_EXAMPLE = {"ELASTIC_PASSWORD": "CHANGE-elastic-password", "KIBANA_PASSWORD": "CHANGE-kibana-password",
               "KIBANA_ENCRYPTION_KEY": "CHANGE-this-to-32-or-more-random-characters",
               "GOVWATCH_WEB_ADMIN_TOKEN_HASH": "CHANGE-the-output-of-govwatch-web-hash-token",
               "GOVWATCH_WEB_SESSION_SECRET": "CHANGE-this-to-32-or-more-random-characters"}


def test_every_secret_placeholder_of_the_compose_example_is_refused() -> None:
    """Each secret-looking value in deploy/compose/.env.example as it is today (its secrets may be left empty) and
    as it was is refused as a key, a password or an admin hash, so a copied example never starts; the old
    session secret in particular makes the web app refuse to start."""
    from govwatch.web.auth import hash_problem

    for name, value in {**OLD_EXAMPLE, **_compose_values()}.items():
        if name.endswith("_HASH"):
            assert hash_problem(value) is not None, name
        else:
            assert weakness(value, PASSWORD) is not None and weakness(value, KEY) is not None, name
    for values in (OLD_EXAMPLE, _compose_values()):
        if "GOVWATCH_WEB_SESSION_SECRET" in values:
            secret = SecretStr(values["GOVWATCH_WEB_SESSION_SECRET"])
            problems = secret_problems(_settings(web_session_secret=secret))
            assert problems and "GOVWATCH_WEB_SESSION_SECRET" in problems[0]


def test_govwatch_web_exits_with_the_message(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``govwatch web`` with the example's session secret exits 2 before serving, saying what to run."""
    monkeypatch.setenv("GOVWATCH_WEB_SESSION_SECRET", "CHANGE-this-to-32-or-more-random-characters")
    monkeypatch.setenv("GOVWATCH_ES_URL", "http://127.0.0.1:9")
    assert cli.main(["web", "--port", "9"]) == 2
    err = capsys.readouterr().err
    assert "GOVWATCH_WEB_SESSION_SECRET" in err and "secrets.token_urlsafe(48)" in err


def test_hash_token_refuses_a_guessable_token(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``govwatch web hash-token`` hashes a random token (sha256$) and refuses a placeholder one."""
    monkeypatch.setattr("sys.stdin", io.StringIO("CHANGE-me-admin-token\n"))
    assert cli.main(["web", "hash-token"]) == 2
    assert "secrets.token_urlsafe" in capsys.readouterr().err
    token = secrets.token_urlsafe(32)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert cli.main(["web", "hash-token"]) == 0
    assert capsys.readouterr().out.strip() == hash_token(token)
