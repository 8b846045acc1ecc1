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


def test_slack_credentials_reach_only_the_roles_that_post(project: Path) -> None:
    """A Slack bot token and webhook set in .env reach notify, digests and web (test message, resume), nobody else."""
    env = project / ".env"
    env.write_text(env.read_text() + "GOVWATCH_SLACK_BOT_TOKEN=xoxb-1-2-abc\n"
                   "GOVWATCH_SLACK_WEBHOOK_URL=https://h.test/x\n")
    code, out, err = compose_config(project)
    assert code == 0, err
    loaded = json.loads(out)
    assert _holders(loaded, "xoxb-1-2-abc") == _holders(loaded, "https://h.test/x") == {"notify", "digests", "web"}


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
