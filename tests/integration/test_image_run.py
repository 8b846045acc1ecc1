"""Every govwatch role from the image, run as the Helm chart runs it, against the local stack (issue 23).

deploy/docker/build-local.sh builds deploy/docker/Dockerfile (on a stand-in for python:3.11-slim-bookworm: no
registry is reachable here). From that image, each container hardened as the chart's pods are (uid 10001, read-only
root, no capabilities, no privilege escalation, tmpfs only at the chart's emptyDir mounts; tests/support/containers.py)
and on the host network (the local stack and this test's servers are on 127.0.0.1):

* ``govwatch init`` makes this test's topics and indices; ``govwatch web hash-token`` hashes the admin token;
* the four consumers and ``govwatch web`` start and each one's health check turns healthy;
* the subscription is created through the web app's API, ``govwatch poll --once`` reads a feed served here, and the
  story reaches the Slack-compatible receiver once; the web app lists the delivered alert;
* the Prefect-served roles (``govwatch poll --serve``, the digests) turn healthy too;
* no container changed anything in its image's filesystem, each long-running role stops cleanly on SIGTERM;
* the Helm chart, rendered with values pointing at the local stack, runs under ``podman kube play``: each
  Deployment's command, environment, Secret values, security context and readiness probe, for real.

Printed at the end (pytest's terminal, also with capture on): image size, build times (first and cached), time from
start to healthy and memory per role, the time this module added to the suite, and what could not run here.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from govwatch_dev.demo_site import DemoSite
from govwatch_dev.slack_receiver import SlackReceiver
from tests.support.containers import (
    Build,
    Engine,
    build_image,
    chart_grace_s,
    chart_tmpfs_paths,
    engine_command,
    hardened_options,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_ARTICLES = REPO / "tests" / "fixtures" / "demo-legacy" / "articles"
COMPOSE = REPO / "deploy" / "compose" / "compose.yaml"
IMAGE_TAG = "localhost/govwatch:image-run-test"
CONSUMERS = ("enrich", "index", "alert", "notify")
HEALTHY_GOAL_S = 60  # the goal, reported per role (no timed assertion)
HEALTHY_DEADLINE_S = 300  # past this a role is stuck, not slow, even on a busy 2-core machine
DELIVERY_DEADLINE_S = 300  # feed -> Slack through four consumers on a loaded machine
ONE_SHOT_TIMEOUT_S = 600  # init, poll --once: Prefect's first flow run in a fresh home is slow under load
FEEDS_MOUNT = "/etc/govwatch/feeds"  # where the chart mounts the feed registry ConfigMap (GOVWATCH_FEEDS_FILE)
ARTICLE = "verge-senate-drops-state-ai-law-moratorium.html"
QUERY = 'moratorium AND (AI OR "artificial intelligence")'
FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-US">
  <title>govwatch image run</title>
  <id>{{base}}/feeds/image-run.xml</id>
  <updated>2025-07-01T13:15:48+00:00</updated>
  <entry>
    <title>Senate drops plan to ban state AI laws</title>
    <link rel="alternate" type="text/html" href="{{base}}/articles/{ARTICLE}"/>
    <id>urn:govwatch-test:image-run:1</id>
    <updated>2025-07-01T09:15:48-04:00</updated>
    <published>2025-07-01T09:15:48-04:00</published>
    <summary>The US Senate has voted overwhelmingly to remove a moratorium on states regulating AI systems.</summary>
  </entry>
</feed>
"""
REGISTRY = """feeds:
  - {id: image-run, name: Image run, url: "%s/feeds/image-run.xml", country: US, language: en, kind: news,
     needs_relevance_filter: true}
"""
# Parts of a deployment this test cannot run here, said in the report every time (never a silent skip).
NOT_RUN = (
    "govwatch kibana import: Kibana is not part of the local stack and its image cannot be pulled here "
    "(tests/integration/test_kibana_import.py runs the command, outside the image, against a recording server)",
    "the official base python:3.11-slim-bookworm: no registry is reachable; the stand-in from Debian's packages "
    "is used (deploy/README.md says how they differ)",
    "Elasticsearch/Kafka security (TLS, per-role users): the local stack runs without them, so the roles log in "
    "with no credentials (auth: none)",
)


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> Iterator[Report]:
    """Figures gathered by the tests, written to the terminal when the module ends (also under output capture)."""
    started = time.monotonic()
    rep = Report()
    yield rep
    lines = [*rep.lines, f"time this module added to the suite: {time.monotonic() - started:.0f} s",
             *(f"not run here: {item}" for item in NOT_RUN)]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        title = "--- govwatch image: figures (tests/integration/test_image_run.py) ---"
        print("\n" + title + "\n" + "\n".join(lines), flush=True)


@pytest.fixture(scope="module")
def image(report: Report, tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Build]:
    """The image, built twice by build-local.sh: as the cache stands (cold on a fresh machine), then fully cached."""
    logs = tmp_path_factory.mktemp("image-build")
    command = engine_command()
    first = build_image(IMAGE_TAG, logs / "build-1.log")
    cached = build_image(IMAGE_TAG, logs / "build-2.log")
    base = "stand-in base cached" if first.base_s == "cached" else f"stand-in base made in {first.base_s} s"
    report.add(f"engine: {first.engine}; image {first.image} on {first.base}: {first.size_bytes / 1e6:.0f} MB")
    report.add(f"build: first {first.wall_s:.0f} s ({base}; {_ran(first)}); again at once {cached.wall_s:.0f} s "
               f"({_ran(cached)})")
    engine = Engine(command, first.engine)
    removed = engine.prune_build_leftovers(cached.log)
    if removed:
        report.add(f"removed {len(removed)} untagged images of earlier builds (this build's layers kept)")
    return engine, first


def _ran(build: Build) -> str:
    if not build.rebuilt:
        return "every step from the layer cache"
    install = any("govwatch-install" in step for step in build.rebuilt)
    # Another change to the working tree between the two builds (a shared checkout) reruns the steps after it.
    return f"{len(build.rebuilt)} steps ran, from '{build.rebuilt[0]}'" + ("" if install else ", install cached")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env_file(path: Path, env: dict[str, str]) -> Path:
    """Environment for one container in a file (mode 600): secrets stay off the command line, as a Secret does."""
    path.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    path.chmod(0o600)
    return path


def _compose_health(service: str, port: int, default_port: int) -> str:
    """The compose file's health check command of a service, its port replaced by the one this test gave it."""
    import yaml

    test = yaml.safe_load(COMPOSE.read_text())["services"][service]["healthcheck"]["test"]
    assert test[0] == "CMD", test
    return json.dumps([word.replace(f":{default_port}/", f":{port}/") for word in test[1:]])


class Roles:
    """The containers of one test: started hardened, stopped and removed at the end."""

    def __init__(self, engine: Engine, image: str, prefix: str, tmp: Path) -> None:
        self.engine = engine
        self.image = image
        self.prefix = prefix
        self.tmp = tmp
        self.options = hardened_options(engine.name, chart_tmpfs_paths())
        self.started: list[str] = []

    def name(self, role: str) -> str:
        return f"gw-{self.prefix}-{role}"

    def _args(self, role: str, env: dict[str, str], mounts: Sequence[str]) -> list[str]:
        env_file = _env_file(self.tmp / f"{role}.env", env)
        return ["--name", self.name(role), *self.options, "--env-file", str(env_file), *mounts]

    def run_to_end(self, role: str, command: list[str], env: dict[str, str], mounts: Sequence[str] = (),
                   stdin: str | None = None) -> tuple[str, list[str]]:
        """Run a one-shot role; returns its output and what it changed in the image's filesystem."""
        args = ["run", *(["-i"] if stdin is not None else []), *self._args(role, env, mounts), self.image,
                *command]
        self.started.append(self.name(role))
        proc = self.engine.run(*args, check=False, timeout=ONE_SHOT_TIMEOUT_S, stdin=stdin)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{role} ({' '.join(command)}) exited {proc.returncode}:\n{output[-4000:]}"
        changes = self.engine.changes(self.name(role))
        self.engine.remove(self.name(role))
        return proc.stdout, changes

    def start(self, role: str, command: list[str], env: dict[str, str], mounts: Sequence[str] = (),
              health: str | None = None) -> None:
        extra = ["--health-cmd", health] if health else []
        self.started.append(self.name(role))
        self.engine.run("run", "-d", *self._args(role, env, mounts), *extra, self.image, *command)

    def cleanup(self) -> None:
        for name in self.started:
            self.engine.remove(name)


def _site(tmp: Path) -> Path:
    root = tmp / "site"
    (root / "feeds").mkdir(parents=True)
    (root / "articles").mkdir()
    (root / "feeds" / "image-run.xml").write_text(FEED, encoding="utf-8")
    shutil.copy(DEMO_ARTICLES / ARTICLE, root / "articles" / ARTICLE)
    return root


def _base_env(settings, metrics_port: int) -> dict[str, str]:  # noqa: ANN001
    """What the chart's govwatch.env gives every role, pointed at the local stack and this test's prefixes."""
    return {
        "GOVWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "GOVWATCH_ES_URL": settings.es_url,
        "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
        "GOVWATCH_LOG_LEVEL": "INFO",
        "GOVWATCH_LOG_FORMAT": "json",
        # Host network: each role on its own port, bound to loopback only (the chart binds 0.0.0.0 in its pod).
        "GOVWATCH_METRICS_PORT": str(metrics_port),
        "GOVWATCH_METRICS_HOST": "127.0.0.1",
        "GOVWATCH_FEEDS_FILE": f"{FEEDS_MOUNT}/feeds.yaml",
        # This test's servers are on 127.0.0.1, which the SSRF guard and the webhook host rules refuse by default.
        "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32",
        "GOVWATCH_SLACK_WEBHOOK_HOSTS": ",".join(settings.slack_webhook_hosts),
    }


def _prefect_env(settings) -> dict[str, str]:  # noqa: ANN001
    return {"GOVWATCH_PREFECT_API_URL": settings.prefect_api_url, "PREFECT_API_URL": settings.prefect_api_url}


def _memory(engine: Engine, name: str) -> str:
    pid = engine.inspect(name)["State"]["Pid"]
    status = Path(f"/proc/{pid}/status").read_text()
    rss, peak = (int(re.search(rf"^{key}:\s+(\d+) kB", status, re.M).group(1)) // 1024 for key in ("VmRSS", "VmHWM"))
    return f"RSS {rss} MB (peak {peak} MB)"


def test_image_is_small_and_runs_as_10001(image: tuple[Engine, Build], report: Report, tmp_path: Path) -> None:
    """The image runs as uid 10001 with a health check, and carries no compiler, no pip cache and no test code."""
    engine, build = image
    inspect = json.loads(engine.run("image", "inspect", build.image).stdout)[0]
    assert inspect["Config"]["User"] == "10001:10001"
    # Docker keeps the health check under Config, podman at the top level.
    health = inspect["Config"].get("Healthcheck") or inspect.get("Healthcheck")
    assert health and health["Test"][1:] == ["python", "-m", "govwatch.metrics", "check"], health
    probe = ("import importlib.util, os, shutil, site, sys; "
             "print(json.dumps({'compilers': [c for c in ('gcc', 'cc', 'g++', 'clang', 'make') if shutil.which(c)], "
             "'pip_caches': [p for p in ('/root/.cache/pip', '/home/govwatch/.cache/pip', '/tmp/dist', '/src') "
             "if os.path.exists(p)], 'tests': importlib.util.find_spec('tests') is not None, "
             "'uid': os.getuid(), 'gid': os.getgid()}))")
    roles = Roles(engine, build.image, "probe" + secrets.token_hex(3), tmp_path)
    try:
        out, changes = roles.run_to_end("probe", ["python", "-c", "import json; " + probe], {})
    finally:
        roles.cleanup()
    facts = json.loads(out.strip().splitlines()[-1])
    assert facts == {"compilers": [], "pip_caches": [], "tests": False, "uid": 10001, "gid": 10001}, facts
    assert changes == []
    du = engine.run("run", "--rm", "--network", "none", "--entrypoint", "du", build.image, "-sm", "/opt/govwatch")
    report.add(f"image: /opt/govwatch (the virtualenv, bytecode included) {du.stdout.split()[0]} MB of "
               f"{build.size_bytes / 1e6:.0f} MB; no compiler, no pip cache, no test code")


def test_story_from_feed_to_slack_with_every_role_in_a_container(image: tuple[Engine, Build], settings,  # noqa: ANN001
                                                                 report: Report, tmp_path: Path) -> None:
    """init, poll --once, the four consumers and the web app, each from the image and hardened as in the chart:
    a story from the feed reaches the Slack receiver once, and the web app shows the delivered alert."""
    from govwatch.adapters.bootstrap import teardown

    engine, build = image
    roles = Roles(engine, build.image, settings.topic_prefix, tmp_path)
    site = DemoSite(_site(tmp_path), port=0)
    base = site.start()
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "feeds.yaml").write_text(REGISTRY % base, encoding="utf-8")
    mounts = ["-v", f"{feeds}:{FEEDS_MOUNT}:ro"]
    changes: dict[str, list[str]] = {}
    try:
        with SlackReceiver() as receiver:
            out, changes["init"] = roles.run_to_end("init", ["govwatch", "init"], _base_env(settings, _free_port()))
            assert f"{settings.index_prefix}-subscriptions" in out, out

            token = secrets.token_urlsafe(32)
            token_hash, changes["hash-token"] = roles.run_to_end(
                "hash-token", ["govwatch", "web", "hash-token"], {}, stdin=token + "\n")

            web_port = _free_port()
            started = {}
            for role in CONSUMERS:
                roles.start(role, ["python", "-m", f"govwatch_consumers.{role}"],
                            _base_env(settings, _free_port()), mounts)
                started[role] = time.monotonic()
            web_env = {**_base_env(settings, _free_port()), "GOVWATCH_WEB_ADMIN_TOKEN_HASH": token_hash.strip(),
                       "GOVWATCH_WEB_SESSION_SECRET": secrets.token_urlsafe(48)}
            roles.start("web", ["govwatch", "web", "--host", "127.0.0.1", "--port", str(web_port)], web_env, mounts,
                        health=_compose_health("web", web_port, 8088))
            started["web"] = time.monotonic()
            took = engine.wait_healthy({roles.name(role): at for role, at in started.items()}, HEALTHY_DEADLINE_S)
            healthy = {role: took[roles.name(role)] for role in started}

            api = httpx.Client(base_url=f"http://127.0.0.1:{web_port}/api/v1", timeout=60,
                               headers={"Authorization": f"Bearer {token}"})
            made = api.post("/subscriptions", json={"name": "image run", "query": QUERY, "destination": {
                "webhook_url": receiver.webhook_url("T1/B1/image-run")}})
            assert made.status_code == 201, made.text

            out, changes["poll"] = roles.run_to_end("poll", ["govwatch", "poll", "--once"],
                                                    {**_base_env(settings, _free_port()), **_prefect_env(settings)},
                                                    mounts)
            assert "new stories 1," in out and "errors none" in out, out

            deadline = time.monotonic() + DELIVERY_DEADLINE_S
            while not receiver.deliveries:
                for role in (*CONSUMERS, "web"):
                    state = engine.inspect(roles.name(role))["State"]
                    if not state["Running"]:
                        raise AssertionError(f"{role} exited {state['ExitCode']}:\n{engine.logs(roles.name(role))}")
                assert time.monotonic() < deadline, "no Slack message within the deadline; logs:\n" + "\n".join(
                    f"--- {r}\n{engine.logs(roles.name(r))[-1500:]}" for r in CONSUMERS)
                time.sleep(1.0)
            alerts = []
            while not any(a.get("status") == "delivered" for a in alerts):
                assert time.monotonic() < deadline, f"the web app never listed the alert as delivered: {alerts}"
                alerts = api.get("/alerts").json()
                time.sleep(0.5)

            assert len(receiver.deliveries) == 1, [d.payload for d in receiver.deliveries]
            assert f"{base}/articles/{ARTICLE}" in json.dumps(receiver.deliveries[0].payload)
            assert len(alerts) == 1, alerts

            memory = {role: _memory(engine, roles.name(role)) for role in (*CONSUMERS, "web")}
            for role in (*CONSUMERS, "web"):
                name = roles.name(role)
                inspect = engine.inspect(name)
                assert inspect["Config"]["User"] == "10001:10001" and inspect["HostConfig"]["ReadonlyRootfs"]
                status = engine.run("exec", name, "cat", "/proc/1/status").stdout
                assert re.search(r"^Uid:\s+10001\s", status, re.M), status
                assert re.search(r"^CapEff:\s+0+$", status, re.M), status
                assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
                changes[role] = engine.changes(name)
            exits = {role: engine.stop(roles.name(role)) for role in (*CONSUMERS, "web")}
    finally:
        roles.cleanup()
        site.stop()
        teardown(settings)
    for role in (*CONSUMERS, "web"):
        goal = "within" if healthy[role] <= HEALTHY_GOAL_S else "OVER"
        report.add(f"role {role:7s}: healthy {healthy[role]:5.1f} s after start ({goal} the {HEALTHY_GOAL_S} s goal), "
                   f"{memory[role]} after carrying the story, exit {exits[role]} on SIGTERM")
    assert all(not c for c in changes.values()), f"roles wrote outside their tmpfs: {changes}"
    assert exits == dict.fromkeys((*CONSUMERS, "web"), 0), f"not a clean stop on SIGTERM: {exits}"


@pytest.mark.parametrize("role", ["poll", "digests", "spikes", "sources"])
def test_prefect_served_roles_turn_healthy(image: tuple[Engine, Build], initialized, role: str,  # noqa: ANN001
                                           report: Report, tmp_path: Path) -> None:
    """`govwatch poll --serve` and the digest, spike and source-health flows serve their Prefect deployments from the
    image, hardened as in the chart, and the runner health check of compose.yaml turns healthy."""
    engine, build = image
    settings = initialized
    command = {"poll": ["govwatch", "poll", "--serve"], "digests": ["python", "-m", "govwatch_flows.send_digests"],
               "spikes": ["python", "-m", "govwatch_flows.spikes"],
               "sources": ["python", "-m", "govwatch_flows.source_health"]}
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    port = _free_port()
    env = {**_base_env(settings, _free_port()), **_prefect_env(settings), "PREFECT_RUNNER_SERVER_ENABLE": "true",
           "PREFECT_RUNNER_SERVER_HOST": "127.0.0.1", "PREFECT_RUNNER_SERVER_PORT": str(port)}
    roles = Roles(engine, build.image, settings.topic_prefix, tmp_path)
    try:
        roles.start(role, command[role], env, ["-v", f"{feeds}:{FEEDS_MOUNT}:ro"],
                    health=_compose_health(role, port, 8080))
        took = engine.wait_healthy({roles.name(role): time.monotonic()}, HEALTHY_DEADLINE_S)[roles.name(role)]
        memory = _memory(engine, roles.name(role))
        changes = engine.changes(roles.name(role))
        stopping = time.monotonic()
        code = engine.stop(roles.name(role), grace_s=chart_grace_s("flows.yaml"))
        stop_s = time.monotonic() - stopping
        # A stop that needed SIGKILL is diagnosed from what the process printed while it shut down.
        tail = "" if code == 0 else "\n".join(engine.logs(roles.name(role)).splitlines()[-60:])
    finally:
        roles.cleanup()
    goal = "within" if took <= HEALTHY_GOAL_S else "OVER"
    report.add(f"role {role:7s}: healthy {took:5.1f} s after start ({goal} the {HEALTHY_GOAL_S} s goal), {memory} "
               f"idle, exit {code} on SIGTERM after {stop_s:.1f} s")
    assert changes == [], f"{role} wrote outside its tmpfs: {changes}"
    assert code == 0, (f"{role} did not stop cleanly on SIGTERM (exit {code} after {stop_s:.1f} s); "
                       f"its last lines:\n{tail}")


# --- the Helm chart's rendered manifests, run with `podman kube play` ---------------------------------------------
# podman 4.3's kube play runs Pods and Deployments (one pod each), with ConfigMaps and Secrets; these kinds it does not
# run, so they are validated as before (tests/deploy/test_helm.py: kubernetes-validate --strict, rules computed).
KUBE_NOT_PLAYED = {"Job": "the init hook: its command runs as `govwatch init` in the test above",
                   "Service": "no cluster DNS here", "NetworkPolicy": "no CNI enforces them here",
                   "PodDisruptionBudget": "no evictions here"}
KUBE_CONCURRENT = ("enrich", "index", "alert", "notify", "web")
# All serve the Prefect runner's health on the chart's fixed port 8080.
KUBE_ONE_AT_A_TIME = ("poll", "digests", "spikes", "sources")
KUBE_REGISTRY = "feeds: []\n"  # the served poller must not poll the real feeds of the built-in registry


def _kube_values(build: Build, settings, token_hash: str, registry: str) -> dict:  # noqa: ANN001
    """Values pointing the chart at the local stack, with ports of their own (host network) and ``registry``."""
    repository, _, tag = build.image.rpartition(":")
    return {"image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
            "topicPrefix": settings.topic_prefix, "indexPrefix": settings.index_prefix,
            "kafka": {"bootstrap": settings.kafka_bootstrap}, "prefect": {"apiUrl": settings.prefect_api_url},
            # The local Elasticsearch has no security plugin: no per-role credential to give.
            "elasticsearch": {"url": settings.es_url, "auth": "none"},
            "secrets": {"webAdminTokenHash": token_hash, "webSessionSecret": secrets.token_urlsafe(48)},
            # Host network: each role's pod gets its own metrics port (one render per role), web its own port.
            "metrics": {"port": _free_port()}, "web": {"port": _free_port()},
            "feeds": {"registry": registry},
            "consumers": {"enrich": {"replicas": 1}},
            "extraEnv": {"GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32",
                         "GOVWATCH_SLACK_WEBHOOK_HOSTS": ",".join(settings.slack_webhook_hosts)}}


def _kube_manifest(release: str, values: dict, role: str, tmp: Path) -> tuple[Path, dict, list[dict]]:
    """One role's Deployment with the ConfigMaps, rendered by helm, and the rendered Secrets apart. What kube play
    cannot take is adapted: on the host network podman refuses containerPort (a port mapping), so the ports go and
    the probes name their port by number; a Secret that kube play stores itself its secretKeyRef cannot read back
    (podman 4.3: "not valid JSON"), so the test creates the podman secret (``_create_secret``)."""
    import yaml

    from tests.deploy.tools import KUBERNETES_VERSION, helm_binary, run

    values_file = tmp / f"values-{role}.yaml"
    values_file.write_text(yaml.safe_dump(values))
    proc = run([helm_binary(), "template", release, REPO / "deploy" / "helm" / "govwatch", "--kube-version",
                KUBERNETES_VERSION, "-f", values_file])
    assert proc.returncode == 0, proc.stderr
    docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    kinds = {doc["kind"] for doc in docs}
    unknown = kinds - {"Deployment", "Secret", "ConfigMap"} - set(KUBE_NOT_PLAYED)
    assert not unknown, f"the chart renders kinds this test does not know how to run or skip: {unknown}"
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith(f"-{role}"))
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        ports = {p["name"]: p["containerPort"] for p in container.pop("ports", [])}
        for probe in ("readinessProbe", "livenessProbe"):
            get = container.get(probe, {}).get("httpGet")
            if get:
                get["port"] = ports.get(get["port"], get["port"])
    path = tmp / f"kube-{role}.yaml"
    path.write_text(yaml.safe_dump_all([d for d in docs if d["kind"] == "ConfigMap"] + [deployment]))
    return path, deployment, [d for d in docs if d["kind"] == "Secret"]


def _create_secret(engine: Engine, secret: dict) -> str:
    """The Kubernetes Secret as podman 4.3's kube play reads a secretKeyRef: a podman secret of the same name holding
    one JSON object, each key's value base64."""
    import base64

    data = {**secret.get("data", {}), **{key: base64.b64encode(value.encode()).decode()
                                         for key, value in (secret.get("stringData") or {}).items()}}
    name = secret["metadata"]["name"]
    engine.run("secret", "rm", name, check=False)
    engine.run("secret", "create", name, "-", stdin=json.dumps(data))
    return name


def _probe_url(deployment: dict, probe: str) -> str:
    get = deployment["spec"]["template"]["spec"]["containers"][0][probe]["httpGet"]
    return f"http://127.0.0.1:{get['port']}{get['path']}"


def _wait_probe(url: str, engine: Engine, name: str, started: float) -> float:
    """Seconds until the probe's HTTP GET (what the kubelet does) answers 2xx; fails past the deadline."""
    while True:
        try:
            if httpx.get(url, timeout=10).is_success:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        state = engine.inspect(name)["State"]
        if not state.get("Running"):
            raise AssertionError(f"{name} exited ({state.get('ExitCode')}):\n{engine.logs(name)[-3000:]}")
        assert time.monotonic() - started < HEALTHY_DEADLINE_S, f"{url} never answered; log:\n{engine.logs(name)}"
        time.sleep(1.0)


def test_chart_deployments_run_with_kube_play(image: tuple[Engine, Build], initialized, report: Report,  # noqa: ANN001
                                              tmp_path: Path) -> None:
    """Each Deployment of the rendered chart runs under `podman kube play`: its command starts, its environment and
    Secret values arrive, its security context holds (uid 10001, read-only root, no capabilities, no privilege
    escalation), its readiness probe answers, and nothing is written outside its emptyDir volumes."""
    from govwatch.web.auth import hash_token

    engine, build = image
    if engine.name != "podman":
        pytest.fail("the chart is run with `podman kube play`; this machine builds with Docker: install podman",
                    pytrace=False)
    settings = initialized
    token = secrets.token_urlsafe(32)
    token_hash = hash_token(token)
    release = f"k{settings.topic_prefix}"
    results: dict[str, str] = {}
    made_secrets: set[str] = set()
    for batch in (KUBE_CONCURRENT, *((role,) for role in KUBE_ONE_AT_A_TIME)):
        played: dict[str, tuple[Path, dict, str, float]] = {}
        try:
            for role in batch:
                values = _kube_values(build, settings, token_hash, KUBE_REGISTRY)
                path, deployment, rendered_secrets = _kube_manifest(release, values, role, tmp_path)
                made_secrets |= {_create_secret(engine, secret) for secret in rendered_secrets}
                name = f"{deployment['metadata']['name']}-pod-0-{role}"
                played[role] = (path, deployment, name, time.monotonic())  # before: a failed play leaves a pod
                engine.run("kube", "play", "--network", "host", str(path), timeout=ONE_SHOT_TIMEOUT_S)
                played[role] = (path, deployment, name, time.monotonic())
            for role, (_, deployment, name, started) in played.items():
                took = _wait_probe(_probe_url(deployment, "readinessProbe"), engine, name, started)
                status = engine.run("exec", name, "cat", "/proc/1/status").stdout
                for field_re in (r"^Uid:\s+10001\s", r"^CapEff:\s+0+$", r"^CapBnd:\s+0+$", r"^NoNewPrivs:\s+1$"):
                    assert re.search(field_re, status, re.M), f"{role}: /proc/1/status lacks {field_re}:\n{status}"
                assert engine.inspect(name)["HostConfig"]["ReadonlyRootfs"], role
                env = engine.run("exec", name, "printenv").stdout
                assert f"GOVWATCH_TOPIC_PREFIX={settings.topic_prefix}\n" in env, role
                if role == "web":  # the admin token's hash came from the Secret: the token logs in
                    assert f"GOVWATCH_WEB_ADMIN_TOKEN_HASH={token_hash}\n" in env
                    who = httpx.get(_probe_url(deployment, "readinessProbe").replace("/healthz", "/api/v1/whoami"),
                                    headers={"Authorization": f"Bearer {token}"}, timeout=30)
                    assert who.status_code == 200, who.text
                changes = engine.changes(name)
                assert changes == [], f"{role} wrote outside its emptyDir volumes: {changes}"
                liveness = engine.health_test(name)
                results[role] = (f"ready {took:5.1f} s after kube play; kube play made the liveness probe "
                                 f"{' '.join(liveness[:3])} ...")
        finally:
            for path, deployment, *_ in played.values():
                engine.run("kube", "down", str(path), check=False)
                # kube play keeps a volume per ConfigMap volume; kube down leaves it.
                for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
                    if "configMap" in volume:
                        engine.run("volume", "rm", "-f", volume["configMap"]["name"], check=False)
            for name in made_secrets:
                engine.run("secret", "rm", name, check=False)
    for role, line in results.items():
        report.add(f"kube play {role:7s}: {line}")
    report.add("kube play: not run (validated by tests/deploy/test_helm.py): "
               + "; ".join(f"{kind} ({why})" for kind, why in KUBE_NOT_PLAYED.items()))
    report.add("kube play (podman 4.3) differs from a cluster: emptyDir volumes become podman volumes named after "
               "the volume (tmp, home); httpGet liveness probes become `curl` health checks (no curl in the image; "
               "a kubelet probes over HTTP itself, as this test does); a Secret must be a podman secret of JSON")
