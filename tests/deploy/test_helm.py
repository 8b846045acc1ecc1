"""deploy/helm/govwatch, rendered by `helm template` and validated offline against the Kubernetes schemas."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from govwatch.adapters.kafka_topics import topic_specs
from tests.deploy.tools import KUBERNETES_VERSION, helm_binary, run, venv_script

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "govwatch"
PRODUCTION = CHART / "ci" / "production-values.yaml"
VALUES_FILES = {"defaults": None, "production": PRODUCTION}
CONSUMER_INPUT = {"enrich": "stories.raw", "index": "stories.enriched", "alert": "stories.indexed", "notify": "alerts"}
# The Prefect-served roles (templates/flows.yaml): one pod each, the command that serves its deployments.
FLOWS = {"poll": ["govwatch", "poll", "--serve"], "digests": ["python", "-m", "govwatch_flows.send_digests"],
         "spikes": ["python", "-m", "govwatch_flows.spikes"],
         "sources": ["python", "-m", "govwatch_flows.source_health"]}


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
    proc = run([helm_binary(), "lint", CHART, "--kube-version", KUBERNETES_VERSION,
                *(["-f", values] if values else [])])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("which", VALUES_FILES)
def test_manifests_match_kubernetes_schemas(which: str, tmp_path: Path) -> None:
    """Every rendered manifest passes kubernetes-validate --strict (unknown fields refused) for Kubernetes 1.33."""
    path, docs = _render(VALUES_FILES[which], tmp_path)
    proc = run([venv_script("kubernetes-validate", "kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict",
                "--quiet", path])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(docs) >= 14  # 9 Deployments, 4 PDBs, the web Service, the init Job (and a Secret or a ConfigMap)


def test_validator_refuses_a_broken_manifest(tmp_path: Path) -> None:
    """kubernetes-validate as called here fails on a misspelt field, so a pass above means something."""
    path, _docs = _render(None, tmp_path)
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
    for name in FLOWS:
        deployment = deployments[f"gw-govwatch-{name}"]
        assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == FLOWS[name]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert set(container["resources"]) == {"requests", "limits"}


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
    configmap = _by_kind(docs, "ConfigMap")["gw-govwatch-feeds"]
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
    """No Ingress with the default values; the production values route their TLS host to the web Service, turn on
    single sign-on through the ingress (trusted user header), the https public URL and the Kibana links."""
    _, docs = _render(None, tmp_path)
    assert _by_kind(docs, "Ingress") == {}
    env = {e["name"]: e.get("value") for e in _web(docs)[1]["env"]}
    assert not {"GOVWATCH_WEB_TRUSTED_PROXY_HEADER", "GOVWATCH_KIBANA_PUBLIC_URL", "GOVWATCH_WEB_PUBLIC_URL"} & set(env)
    _, docs = _render(PRODUCTION, tmp_path)
    ingress = _by_kind(docs, "Ingress")["gw-govwatch-web"]["spec"]
    assert ingress["tls"] == [{"hosts": ["govwatch.example.org"], "secretName": "govwatch-web-tls"}]
    (rule,) = ingress["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "gw-govwatch-web", "port": {"name": "http"}}
    deployment, container = _web(docs)
    assert deployment["spec"]["replicas"] == 2
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GOVWATCH_WEB_TRUSTED_PROXY_HEADER"] == "X-Auth-Request-User"
    assert env["GOVWATCH_WEB_PUBLIC_URL"] == "https://govwatch.example.org"
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


# --- least privilege (issue 22, defect 6) -----------------------------------------------------------------------

ROLES = ("init", "poll", "digests", "spikes", "sources", "enrich", "index", "alert", "notify", "web")
POSTING = {"notify", "digests", "web"}  # the roles that send on the channels (Slack, Teams, JSON webhooks, e-mail)
CHANNEL_SECRETS = {"GOVWATCH_SLACK_BOT_TOKEN": "slack-bot-token", "GOVWATCH_SLACK_WEBHOOK_URL": "slack-webhook-url",
                   "GOVWATCH_SMTP_PASSWORD": "smtp-password"}
ROLE_FILES = CHART / "files" / "elasticsearch-roles"


def _docs(*extra: str | Path) -> list[dict[str, Any]]:
    code, out, err = _template(*extra)
    assert code == 0, err
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _containers(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """role -> its container, for every Deployment and the init Job."""
    out = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            out[doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]] = container
    return out


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("which", VALUES_FILES)
def test_each_role_has_its_own_elasticsearch_credential(which: str, tmp_path: Path) -> None:
    """Every role reads its own API key from its own Secret (govwatch-es-<role>, a required key), no role reads
    another's, and the chart's shared Secret holds no Elasticsearch credential."""
    _, docs = _render(VALUES_FILES[which], tmp_path)
    containers = _containers(docs)
    assert set(containers) == set(ROLES)
    for role, container in containers.items():
        env = _env(container)
        assert env["GOVWATCH_ES_API_KEY"] == {"secretKeyRef": {"name": f"govwatch-es-{role}", "key": "api-key"}}, role
        assert "GOVWATCH_ES_USERNAME" not in env and "GOVWATCH_ES_PASSWORD" not in env, role
    for secret in _by_kind(docs, "Secret").values():
        assert not any(key.startswith("es-") for key in secret.get("stringData") or {}), secret["stringData"]


def test_basic_auth_gives_each_role_its_own_user() -> None:
    """With elasticsearch.auth=basic each role logs in as <indexPrefix>_<role> with the password from its Secret;
    with none it sends no credential; an unknown mode stops the render with the choices."""
    docs = _docs("--set", "elasticsearch.auth=basic", "--set", "indexPrefix=news")
    for role, container in _containers(docs).items():
        env = _env(container)
        assert env["GOVWATCH_ES_USERNAME"] == f"news_{role}"
        assert env["GOVWATCH_ES_PASSWORD"] == {"secretKeyRef": {"name": f"govwatch-es-{role}", "key": "password"}}
    for container in _containers(_docs("--set", "elasticsearch.auth=none")).values():
        assert not any(name.startswith("GOVWATCH_ES_") and name not in ("GOVWATCH_ES_URL", "GOVWATCH_ES_REPLICAS",
                                                                         "GOVWATCH_ES_CA_CERTS")
                       for name in _env(container))
    code, _, err = _template("--set", "elasticsearch.auth=superuser")
    assert code != 0 and "elasticsearch.auth=superuser: use apiKey" in err, err


@pytest.mark.parametrize(("values", "message"), [
    (["--set", "elasticsearch.username=elastic"], "replaced by one credential per role"),
    (["--set", "secrets.esApiKey=abc"], "replaced by one credential per role"),
    (["--set", "web.trustedProxyHeader=X-Forwarded-User"], "web.trustedProxyHeader was replaced by web.proxyAuth"),
    (["--set", "extraEnv.GOVWATCH_WEB_TRUSTED_PROXY_HEADER=X-Forwarded-User"], "use web.proxyAuth"),
])
def test_the_old_shared_credential_and_bare_proxy_header_are_refused(values: list[str], message: str) -> None:
    """The values the old chart took (one ES credential for all, a trusted header nobody strips) stop the render."""
    code, _, err = _template(*values)
    assert code != 0 and message in err, err


def test_channels_and_prefect_only_where_needed(tmp_path: Path) -> None:
    """The channels' credentials (Slack token and webhook, the SMTP password: optional keys of the credentials
    Secret, never a plain value) and settings reach notify, digests and web only; the Prefect API only the flows."""
    _, docs = _render(PRODUCTION, tmp_path)
    for role, container in _containers(docs).items():
        env = _env(container)
        for name, key in CHANNEL_SECRETS.items():
            wanted = {"secretKeyRef": {"name": "govwatch-credentials", "key": key, "optional": True}}
            assert env.get(name) == (wanted if role in POSTING else None), (role, name)
        if role in POSTING:
            assert env["GOVWATCH_SMTP_HOST"] == "smtp.example.org" and env["GOVWATCH_SMTP_PORT"] == "587"
            assert env["GOVWATCH_SMTP_STARTTLS"] == "true" and env["GOVWATCH_SMTP_USERNAME"] == "govwatch"
            assert env["GOVWATCH_SMTP_FROM"] == "govwatch@example.org"
            assert env["GOVWATCH_EMAIL_DOMAINS"] == "example.org"
            assert env["GOVWATCH_JSON_WEBHOOK_HOSTS"] == "hooks.example.org"
            assert "GOVWATCH_TEAMS_WEBHOOK_HOSTS" not in env  # empty in values: govwatch's default hosts
        else:
            assert not any(n.startswith(("GOVWATCH_SMTP_", "GOVWATCH_SLACK_")) or n.endswith("_WEBHOOK_HOSTS")
                           for n in env), role
        assert ("PREFECT_API_URL" in env) == (role in FLOWS), role


def test_channel_values_reach_the_sending_roles_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the chart hands notify, digests and web parses into govwatch's Settings: the SMTP server and login, the
    allowlists; with the default values no channel setting is set, so govwatch's defaults apply (e-mail refused)."""
    from govwatch.settings import Settings

    docs = _docs("--set", "channels.smtp.host=smtp.example.org", "--set", "channels.smtp.port=465",
                 "--set", "channels.smtp.starttls=false", "--set", "channels.smtp.username=gw",
                 "--set", "channels.teamsWebhookHosts={*.webhook.office.com,teams.example.org}",
                 "--set", "channels.emailDomains={example.org,example.com}")
    for role in POSTING:
        for name in [n for n in os.environ if n.startswith("GOVWATCH_")]:
            monkeypatch.delenv(name)
        for name, value in _env(_containers(docs)[role]).items():
            if isinstance(value, str):
                monkeypatch.setenv(name, value)
        settings = Settings(_env_file=None)
        assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == ("smtp.example.org", 465, False)
        assert settings.smtp_username == "gw" and settings.smtp_from == "govwatch@localhost"
        assert settings.teams_webhook_hosts == ["*.webhook.office.com", "teams.example.org"]
        assert settings.email_domains == ["example.org", "example.com"] and settings.json_webhook_hosts == []
    for role in POSTING:
        env = _env(_containers(_docs())[role])
        assert {n for n in env if n.startswith("GOVWATCH_SMTP_")} == {"GOVWATCH_SMTP_PASSWORD"}, role


def test_smtp_password_goes_into_the_chart_secret() -> None:
    """A password given as secrets.smtpPassword lands in the chart's Secret (key smtp-password), never in a
    ConfigMap or a plain env value."""
    code, out, err = _template("--set", "secrets.smtpPassword=s3cr3t-smtp", "--set", "channels.smtp.host=smtp.test")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    (secret,) = _by_kind(docs, "Secret").values()
    assert secret["stringData"] == {"smtp-password": "s3cr3t-smtp"}
    assert [d["kind"] for d in docs if "s3cr3t-smtp" in json.dumps(d)] == ["Secret"]


def test_source_health_settings_reach_the_sources_role(tmp_path: Path) -> None:
    """sources.subscription becomes GOVWATCH_SOURCE_HEALTH_SUBSCRIPTION; the alerts' links default to the web app's
    Ingress (https with TLS), or sources.webBase; neither is set without values for them."""
    _, docs = _render(PRODUCTION, tmp_path)
    env = _env(_containers(docs)["sources"])
    assert env["GOVWATCH_SOURCE_HEALTH_SUBSCRIPTION"] == "ops-source-health"
    assert env["GOVWATCH_SOURCE_HEALTH_WEB_BASE"] == "https://govwatch.example.org"
    env = _env(_containers(_docs("--set", "sources.webBase=http://gw.internal:8088"))["sources"])
    assert env["GOVWATCH_SOURCE_HEALTH_WEB_BASE"] == "http://gw.internal:8088"
    env = _env(_containers(_docs())["sources"])
    assert not {"GOVWATCH_SOURCE_HEALTH_SUBSCRIPTION", "GOVWATCH_SOURCE_HEALTH_WEB_BASE"} & set(env)


def test_role_bodies_are_rendered_with_the_release_prefix() -> None:
    """The ConfigMap <release>-es-roles holds every files/elasticsearch-roles body with the release's index prefix."""
    docs = _docs("--set", "indexPrefix=news")
    data = _by_kind(docs, "ConfigMap")["gw-govwatch-es-roles"]["data"]
    assert set(data) == {f"{role}.json" for role in ROLES} == {p.name for p in ROLE_FILES.glob("*.json")}
    for name, text in data.items():
        body = json.loads(text)
        assert json.loads((ROLE_FILES / name).read_text().replace("{prefix}", "news")) == body
        assert all(n.startswith("news-") for entry in body["indices"] for n in entry["names"]), name


def test_proxy_auth_makes_the_ingress_set_the_header_and_replace_client_copies(tmp_path: Path) -> None:
    """With web.proxyAuth the Ingress asks the auth service about every request and copies its answer's header into
    the request (ingress-nginx auth-response-headers: proxy_set_header replaces a client's copy): the very header the
    app trusts. The chart's keys win over annotations given in web.ingress.annotations."""
    _, docs = _render(PRODUCTION, tmp_path)
    annotations = _by_kind(docs, "Ingress")["gw-govwatch-web"]["metadata"]["annotations"]
    header = _env(_containers(docs)["web"])["GOVWATCH_WEB_TRUSTED_PROXY_HEADER"]
    assert annotations["nginx.ingress.kubernetes.io/auth-response-headers"] == header == "X-Auth-Request-User"
    assert annotations["nginx.ingress.kubernetes.io/auth-url"].endswith("/oauth2/auth")
    assert annotations["nginx.ingress.kubernetes.io/auth-signin"].startswith("https://auth.example.org/oauth2/start")
    docs = _docs("-f", PRODUCTION, "--set-string",
                 "web.ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/auth-response-headers=X-Other")
    annotations = _by_kind(docs, "Ingress")["gw-govwatch-web"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-response-headers"] == "X-Auth-Request-User"


@pytest.mark.parametrize(("values", "message"), [
    (["--set", "web.ingress.enabled=false"], "web.proxyAuth.enabled needs web.ingress.enabled"),
    (["--set", "networkPolicy.enabled=false"], "web.proxyAuth.enabled needs networkPolicy.enabled"),
    (["--set", "web.proxyAuth.authUrl="], "web.proxyAuth.enabled needs web.proxyAuth.authUrl"),
    (["--set", "web.proxyAuth.controller=traefik"], "configures ingress-nginx's external auth only"),
    (["--set", "web.proxyAuth.header=X-User: admin"], "a header name"),
])
def test_proxy_auth_that_clients_could_bypass_is_refused(values: list[str], message: str) -> None:
    """A trusted header without the chart's Ingress, without the NetworkPolicy (any pod could call the app with the
    header), without an auth service, or with a controller whose annotations the chart does not know: no render."""
    code, _, err = _template("-f", PRODUCTION, *values)
    assert code != 0 and message in err, err


def _policies(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc["spec"] for doc in docs if doc["kind"] == "NetworkPolicy"]


def _selects(spec: dict[str, Any], component: str) -> bool:
    selector = spec["podSelector"]
    labels = {"app.kubernetes.io/name": "govwatch", "app.kubernetes.io/instance": "gw",
              "app.kubernetes.io/component": component}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


def _allowed(docs: list[dict[str, Any]], component: str, direction: str) -> list[dict[str, Any]]:
    """The rules (ingress or egress) that apply to a component's pods: the union over the policies selecting it."""
    return [rule for spec in _policies(docs) if _selects(spec, component) and direction.capitalize() in
            spec["policyTypes"] for rule in spec.get(direction, [])]


def _internet_ports(rules: list[dict[str, Any]]) -> set[int]:
    return {p["port"] for rule in rules if any(peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
                                               for peer in rule["to"]) for p in rule["ports"]}


@pytest.mark.parametrize("which", VALUES_FILES)
def test_network_policies_isolate_every_role(which: str, tmp_path: Path) -> None:
    """Default deny for every govwatch pod, both directions; the web app reachable only from the ingress controller's
    namespace on its port; the other roles from nobody (or the metrics scraper on the metrics port); egress to DNS,
    Kafka and Elasticsearch for all, Prefect for the flows, the internet (private ranges excluded) only for poll and
    enrich (80, 443) and the sending roles (443, and the SMTP port where the values set an SMTP server)."""
    _, docs = _render(VALUES_FILES[which], tmp_path)
    for role in ROLES:
        assert any(_selects(p, role) and set(p["policyTypes"]) == {"Ingress", "Egress"} and not p.get("ingress")
                   and not p.get("egress") for p in _policies(docs)), f"{role} has no default deny"
    (web_rule,) = _allowed(docs, "web", "ingress")
    (peer,) = web_rule["from"]
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    assert web_rule["ports"] == [{"protocol": "TCP", "port": 8088}]
    scraper = {"production": "monitoring", "defaults": None}[which]
    for role in ("enrich", "index", "alert", "notify"):
        rules = _allowed(docs, role, "ingress")
        if scraper is None:
            assert rules == [], role
        else:
            (rule,) = rules
            assert rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == scraper
            assert rule["ports"] == [{"protocol": "TCP", "port": 9108}]
    for role in (*FLOWS, "init"):
        assert _allowed(docs, role, "ingress") == [], role
    channel_ports = {"production": {443, 587}, "defaults": {443}}[which]
    for role in ROLES:
        rules = _allowed(docs, role, "egress")
        namespaces = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                      for rule in rules for peer in rule["to"] if "namespaceSelector" in peer}
        wanted = {"kube-system", "kafka", "elastic"} | ({"prefect"} if role in FLOWS else set())
        assert namespaces == wanted, role
        internet = _internet_ports(rules)
        assert internet == ({80, 443} if role in ("poll", "enrich") else set()) | \
            (channel_ports if role in POSTING else set()), role
        for rule in rules:
            for block in (peer["ipBlock"] for peer in rule["to"] if "ipBlock" in peer):
                assert "10.0.0.0/8" in block["except"] or "fc00::/7" in block["except"], block


def test_network_policies_can_be_turned_off_and_allow_a_scraper() -> None:
    """networkPolicy.enabled=false renders none (a CNI without NetworkPolicy support); metricsScraper adds one."""
    assert [d for d in _docs("--set", "networkPolicy.enabled=false") if d["kind"] == "NetworkPolicy"] == []
    names = {d["metadata"]["name"] for d in _docs() if d["kind"] == "NetworkPolicy"}
    assert names == {f"gw-govwatch-{n}" for n in ("default-deny", "servers", "prefect", "fetch", "channels", "web")}
    names = {d["metadata"]["name"] for d in _docs("--set", "networkPolicy.metricsScraper.namespace=monitoring")
             if d["kind"] == "NetworkPolicy"}
    assert "gw-govwatch-metrics" in names


@pytest.mark.parametrize(("values", "ports"), [
    (["--set", "networkPolicy.channelPorts=null"], None),
    (["--set", "networkPolicy.channelPorts=null", "--set", "channels.smtp.host=smtp.test",
      "--set", "channels.smtp.port=465"], [465]),
    (["--set", "networkPolicy.channelPorts={443,8443}", "--set", "channels.smtp.host=smtp.test"], [443, 587, 8443]),
    (["--set", "channels.smtp.host=smtp.test", "--set", "channels.smtp.port=443"], [443]),  # values file + --set
])
def test_channel_ports_are_exactly_the_ones_given(values: list[str], ports: list[int] | None) -> None:
    """The sending roles reach the internet on channelPorts plus the SMTP port when an SMTP server is set, each once;
    with no port at all the channels policy is left out (a rule without ports would open every port)."""
    policies = {d["metadata"]["name"]: d for d in _docs(*values) if d["kind"] == "NetworkPolicy"}
    if ports is None:
        assert "gw-govwatch-channels" not in policies
        return
    (rule,) = policies["gw-govwatch-channels"]["spec"]["egress"]
    assert sorted(p["port"] for p in rule["ports"]) == ports


def test_trusted_proxies_reach_the_web_app() -> None:
    """web.trustedProxies becomes GOVWATCH_WEB_TRUSTED_PROXIES (comma-separated), the peers the app believes."""
    docs = _docs("--set", "web.trustedProxies={10.42.0.0/16,10.43.0.7}")
    assert _env(_containers(docs)["web"])["GOVWATCH_WEB_TRUSTED_PROXIES"] == "10.42.0.0/16,10.43.0.7"
    assert "GOVWATCH_WEB_TRUSTED_PROXIES" not in _env(_containers(_docs())["web"])
