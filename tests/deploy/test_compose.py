"""deploy/compose/compose.yaml, checked by the real Compose v2 loader (`docker compose config`), no engine needed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from govwatch.topics import topic_specs
from tests.deploy.tools import compose_binary, run

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
CONSUMER_INPUT = {"enrich": "stories.raw", "index": "stories.enriched", "alert": "stories.indexed", "notify": "alerts"}
SERVERS = ("elasticsearch", "kibana", "kafka", "prefect")
# One 8 GB server: the long-running services' limits leave 512 MiB for the OS and the one-shot jobs.
LONG_RUNNING_BUDGET = 8 * 1024**3 - 512 * 1024**2


@pytest.fixture(scope="module")
def generated_env(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The .env deploy/compose/make-env.sh writes (random secrets, the admin token's hash), made once per module."""
    folder = tmp_path_factory.mktemp("make-env")
    shutil.copy(COMPOSE_DIR / ".env.example", folder / ".env.example")
    shutil.copy(COMPOSE_DIR / "make-env.sh", folder / "make-env.sh")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # govwatch
    proc = run(["bash", folder / "make-env.sh"], cwd=folder, env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip()) == 64, "make-env.sh prints the new admin token once"
    return (folder / ".env").read_text()


@pytest.fixture
def project(tmp_path: Path, generated_env: str) -> Path:
    """The compose folder laid out as in the repository, with .env made by make-env.sh as the guide says."""
    folder = tmp_path / "deploy" / "compose"
    shutil.copytree(COMPOSE_DIR, folder)
    (folder / ".env").write_text(generated_env)
    return folder


def _config(folder: Path, name: str = "compose.yaml") -> tuple[int, str, str]:
    proc = run([compose_binary(), "-f", folder / name, "config", "--format", "json"], cwd=folder)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def loaded(project: Path) -> dict[str, Any]:
    """The file as Compose resolves it (anchors merged, variables interpolated from .env)."""
    code, out, err = _config(project)
    assert code == 0, err
    return json.loads(out)


def test_compose_file_is_valid(project: Path) -> None:
    """`docker compose config --quiet` accepts the file with the example .env (exit status 0, no warning)."""
    proc = run([compose_binary(), "-f", project / "compose.yaml", "config", "--quiet"], cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("  kafka:\n    image:", "  kafka:\n    imagee: x\n    image:"), "additional properties 'imagee'"),
    (lambda t: t.replace("      prefect:\n        condition", "      prefect-server:\n        condition"),
     'undefined service "prefect-server"'),
    (lambda t: t.replace("replicas: ${INDEX_REPLICAS:-1}", "replicas: one"), "replicas"),
    (lambda t: t.replace("condition: service_completed_successfully", "condition: service_finished", 1), "condition"),
])
def test_loader_rejects_mistakes(project: Path, edit: Any, message: str) -> None:
    """The loader used here is strict: an unknown key, a missing dependency or a bad value fails with the reason."""
    broken = project / "broken.yaml"
    text = (project / "compose.yaml").read_text()
    changed = edit(text)
    assert changed != text, "the edit did not apply: update this test with compose.yaml"
    broken.write_text(changed)
    code, _, err = _config(project, "broken.yaml")
    assert code != 0 and message in err, err


def test_missing_password_is_named(project: Path) -> None:
    """Without ELASTIC_PASSWORD in .env the stack refuses to start and says which setting to add, and where."""
    env = project / ".env"
    env.write_text(re.sub(r"^ELASTIC_PASSWORD=.*\n", "", env.read_text(), flags=re.M))
    code, _, err = _config(project)
    assert code != 0 and "set ELASTIC_PASSWORD in deploy/compose/.env" in err, err


def test_servers_are_healthchecked_and_waited_for(loaded: dict[str, Any]) -> None:
    """Every server has a health check and every dependency waits for health (or a one-shot job's success)."""
    services = loaded["services"]
    for name in SERVERS:
        assert services[name]["healthcheck"]["test"], name
    for name, service in services.items():
        for dependency, how in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dependency in ("init", "setup") and name != "elasticsearch" \
                else "service_healthy"
            assert how["condition"] == wanted, (name, dependency, how)
    assert set(services["init"]["depends_on"]) == {"setup", "kafka", "elasticsearch"}  # setup makes its user
    assert set(services["kibana-import"]["depends_on"]) == {"kibana", "init"}
    for role in ("poll", "digests", "web", *CONSUMER_INPUT):
        assert "init" in services[role]["depends_on"], role
    assert set(services["web"]["depends_on"]) == {"init", "elasticsearch"}


def test_roles_run_the_image_commands(loaded: dict[str, Any]) -> None:
    """Each govwatch role runs its entry point from the one image; the one-shot jobs do not restart."""
    services = loaded["services"]
    commands = {name: services[name]["command"] for name in ("init", "kibana-import", "poll", "digests", "web",
                                                             *CONSUMER_INPUT)}
    assert commands["init"] == ["govwatch", "init"]
    assert commands["kibana-import"] == ["govwatch", "kibana", "import"]
    assert commands["poll"] == ["govwatch", "poll", "--serve"]
    assert commands["digests"] == ["python", "-m", "govwatch_flows.send_digests"]
    assert commands["web"] == ["govwatch", "web", "--host", "0.0.0.0", "--port", "8088"]
    for name in CONSUMER_INPUT:
        assert commands[name] == ["python", "-m", f"govwatch_consumers.{name}"]
    assert len({services[name]["image"] for name in commands}) == 1
    assert services["init"]["restart"] == "no" and services["kibana-import"]["restart"] == "no"


def test_replicas_fit_partitions_and_memory_fits_one_server(loaded: dict[str, Any]) -> None:
    """Consumer replicas never exceed their input topic's partitions; the long-running services fit one 8 GB server."""
    partitions = {spec.name.removeprefix("govwatch."): spec.partitions for spec in topic_specs("govwatch")}
    services = loaded["services"]
    for name, topic in CONSUMER_INPUT.items():
        assert 1 <= services[name]["deploy"]["replicas"] <= partitions[topic], name
    total = 0
    for service in services.values():
        limit = int(service["deploy"]["resources"]["limits"]["memory"])  # every service has one
        if service.get("restart", "no") != "no":
            total += limit * service["deploy"].get("replicas", 1)
    assert total <= LONG_RUNNING_BUDGET, f"memory limits add up to {total / 1024**3:.2f} GiB"


def test_consumers_are_scraped_and_secrets_come_from_env(loaded: dict[str, Any]) -> None:
    """Consumers carry the Prometheus scrape labels; no secret value is written in compose.yaml itself."""
    for name in CONSUMER_INPUT:
        labels = loaded["services"][name]["labels"]
        assert labels["prometheus.io/scrape"] == "true" and labels["prometheus.io/port"] == "9108"
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    secrets = re.findall(r"^[ \t]+([A-Z_]*(?:PASSWORD|KEY|TOKEN|WEBHOOK|SECRET)[A-Z_]*):[ \t]*(\S*)", text, flags=re.M)
    assert {name for name, _ in secrets} >= {"ELASTIC_PASSWORD", "KIBANA_PASSWORD", "GOVWATCH_ES_PASSWORD",
                                             "XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY", "ES_PASSWORD_WEB",
                                             "GOVWATCH_WEB_ADMIN_TOKEN_HASH", "GOVWATCH_WEB_SESSION_SECRET"}
    # Required (${VAR:?...}), or a bare name passed through only when .env sets it (the optional Slack ones).
    assert all((value.startswith("${") and ":?" in value) or value == "" for _, value in secrets), secrets
    assert "hooks.slack.com" not in text and "xoxb-" not in text
    assert set(loaded["volumes"]) >= {"esdata", "kafkadata", "prefectdata", "certs"}


def test_web_role_is_health_checked_on_healthz_and_published_on_loopback(loaded: dict[str, Any],
                                                                       generated_env: str) -> None:
    """The web app probes its own /healthz, is published on 127.0.0.1:8088 by default, and reads the admin hash."""
    web = loaded["services"]["web"]
    assert web["healthcheck"]["test"] == ["CMD", "python", "-m", "govwatch.metrics", "check",
                                          "http://127.0.0.1:8088/healthz"]
    (port,) = web["ports"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "8088", 8088)
    assert web["restart"] == "unless-stopped"
    assert web["image"] == loaded["services"]["alert"]["image"]
    made = re.search(r"^GOVWATCH_WEB_ADMIN_TOKEN_HASH='(.+)'$", generated_env, flags=re.M)
    assert made and web["environment"]["GOVWATCH_WEB_ADMIN_TOKEN_HASH"].replace("$$", "$") == made.group(1)


def test_admin_token_hash_with_dollar_signs_arrives_intact(project: Path) -> None:
    """A real hash (it contains `$`) in single quotes, as .env.example says, reaches the web role unchanged."""
    token_hash = "pbkdf2_sha256$600000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
    env = project / ".env"
    env.write_text(re.sub(r"^GOVWATCH_WEB_ADMIN_TOKEN_HASH=.*$", f"GOVWATCH_WEB_ADMIN_TOKEN_HASH='{token_hash}'",
                          env.read_text(), flags=re.M))
    code, out, err = _config(project)
    assert code == 0 and "variable is not set" not in err, err
    # `config` prints a literal `$` escaped as `$$` (so its output can be loaded again).
    value = json.loads(out)["services"]["web"]["environment"]["GOVWATCH_WEB_ADMIN_TOKEN_HASH"]
    assert value.replace("$$", "$") == token_hash


@pytest.mark.parametrize("setting", ["GOVWATCH_WEB_ADMIN_TOKEN_HASH", "GOVWATCH_WEB_SESSION_SECRET"])
def test_web_secrets_missing_are_named(project: Path, setting: str) -> None:
    """Without the admin hash or the session secret in .env the stack refuses to start, naming the setting."""
    env = project / ".env"
    env.write_text(re.sub(rf"^{setting}=.*\n", "", env.read_text(), flags=re.M))
    code, _, err = _config(project)
    assert code != 0 and f"set {setting} in deploy/compose/.env" in err, err


# --- least privilege (issue 22, defect 6) -----------------------------------------------------------------------

GOVWATCH_ROLES = ("init", "poll", "digests", "enrich", "index", "alert", "notify", "web")
SETUP = COMPOSE_DIR / "setup-elasticsearch.sh"
ROLES_DIR = REPO / "deploy" / "helm" / "govwatch" / "files" / "elasticsearch-roles"
# Words that mark a value copied from an example (the setup service and the govwatch roles refuse them too).
PLACEHOLDER = re.compile(r"change|example|password|placeholder|replace|secret|insecure", re.I)
SECRET_NAME = re.compile(r"PASSWORD|_KEY$|SECRET|TOKEN|HASH|WEBHOOK")


def _env_values(text: str) -> dict[str, str]:
    return {name: value.strip("'") for name, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.M)}


def _holders(loaded: dict[str, Any], value: str) -> set[str]:
    """The services whose resolved definition (environment, command, anything) contains ``value``."""
    return {name for name, service in loaded["services"].items() if value in json.dumps(service)}


def test_env_example_ships_no_secret_value() -> None:
    """Every secret in .env.example is empty (or commented out): a value printed in an example is known to all
    who read it (the old `CHANGE-this-...` session secret passed the length check and signed admin cookies)."""
    values = _env_values((COMPOSE_DIR / ".env.example").read_text())
    secrets = {name: value for name, value in values.items() if SECRET_NAME.search(name)}
    assert {"ELASTIC_PASSWORD", "KIBANA_ENCRYPTION_KEY", "GOVWATCH_WEB_SESSION_SECRET",
            "GOVWATCH_WEB_ADMIN_TOKEN_HASH", *(f"ES_PASSWORD_{r.upper()}" for r in GOVWATCH_ROLES)} <= set(secrets)
    assert {name: value for name, value in secrets.items() if value} == {}


@pytest.mark.parametrize("setting", sorted(n for n, v in _env_values((COMPOSE_DIR / ".env.example").read_text()).items()
                                           if not v))
def test_the_example_as_is_does_not_start(project: Path, setting: str) -> None:
    """.env.example copied unchanged is refused: each empty secret stops `docker compose` naming the variable and
    where to set it (here: every secret set but this one)."""
    env = project / ".env"
    env.write_text(re.sub(rf"^{setting}=.*$", f"{setting}=", env.read_text(), flags=re.M))
    code, _, err = _config(project)
    assert code != 0 and f"set {setting} in deploy/compose/.env" in err, err


def test_make_env_fills_every_secret_with_its_own_random_value(generated_env: str) -> None:
    """make-env.sh leaves no secret empty, reuses no value, and writes none an example could have printed."""
    example = _env_values((COMPOSE_DIR / ".env.example").read_text())
    made = _env_values(generated_env)
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
    env = _env_values(generated_env)
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
    env.write_text(env.read_text() + "GOVWATCH_SLACK_BOT_TOKEN=xoxb-1-2-abc\nGOVWATCH_SLACK_WEBHOOK_URL=https://h.test/x\n")
    code, out, err = _config(project)
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


def _setup_check(values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "SETUP_ROLES_DIR": str(ROLES_DIR), **values}
    return run(["bash", SETUP, "check"], env=env)


def test_setup_accepts_the_generated_passwords(generated_env: str) -> None:
    """The setup service's checks pass for make-env.sh's values (the run stops before any certificate or call)."""
    proc = _setup_check(_env_values(generated_env))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(("change", "message"), [
    ({"ELASTIC_PASSWORD": "CHANGE-elastic-password"}, "ELASTIC_PASSWORD contains the placeholder word 'change'"),
    ({"ES_PASSWORD_WEB": ""}, "ES_PASSWORD_WEB is empty: set it in deploy/compose/.env (make one: openssl rand"),
    ({"ES_PASSWORD_ENRICH": "a1b2c3d4e5"}, "ES_PASSWORD_ENRICH has 10 characters, fewer than 20"),
    ({"KIBANA_IMPORT_PASSWORD": 'ab"cd' * 6}, "KIBANA_IMPORT_PASSWORD may hold only letters, digits"),
    ({"ES_PASSWORD_ALERT": "same-value"}, "is the same as"),
])
def test_setup_refuses_weak_or_shared_passwords(generated_env: str, change: dict[str, str], message: str) -> None:
    """Missing, placeholder, short, JSON-breaking or shared passwords stop setup (and so the stack) with the fix."""
    values = _env_values(generated_env)
    if change.get("ES_PASSWORD_ALERT") == "same-value":
        change = {"ES_PASSWORD_ALERT": values["ES_PASSWORD_NOTIFY"]}
    proc = _setup_check({**values, **change})
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_each_role_environment_is_read_by_the_settings(loaded: dict[str, Any], generated_env: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """What compose hands each role parses into govwatch's Settings: its own Elasticsearch user and password, and
    the optional values left out (no empty Slack token, no empty public URL) when .env does not set them."""
    from govwatch.settings import Settings

    env = _env_values(generated_env)
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
