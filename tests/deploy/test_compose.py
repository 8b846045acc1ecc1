"""deploy/compose/compose.yaml, checked by the real Compose v2 loader (`docker compose config`), no engine needed.

The fixtures (the folder, its .env from make-env.sh, the resolved config) are in conftest.py; least privilege is
tested in test_compose_secrets.py, the setup service's script in test_compose_setup.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from govwatch.adapters.kafka_topics import topic_specs
from tests.deploy.compose_env import COMPOSE_DIR, compose_config
from tests.deploy.tools import compose_binary, run

CONSUMER_INPUT = {"enrich": "stories.raw", "index": "stories.enriched", "alert": "stories.indexed", "notify": "alerts"}
SERVERS = ("elasticsearch", "kibana", "kafka", "prefect")
# One 8 GB server: the long-running services' limits leave 512 MiB for the OS and the one-shot jobs.
LONG_RUNNING_BUDGET = 8 * 1024**3 - 512 * 1024**2


def test_compose_file_is_valid(project: Path) -> None:
    """`docker compose config --quiet` accepts the file with the example .env (exit status 0, no warning)."""
    proc = run([compose_binary(), "-f", project / "compose.yaml", "config", "--quiet"], cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("  kafka:\n    image:", "  kafka:\n    imagee: x\n    image:"),
     "additional properties 'imagee'"),
    (lambda t: t.replace("      prefect:\n        condition", "      prefect-server:\n        condition"),
     'undefined service "prefect-server"'),
    (lambda t: t.replace("replicas: ${INDEX_REPLICAS:-1}", "replicas: one"), "replicas"),
    (lambda t: t.replace("condition: service_completed_successfully", "condition: service_finished", 1), "condition"),
])
def test_loader_rejects_mistakes(project: Path, edit: Callable[[str], str], message: str) -> None:
    """The loader used here is strict: an unknown key, a missing dependency or a bad value fails with the reason."""
    broken = project / "broken.yaml"
    text = (project / "compose.yaml").read_text()
    changed = edit(text)
    assert changed != text, "the edit did not apply: update this test with compose.yaml"
    broken.write_text(changed)
    code, _, err = compose_config(project, "broken.yaml")
    assert code != 0 and message in err, err


def test_missing_password_is_named(project: Path) -> None:
    """Without ELASTIC_PASSWORD in .env the stack refuses to start and says which setting to add, and where."""
    env = project / ".env"
    env.write_text(re.sub(r"^ELASTIC_PASSWORD=.*\n", "", env.read_text(), flags=re.M))
    code, _, err = compose_config(project)
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
    for role in ("poll", "digests", "spikes", "sources", "web", *CONSUMER_INPUT):
        assert "init" in services[role]["depends_on"], role
    for role in ("poll", "digests", "spikes", "sources"):  # the Prefect runners register their deployments at start
        assert set(services[role]["depends_on"]) == {"init", "prefect"}, role
    assert set(services["web"]["depends_on"]) == {"init", "elasticsearch"}


def test_roles_run_the_image_commands(loaded: dict[str, Any]) -> None:
    """Each govwatch role runs its entry point from the one image; the one-shot jobs do not restart."""
    services = loaded["services"]
    commands = {name: services[name]["command"] for name in ("init", "kibana-import", "poll", "digests", "spikes",
                                                             "sources", "web", *CONSUMER_INPUT)}
    assert commands["init"] == ["govwatch", "init"]
    assert commands["kibana-import"] == ["govwatch", "kibana", "import"]
    assert commands["poll"] == ["govwatch", "poll", "--serve"]
    assert commands["digests"] == ["python", "-m", "govwatch_flows.send_digests"]
    assert commands["spikes"] == ["python", "-m", "govwatch_flows.spikes"]
    assert commands["sources"] == ["python", "-m", "govwatch_flows.source_health"]
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


def test_flow_runners_are_health_checked_on_the_runner_endpoint(loaded: dict[str, Any]) -> None:
    """Each Prefect runner (poll, digests, spikes, sources) enables the runner's webserver on loopback and is health
    checked on its /health; none publishes a port."""
    for name in ("poll", "digests", "spikes", "sources"):
        service = loaded["services"][name]
        assert service["healthcheck"]["test"] == ["CMD", "python", "-m", "govwatch.metrics", "check",
                                                  "http://127.0.0.1:8080/health"], name
        env = service["environment"]
        assert (env["PREFECT_RUNNER_SERVER_ENABLE"], env["PREFECT_RUNNER_SERVER_HOST"]) == ("true", "127.0.0.1"), name
        assert env["PREFECT_API_URL"] == env["GOVWATCH_PREFECT_API_URL"] == "http://prefect:4200/api", name
        assert "ports" not in service, name


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
    code, out, err = compose_config(project)
    assert code == 0 and "variable is not set" not in err, err
    # `config` prints a literal `$` escaped as `$$` (so its output can be loaded again).
    value = json.loads(out)["services"]["web"]["environment"]["GOVWATCH_WEB_ADMIN_TOKEN_HASH"]
    assert value.replace("$$", "$") == token_hash


@pytest.mark.parametrize("setting", ["GOVWATCH_WEB_ADMIN_TOKEN_HASH", "GOVWATCH_WEB_SESSION_SECRET"])
def test_web_secrets_missing_are_named(project: Path, setting: str) -> None:
    """Without the admin hash or the session secret in .env the stack refuses to start, naming the setting."""
    env = project / ".env"
    env.write_text(re.sub(rf"^{setting}=.*\n", "", env.read_text(), flags=re.M))
    code, _, err = compose_config(project)
    assert code != 0 and f"set {setting} in deploy/compose/.env" in err, err
