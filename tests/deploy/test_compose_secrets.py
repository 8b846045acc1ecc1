"""Least privilege in the compose stack (issue 22, defect 6): no secret in .env.example, no `env_file`, each secret
only in the services that need it, one Elasticsearch user per govwatch role. Checked on the configuration the real
Compose loader resolves, by each secret's value."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.compose_env import COMPOSE_DIR, GOVWATCH_ROLES, ROLES_DIR, SETUP, compose_config, env_values

# Words that mark a value copied from an example (the setup service and the govwatch roles refuse them too).
PLACEHOLDER = re.compile(r"change|example|password|placeholder|replace|secret|insecure", re.I)
SECRET_NAME = re.compile(r"PASSWORD|_KEY$|SECRET|TOKEN|HASH|WEBHOOK")


def _holders(loaded: dict[str, Any], value: str) -> set[str]:
    """The services whose resolved definition (environment, command, anything) contains ``value``."""
    return {name for name, service in loaded["services"].items() if value in json.dumps(service)}


def test_env_example_ships_no_secret_value() -> None:
    """Every secret in .env.example is empty (or commented out): a value printed in an example is known to all
    who read it (the old `CHANGE-this-...` session secret passed the length check and signed admin cookies)."""
    values = env_values((COMPOSE_DIR / ".env.example").read_text())
    secrets = {name: value for name, value in values.items() if SECRET_NAME.search(name)}
    assert {"ELASTIC_PASSWORD", "KIBANA_ENCRYPTION_KEY", "GOVWATCH_WEB_SESSION_SECRET",
            "GOVWATCH_WEB_ADMIN_TOKEN_HASH", *(f"ES_PASSWORD_{r.upper()}" for r in GOVWATCH_ROLES)} <= set(secrets)
    assert {name: value for name, value in secrets.items() if value} == {}


EMPTY_IN_EXAMPLE = sorted(n for n, v in env_values((COMPOSE_DIR / ".env.example").read_text()).items() if not v)


@pytest.mark.parametrize("setting", EMPTY_IN_EXAMPLE)
def test_the_example_as_is_does_not_start(project: Path, setting: str) -> None:
    """.env.example copied unchanged is refused: each empty secret stops `docker compose` naming the variable and
    where to set it (here: every secret set but this one)."""
    env = project / ".env"
    env.write_text(re.sub(rf"^{setting}=.*$", f"{setting}=", env.read_text(), flags=re.M))
    code, _, err = compose_config(project)
    assert code != 0 and f"set {setting} in deploy/compose/.env" in err, err


def test_make_env_fills_every_secret_with_its_own_random_value(generated_env: str) -> None:
    """make-env.sh leaves no secret empty, reuses no value, and writes none an example could have printed."""
    example = env_values((COMPOSE_DIR / ".env.example").read_text())
    made = env_values(generated_env)
    assert set(made) == set(example)
    secrets = [made[name] for name, value in example.items() if not value]
    assert len(secrets) >= 14 and len(set(secrets)) == len(secrets)
    assert all(len(value) >= 40 and not PLACEHOLDER.search(value) for value in secrets), secrets
    assert {name: made[name] for name, value in example.items() if value} == \
        {name: value for name, value in example.items() if value}  # everything else as the example says


def test_no_service_reads_the_whole_env_file(loaded: dict[str, Any]) -> None:
    """No `env_file`: a service sees only the variables its own `environment:` lists."""
    assert {name for name, service in loaded["services"].items() if service.get("env_file")} == set()
    assert "env_file" not in (COMPOSE_DIR / "compose.yaml").read_text()


def test_each_secret_reaches_only_the_services_that_need_it(loaded: dict[str, Any], generated_env: str) -> None:
    """The superuser password only in setup and elasticsearch, Kibana's encryption key only in kibana, each role's
    Elasticsearch password only in setup (which creates the user) and that role's service, the web secrets only in
    web (checked by value, anywhere in each resolved service)."""
    env = env_values(generated_env)
    assert _holders(loaded, env["ELASTIC_PASSWORD"]) == {"setup", "elasticsearch"}
    assert _holders(loaded, env["KIBANA_ENCRYPTION_KEY"]) == {"kibana"}
    assert _holders(loaded, env["KIBANA_PASSWORD"]) == {"setup", "kibana"}
    assert _holders(loaded, env["KIBANA_IMPORT_PASSWORD"]) == {"setup", "kibana-import"}
    for role in GOVWATCH_ROLES:
        assert _holders(loaded, env[f"ES_PASSWORD_{role.upper()}"]) == {"setup", role}, role
    assert _holders(loaded, env["GOVWATCH_WEB_SESSION_SECRET"]) == {"web"}
    token_hash = env["GOVWATCH_WEB_ADMIN_TOKEN_HASH"].replace("$", "$$")  # as `config` prints it
    assert _holders(loaded, token_hash) == {"web"}


# The channel settings .env may set (commented out in .env.example), each with a value found nowhere else.
CHANNEL_VALUES = {"GOVWATCH_SLACK_BOT_TOKEN": "xoxb-1-2-abc", "GOVWATCH_SLACK_WEBHOOK_URL": "https://h.test/x",
                  "GOVWATCH_SMTP_PASSWORD": "smtp-pw-7f3a9c", "GOVWATCH_SMTP_HOST": "smtp.mail.test",
                  "GOVWATCH_SMTP_PORT": "2525", "GOVWATCH_SMTP_STARTTLS": "false",
                  "GOVWATCH_SMTP_USERNAME": "gw-mailer",
                  "GOVWATCH_SMTP_FROM": "alerts@mail.test", "GOVWATCH_EMAIL_DOMAINS": "mail.test",
                  "GOVWATCH_TEAMS_WEBHOOK_HOSTS": "teams.hooks.test", "GOVWATCH_JSON_WEBHOOK_HOSTS": "json.hooks.test"}


def test_channel_settings_reach_only_the_roles_that_send(project: Path) -> None:
    """The Slack token and webhook, the SMTP password and server, and the channel allowlists set in .env reach
    notify, digests and web (test messages, resume, destination checks on save), nobody else; each commented
    example of .env.example is one of them."""
    example = (COMPOSE_DIR / ".env.example").read_text()
    assert set(re.findall(r"^# (GOVWATCH_(?:SLACK|SMTP|EMAIL|TEAMS|JSON)_[A-Z_]+)=", example, flags=re.M)) == \
        set(CHANNEL_VALUES)
    env = project / ".env"
    env.write_text(env.read_text() + "".join(f"{name}={value}\n" for name, value in CHANNEL_VALUES.items()))
    code, out, err = compose_config(project)
    assert code == 0, err
    loaded = json.loads(out)
    for name, value in CHANNEL_VALUES.items():
        given = {s for s, service in loaded["services"].items() if name in service.get("environment", {})}
        assert given == {"notify", "digests", "web"}, name
        if SECRET_NAME.search(name):  # and the value itself is nowhere else, under any name
            assert _holders(loaded, value) == {"notify", "digests", "web"}, name


def test_channel_settings_parse_in_the_sending_roles(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What compose hands a sending role from those .env lines parses into govwatch's Settings."""
    from govwatch.settings import Settings

    env = project / ".env"
    env.write_text(env.read_text() + "".join(f"{name}={value}\n" for name, value in CHANNEL_VALUES.items()))
    code, out, err = compose_config(project)
    assert code == 0, err
    for role in ("notify", "digests", "web"):
        for name in [n for n in os.environ if n.startswith("GOVWATCH_")]:
            monkeypatch.delenv(name)
        for name, value in json.loads(out)["services"][role]["environment"].items():
            monkeypatch.setenv(name, value.replace("$$", "$"))
        settings = Settings(_env_file=None)
        assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "smtp-pw-7f3a9c"
        assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == ("smtp.mail.test", 2525, False)
        assert (settings.smtp_username, settings.smtp_from) == ("gw-mailer", "alerts@mail.test")
        assert settings.email_domains == ["mail.test"] and settings.teams_webhook_hosts == ["teams.hooks.test"]
        assert settings.json_webhook_hosts == ["json.hooks.test"]


def test_source_health_settings_reach_only_the_sources_role(project: Path) -> None:
    """The operations subscription set in .env reaches only `sources`; its alerts link to WEB_PUBLIC_URL, or to the
    web app on loopback when that is unset."""
    env = project / ".env"
    code, out, err = compose_config(project)
    assert code == 0, err
    sources = json.loads(out)["services"]["sources"]["environment"]
    assert sources["GOVWATCH_SOURCE_HEALTH_WEB_BASE"] == "http://127.0.0.1:8088"
    assert sources["GOVWATCH_SOURCE_HEALTH_SUBSCRIPTION"] is None  # unset in .env: stays unset
    env.write_text(env.read_text() + "GOVWATCH_SOURCE_HEALTH_SUBSCRIPTION=ops-feeds-9d2\n"
                   "WEB_PUBLIC_URL=https://gw.example.test\n")
    code, out, err = compose_config(project)
    assert code == 0, err
    loaded = json.loads(out)
    assert _holders(loaded, "ops-feeds-9d2") == {"sources"}
    assert loaded["services"]["sources"]["environment"]["GOVWATCH_SOURCE_HEALTH_WEB_BASE"] == "https://gw.example.test"


def test_each_govwatch_role_logs_in_as_its_own_elasticsearch_user(loaded: dict[str, Any]) -> None:
    """Each role's service logs in as govwatch_<role> (never the superuser `elastic`), the user setup creates with
    the role body of the same name; kibana-import has no Elasticsearch credentials at all."""
    services = loaded["services"]
    users = {name: s["environment"].get("GOVWATCH_ES_USERNAME") for name, s in services.items()
             if name in GOVWATCH_ROLES}
    assert users == {role: f"govwatch_{role}" for role in GOVWATCH_ROLES}
    assert not any(key.startswith("GOVWATCH_ES_") for key in services["kibana-import"]["environment"])
    assert services["kibana-import"]["environment"]["GOVWATCH_KIBANA_USERNAME"] == "govwatch_kibana_import"
    assert "elastic" not in {s.get("environment", {}).get("GOVWATCH_ES_USERNAME") for s in services.values()}
    script = SETUP.read_text()
    assert re.search(r"^ROLES=\((.*)\)$", script, flags=re.M).group(1).split() == list(GOVWATCH_ROLES)
    assert sorted(p.stem for p in ROLES_DIR.glob("*.json")) == sorted(GOVWATCH_ROLES)
    setup = services["setup"]
    assert setup["command"] == ["bash", "/govwatch/setup-elasticsearch.sh"]
    mounts = {m["target"]: Path(m["source"]) for m in setup["volumes"] if m["type"] == "bind"}
    assert mounts["/govwatch/setup-elasticsearch.sh"].name == SETUP.name
    assert mounts["/govwatch/roles"].parts[-4:] == ROLES_DIR.parts[-4:]


def test_each_role_environment_is_read_by_the_settings(loaded: dict[str, Any], generated_env: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """What compose hands each role parses into govwatch's Settings: its own Elasticsearch user and password, and
    the optional values left out (no empty Slack token, no empty public URL) when .env does not set them."""
    from govwatch.settings import Settings

    env = env_values(generated_env)
    for role in GOVWATCH_ROLES:
        for name in [n for n in os.environ if n.startswith("GOVWATCH_")]:
            monkeypatch.delenv(name)
        for name, value in loaded["services"][role]["environment"].items():
            if value is not None:  # a bare name .env does not set stays unset
                monkeypatch.setenv(name, value.replace("$$", "$"))
        settings = Settings(_env_file=None)
        assert settings.es_username == f"govwatch_{role}"
        assert settings.es_password is not None
        assert settings.es_password.get_secret_value() == env[f"ES_PASSWORD_{role.upper()}"]
        assert settings.es_api_key is None and settings.slack_bot_token is None and settings.slack_webhook_url is None
        if role == "web":
            assert settings.web_session_secret is not None
            assert settings.web_session_secret.get_secret_value() == env["GOVWATCH_WEB_SESSION_SECRET"]
            assert settings.web_public_url is None and settings.web_trusted_proxies == []
