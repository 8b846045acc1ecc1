"""deploy/helm/govwatch, rendered by `helm template` and validated offline against the Kubernetes schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from govwatch.topics import topic_specs
from tests.deploy.tools import KUBERNETES_VERSION, helm_binary, run, venv_script

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "govwatch"
PRODUCTION = CHART / "ci" / "production-values.yaml"
VALUES_FILES = {"defaults": None, "production": PRODUCTION}
CONSUMER_INPUT = {"enrich": "stories.raw", "index": "stories.enriched", "alert": "stories.indexed", "notify": "alerts"}


def _template(*extra: str | Path) -> tuple[int, str, str]:
    proc = run([helm_binary(), "template", "gw", CHART, "--kube-version", KUBERNETES_VERSION, *extra])
    return proc.returncode, proc.stdout, proc.stderr


def _render(values: Path | None, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    code, out, err = _template(*(["-f", values] if values else []))
    assert code == 0, err
    path = tmp_path / "rendered.yaml"
    path.write_text(out)
    return path, [doc for doc in yaml.safe_load_all(out) if doc]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


@pytest.mark.parametrize("which", VALUES_FILES)
def test_chart_lints(which: str) -> None:
    """`helm lint` passes for the default values and for the production-like values file."""
    values = VALUES_FILES[which]
    proc = run([helm_binary(), "lint", CHART, "--kube-version", KUBERNETES_VERSION, *(["-f", values] if values else [])])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("which", VALUES_FILES)
def test_manifests_match_kubernetes_schemas(which: str, tmp_path: Path) -> None:
    """Every rendered manifest passes kubernetes-validate --strict (unknown fields refused) for Kubernetes 1.33."""
    path, docs = _render(VALUES_FILES[which], tmp_path)
    proc = run([venv_script("kubernetes-validate", "kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict",
                "--quiet", path])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(docs) >= 12  # 7 Deployments, 4 PDBs, the web Service, the init Job (and a Secret or a ConfigMap)


def test_validator_refuses_a_broken_manifest(tmp_path: Path) -> None:
    """kubernetes-validate as called here fails on a misspelt field, so a pass above means something."""
    path, docs = _render(None, tmp_path)
    text = path.read_text().replace("terminationGracePeriodSeconds:", "terminationGraceSeconds:", 1)
    path.write_text(text)
    proc = run([venv_script("kubernetes-validate", "kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict",
                "--quiet", path])
    assert proc.returncode != 0 and "terminationGraceSeconds" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("consumer", "replicas"), [("alert", 4), ("notify", 4), ("enrich", 7), ("index", 0)])
def test_replicas_beyond_partitions_are_refused(consumer: str, replicas: int) -> None:
    """A replica count above the input topic's partitions (or below 1) stops the render with the limit named."""
    code, _, err = _template("--set", f"consumers.{consumer}.replicas={replicas}")
    assert code != 0 and f"consumers.{consumer}.replicas={replicas}: must be 1.." in err, err


@pytest.mark.parametrize("which", VALUES_FILES)
def test_consumers_have_probes_limits_budgets_and_scrape_annotations(which: str, tmp_path: Path) -> None:
    """Each consumer Deployment probes /metrics, has requests and limits, runs non-root, and has a PDB."""
    _, docs = _render(VALUES_FILES[which], tmp_path)
    deployments, budgets = _by_kind(docs, "Deployment"), _by_kind(docs, "PodDisruptionBudget")
    partitions = {spec.name.removeprefix("govwatch."): spec.partitions for spec in topic_specs("govwatch")}
    for name, topic in CONSUMER_INPUT.items():
        deployment = deployments[f"gw-govwatch-{name}"]
        assert 1 <= deployment["spec"]["replicas"] <= partitions[topic]
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        (container,) = pod["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"govwatch_consumers.{name}"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/metrics"
        assert container["readinessProbe"]["httpGet"]["port"] == "metrics"
        assert set(container["resources"]) == {"requests", "limits"}
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert budgets[f"gw-govwatch-{name}"]["spec"]["selector"]["matchLabels"] == \
            deployment["spec"]["selector"]["matchLabels"]
    for name in ("poll", "digests"):
        (container,) = deployments[f"gw-govwatch-{name}"]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"


def test_init_job_is_a_hook_with_its_credentials_first(tmp_path: Path) -> None:
    """`govwatch init` runs as a pre-install/pre-upgrade hook after the hook Secret it reads its credentials from."""
    _, docs = _render(None, tmp_path)
    (job,) = _by_kind(docs, "Job").values()
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["govwatch", "init"]
    (secret,) = _by_kind(docs, "Secret").values()
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"])


def test_production_values_use_existing_secret_tls_and_feed_registry(tmp_path: Path) -> None:
    """With the production values no Secret is rendered, CAs and the feed ConfigMap are mounted, SASL is configured."""
    _, docs = _render(PRODUCTION, tmp_path)
    assert _by_kind(docs, "Secret") == {}
    (configmap,) = _by_kind(docs, "ConfigMap").values()
    assert yaml.safe_load(configmap["data"]["feeds.yaml"])["feeds"][0]["id"] == "eu-commission-press"
    enrich = _by_kind(docs, "Deployment")["gw-govwatch-enrich"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in enrich["containers"][0]["env"]}
    assert env["GOVWATCH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["GOVWATCH_KAFKA_SASL_PASSWORD"]["secretKeyRef"]["name"] == "govwatch-credentials"
    assert env["GOVWATCH_ES_CA_CERTS"] == "/etc/govwatch/es-ca/ca.crt"
    assert env["GOVWATCH_FEEDS_FILE"] == "/etc/govwatch/feeds/feeds.yaml"
    mounts = {m["mountPath"] for m in enrich["containers"][0]["volumeMounts"]}
    assert {"/etc/govwatch/es-ca", "/etc/govwatch/kafka-ca", "/etc/govwatch/feeds"} <= mounts


def _web(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = _by_kind(docs, "Deployment")["gw-govwatch-web"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


@pytest.mark.parametrize("which", VALUES_FILES)
def test_web_role_runs_the_image_with_probes_and_its_secret(which: str, tmp_path: Path) -> None:
    """The web Deployment runs `govwatch web` from the same image, probes /healthz, runs non-root with a read-only
    root filesystem, takes the admin hash from the chart's Secret (a required key), and its Service selects it."""
    _, docs = _render(VALUES_FILES[which], tmp_path)
    deployment, container = _web(docs)
    assert container["command"] == ["govwatch", "web", "--host", "0.0.0.0", "--port", "8088"]
    assert container["image"] == _by_kind(docs, "Deployment")["gw-govwatch-alert"]["spec"]["template"]["spec"][
        "containers"][0]["image"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8088, "protocol": "TCP"}]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    secret = "govwatch-credentials" if which == "production" else "gw-govwatch"
    assert env["GOVWATCH_WEB_ADMIN_TOKEN_HASH"] == {"secretKeyRef": {"name": secret, "key": "web-admin-token-hash"}}
    assert env["GOVWATCH_WEB_SESSION_SECRET"]["secretKeyRef"]["key"] == "web-session-secret"
    service = _by_kind(docs, "Service")["gw-govwatch-web"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 8088, "targetPort": "http", "protocol": "TCP"}]


def test_web_ingress_is_off_by_default_and_on_in_production(tmp_path: Path) -> None:
    """No Ingress with the default values; the production values route their TLS host to the web Service and turn
    on the trusted proxy header and the Kibana links."""
    _, docs = _render(None, tmp_path)
    assert _by_kind(docs, "Ingress") == {}
    env = {e["name"]: e.get("value") for e in _web(docs)[1]["env"]}
    assert "GOVWATCH_WEB_TRUSTED_PROXY_HEADER" not in env and "GOVWATCH_KIBANA_PUBLIC_URL" not in env
    _, docs = _render(PRODUCTION, tmp_path)
    ingress = _by_kind(docs, "Ingress")["gw-govwatch-web"]["spec"]
    assert ingress["tls"] == [{"hosts": ["govwatch.example.org"], "secretName": "govwatch-web-tls"}]
    (rule,) = ingress["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "gw-govwatch-web", "port": {"name": "http"}}
    deployment, container = _web(docs)
    assert deployment["spec"]["replicas"] == 2
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GOVWATCH_WEB_TRUSTED_PROXY_HEADER"] == "X-Forwarded-User"
    assert env["GOVWATCH_KIBANA_PUBLIC_URL"] == "https://kibana.example.org"


def test_web_secrets_go_into_the_chart_secret_and_the_role_can_be_turned_off(tmp_path: Path) -> None:
    """Values given for the admin hash and session secret land in the chart's Secret; web.enabled=false renders no
    web objects; an Ingress without a host is refused with the value to set."""
    code, out, err = _template("--set", "secrets.webAdminTokenHash=scrypt$abc", "--set", "secrets.webSessionSecret=s3")
    assert code == 0, err
    (secret,) = _by_kind([d for d in yaml.safe_load_all(out) if d], "Secret").values()
    assert secret["stringData"] == {"web-admin-token-hash": "scrypt$abc", "web-session-secret": "s3"}
    code, out, err = _template("--set", "web.enabled=false")
    assert code == 0, err
    names = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(out) if d}
    assert not {n for n in names if n[1].endswith("-web")}
    assert ("Deployment", "gw-govwatch-alert") in names
    code, _, err = _template("--set", "web.ingress.enabled=true")
    assert code != 0 and "web.ingress.enabled needs web.ingress.host" in err, err
