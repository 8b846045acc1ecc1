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
* no container changed anything in its image's filesystem, each long-running role stops cleanly on SIGTERM.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from govwatch.alerts.slack_receiver import SlackReceiver
from govwatch.demo_site import DemoSite
from tests.support.containers import (
    Build,
    Engine,
    build_image,
    chart_tmpfs_paths,
    engine_command,
    hardened_options,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_ARTICLES = REPO / "deploy" / "demo" / "articles"
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
FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-US">
  <title>govwatch image run</title>
  <id>{base}/feeds/image-run.xml</id>
  <updated>2025-07-01T13:15:48+00:00</updated>
  <entry>
    <title>Senate drops plan to ban state AI laws</title>
    <link rel="alternate" type="text/html" href="{base}/articles/%s"/>
    <id>urn:govwatch-test:image-run:1</id>
    <updated>2025-07-01T09:15:48-04:00</updated>
    <published>2025-07-01T09:15:48-04:00</published>
    <summary>The US Senate has voted overwhelmingly to remove a moratorium on states regulating AI systems.</summary>
  </entry>
</feed>
""" % ARTICLE
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

    def _args(self, role: str, env: dict[str, str], mounts: list[str]) -> list[str]:
        env_file = _env_file(self.tmp / f"{role}.env", env)
        return ["--name", self.name(role), *self.options, "--env-file", str(env_file), *mounts]

    def run_to_end(self, role: str, command: list[str], env: dict[str, str], mounts: list[str] = (),
                   stdin: str | None = None) -> tuple[str, list[str]]:
        """Run a one-shot role; returns its output and what it changed in the image's filesystem."""
        args = ["run", *(["-i"] if stdin is not None else []), *self._args(role, env, list(mounts)), self.image,
                *command]
        self.started.append(self.name(role))
        proc = self.engine.run(*args, check=False, timeout=ONE_SHOT_TIMEOUT_S, stdin=stdin)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{role} ({' '.join(command)}) exited {proc.returncode}:\n{output[-4000:]}"
        changes = self.engine.changes(self.name(role))
        self.engine.remove(self.name(role))
        return proc.stdout, changes

    def start(self, role: str, command: list[str], env: dict[str, str], mounts: list[str] = (),
              health: str | None = None) -> None:
        extra = ["--health-cmd", health] if health else []
        self.started.append(self.name(role))
        self.engine.run("run", "-d", *self._args(role, env, list(mounts)), *extra, self.image, *command)

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
    from govwatch.bootstrap import teardown

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
    assert exits == {role: 0 for role in (*CONSUMERS, "web")}, f"not a clean stop on SIGTERM: {exits}"


@pytest.mark.parametrize("role", ["poll", "digests"])
def test_prefect_served_roles_turn_healthy(image: tuple[Engine, Build], initialized, role: str,  # noqa: ANN001
                                           report: Report, tmp_path: Path) -> None:
    """`govwatch poll --serve` and the digest flows serve their Prefect deployments from the image, hardened as in
    the chart, and the runner health check of compose.yaml turns healthy."""
    engine, build = image
    settings = initialized
    command = {"poll": ["govwatch", "poll", "--serve"], "digests": ["python", "-m", "govwatch_flows.send_digests"]}
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
        code = engine.stop(roles.name(role))
    finally:
        roles.cleanup()
    goal = "within" if took <= HEALTHY_GOAL_S else "OVER"
    report.add(f"role {role:7s}: healthy {took:5.1f} s after start ({goal} the {HEALTHY_GOAL_S} s goal), {memory} "
               f"idle, exit {code} on SIGTERM")
    assert changes == [], f"{role} wrote outside its tmpfs: {changes}"
    assert code == 0, f"{role} did not stop cleanly on SIGTERM (exit {code})"
