"""govwatch installed from its wheel, outside the repository, runs every role.

Two installs, each into a fresh virtualenv in a temporary folder with no repository beside it:

* ``venv``: the wheel with Debian 12's pip (23.0.1) and no constraints file (whatever PyPI resolves today);
* ``image_venv``: the container image's build stage replayed outside Docker: exactly the files its COPY lines
  name, then its RUN line (deploy/docker/install.sh: the wheel with the pinned constraints.txt). The end-to-end pass
  runs there with the image's ENV, and scrapes each consumer's Prometheus endpoint and runs the image's HEALTHCHECK.

The first install's wheel, built from a copy of the whole checkout, is also checked for what it carries: the
product's packages and none of the development tooling (devtools/), tests or benchmarks.

Every command runs from a directory outside the repository, with topics and indices private to the test.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from govwatch.adapters import es_io
from govwatch.adapters.bootstrap import teardown
from govwatch.adapters.kafka_topics import RAW
from govwatch.identity import story_id
from govwatch.settings import Settings
from govwatch_dev.slack_receiver import SlackReceiver
from tests.support.dockerfile import instructions, replay_build_stage, run_install
from tests.support.httpserve import Route, Site, serve
from tests.support.imports import PRODUCT, modules
from tests.support.kafka_util import read_all

REPO = Path(__file__).resolve().parents[2]
DEBIAN_12_PIP = "23.0.1"
INSTALL_TIMEOUT_S = 1800  # a cold pip cache downloads the whole dependency tree (~150 MB)
COMMAND_TIMEOUT_S = 300
WAIT_S = 240  # for the pipeline to carry one story to Slack on a busy 2-core machine
CONSUMERS = ("enrich", "index", "alert", "notify")
ARTICLE = REPO / "tests" / "fixtures" / "demo-legacy" / "articles" / "verge-senate-drops-state-ai-law-moratorium.html"
FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local policy wire</title><link>{base}/</link><description>test</description>
<item><title>Senate drops plan to ban state AI laws</title><link>{base}/story/senate-ai-moratorium</link>
<guid>senate-ai-moratorium</guid><pubDate>Tue, 01 Jul 2025 13:15:48 GMT</pubDate>
<description>The US Senate voted 99 to 1 to remove a moratorium on states regulating AI systems.</description></item>
</channel></rss>
"""


def _run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path, timeout: float = COMMAND_TIMEOUT_S,
         stdin: str | None = None) -> str:
    """Run ``cmd``; its combined output, or a failure that shows it."""
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, input=stdin, text=True, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-4000:]}"
    return proc.stdout


def _clean_env() -> dict[str, str]:
    """This environment without the repository's virtualenv or import paths."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_CONSTRAINT")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO)))
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The product wheel, built by ``pip wheel`` from a copy of the whole checkout (tests/, devtools/ included)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a copy: building in the checkout would leave build/ and *.egg-info there
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".env"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist", source], env=_clean_env(),
         cwd=root, timeout=INSTALL_TIMEOUT_S)
    (built,) = (root / "dist").glob("govwatch-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with Debian 12's pip and govwatch installed from its wheel, without constraints.txt."""
    root = tmp_path_factory.mktemp("installed")
    env = _clean_env()
    _run([sys.executable, "-m", "venv", root / "venv"], env=env, cwd=root)
    python = root / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", f"pip=={DEBIAN_12_PIP}"], env=env, cwd=root, timeout=INSTALL_TIMEOUT_S)
    _run([python, "-m", "pip", "install", "-q", wheel], env=env, cwd=root, timeout=INSTALL_TIMEOUT_S)
    return root / "venv"


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt/govwatch of the image, made by replaying the Dockerfile's build stage in an empty temporary folder."""
    root = tmp_path_factory.mktemp("image")
    prefix, command = replay_build_stage(REPO, root)
    assert not (root / "src" / "tests").exists() and not (root / "src" / ".git").exists()
    run_install(command, _clean_env(), INSTALL_TIMEOUT_S)
    return prefix


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory with no repository in it or above it."""
    work = tmp_path / "work"
    work.mkdir()
    assert not any((parent / "pyproject.toml").exists() for parent in (work, *work.parents))
    return work


def _role_env(venv: Path, settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = _clean_env()
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}", "VIRTUAL_ENV": str(venv),
                "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
                "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_CACHE_DIR": str(settings.cache_dir),
                "GOVWATCH_SLACK_WEBHOOK_HOSTS": "127.0.0.1",
                "GOVWATCH_LOG_FORMAT": "json", "GOVWATCH_SLACK_MIN_INTERVAL_S": "0",
                "PREFECT_API_URL": settings.prefect_api_url, "PREFECT_HOME": str(tmp_path / "prefect-home"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    env.update(extra)
    return env


def _feed_site() -> Site:
    site = Site()
    site.routes["/feed.xml"] = Route(b"", headers={"Content-Type": "application/rss+xml"})
    site.routes["/story/senate-ai-moratorium"] = Route(ARTICLE.read_bytes())
    return site


def _write_registry(site: Site, tmp_path: Path) -> tuple[Path, str]:
    """Fill the feed with the started site's address; returns the registry path and the story's URL."""
    site.routes["/feed.xml"].body = FEED.format(base=site.base).encode()
    registry = tmp_path / "feeds.yaml"
    registry.write_text("feeds:\n  - {id: local-wire, name: Local Wire, country: US, language: en, kind: news, "
                        f'needs_relevance_filter: true, url: "{site.url("/feed.xml")}"}}\n', encoding="utf-8")
    return registry, site.url("/story/senate-ai-moratorium")


def _wait_for(what: str, done: Callable[[], bool], check: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        check()
        assert time.monotonic() < deadline, f"{what} did not happen within {WAIT_S}s"
        time.sleep(0.5)


def _wheel_path(module: str, file: Path) -> str:
    """Where a module of the checkout lands in the wheel (``govwatch.web.app`` -> ``govwatch/web/app.py``)."""
    return module.replace(".", "/") + ("/__init__.py" if file.name == "__init__.py" else ".py")


def test_wheel_carries_the_product_and_no_development_tooling(wheel: Path) -> None:
    """Every product package and module is in the wheel; the development tooling, tests and benchmarks are not."""
    with zipfile.ZipFile(wheel) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
    print(f"{wheel.name}: {len(names)} files, {wheel.stat().st_size} bytes")
    tooling = [name for name in names if name.split("/")[0] in ("govwatch_dev", "devtools", "tests", "benchmarks")
               or {"stack", "chaos"} & set(name.split("/")[:-1])
               or fnmatch.fnmatch(PurePosixPath(name).name, "demo*.py")
               or PurePosixPath(name).name in ("slack_receiver.py", "schemas_gen.py")]
    assert tooling == []
    packages = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    assert [p for p in packages if not any(name.startswith(p.replace(".", "/") + "/") for name in names)] == []
    assert sorted({_wheel_path(module, file) for module, file in modules(PRODUCT).items()} - set(names)) == []


def test_pip_23_install_imports_trafilatura(venv: Path, outside: Path) -> None:
    """With Debian 12's pip and no constraints file, trafilatura and govwatch import from the installed wheel."""
    python = venv / "bin" / "python"
    assert f"pip {DEBIAN_12_PIP} " in _run([python, "-m", "pip", "--version"], cwd=outside, env=_clean_env())
    out = _run([python, "-c", "import trafilatura, govwatch, govwatch_flows, govwatch_consumers; "
                "print(govwatch.__file__); print(govwatch_flows.__file__)"], cwd=outside, env=_clean_env())
    assert all(line.startswith(str(venv)) for line in out.split()), out


def _image_env(tmp_path: Path) -> dict[str, str]:
    """The final stage's ENV, with the paths that are the container user's home moved under ``tmp_path``."""
    _, stages = instructions()
    env = {k: v for k, v in stages[-1].env().items() if k != "PATH"}
    env.update(GOVWATCH_CACHE_DIR=str(tmp_path / "image-home" / "cache"), PREFECT_HOME=str(tmp_path / "image-home"))
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics endpoint: (name, sorted labels) -> value."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_every_role_runs_from_the_image_install(image_venv: Path, settings: Settings, outside: Path,
                                                tmp_path: Path) -> None:
    """The image's install runs init, poll --once, the four consumers (scraped) and the digest flow to Slack."""
    venv = image_venv
    site = _feed_site()
    procs: dict[str, subprocess.Popen] = {}
    ports = {name: _free_port() for name in CONSUMERS}
    es = es_io.make_client(settings.es_url)
    try:
        with serve(site), SlackReceiver() as receiver:
            registry, url = _write_registry(site, tmp_path)
            env = _role_env(venv, settings, tmp_path, GOVWATCH_FEEDS_FILE=str(registry), **_image_env(tmp_path))
            assert "poll" in _run(["govwatch", "--help"], env=env, cwd=outside)
            # the kibana-import job's code ships in the wheel (generated objects, no file from the checkout)
            _run(["govwatch", "kibana", "export", "--out", tmp_path / "kibana.ndjson"], env=env, cwd=outside)
            exported = (tmp_path / "kibana.ndjson").read_text().splitlines()
            assert "dashboard" in {json.loads(line)["type"] for line in exported if line.strip()}
            out = _run(["govwatch", "init"], env=env, cwd=outside)
            assert f"es index template {settings.index_prefix}-stories: created" in out, out
            for name, mode, hook in (("moratorium now", "immediate", "T1/B1/now"),
                                     ("moratorium digest", "hourly", "T1/B1/digest")):
                _run(["govwatch", "subscriptions", "add", "--name", name, "--query", "moratorium", "--mode", mode,
                      "--webhook-url", "-"], env=env, cwd=outside, stdin=receiver.webhook_url(hook) + "\n")
            _run(["govwatch", "poll", "--once"], env=env, cwd=outside)
            sid = story_id(url)
            assert [r.key for r in read_all(settings.kafka_bootstrap, settings.topic(RAW))] == [sid.encode()]
            assert es.get(index=settings.index("published"), id=sid)["found"]

            for name in CONSUMERS:  # one host, so each replica gets its own metrics port (the image's is 9108)
                log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
                role_env = {**env, "GOVWATCH_METRICS_PORT": str(ports[name]), "GOVWATCH_METRICS_HOST": "127.0.0.1"}
                procs[name] = subprocess.Popen([venv / "bin" / "python", "-m", f"govwatch_consumers.{name}"],
                                               env=role_env, cwd=outside, stdout=log, stderr=subprocess.STDOUT)

            def alive() -> None:
                for name, proc in procs.items():
                    assert proc.poll() is None, f"{name} exited:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"

            _wait_for("an immediate alert in Slack", lambda: any(
                d.path.endswith("/T1/B1/now") for d in receiver.deliveries), alive)
            hits = es.search(index=settings.index("stories"), query={"ids": {"values": [sid]}})["hits"]["hits"]
            assert [hit["_source"]["url"] for hit in hits] == [url]
            for name in CONSUMERS:  # each stage counted its story once it committed it
                _wait_for(f"{name}'s metrics counting the story", lambda name=name: _sample(
                    _scrape(ports[name]), "govwatch_stories_processed_total", stage=name) >= 1, alive)
                # the image's HEALTHCHECK command, as Docker would run it inside that container
                _run([venv / "bin" / "python", "-m", "govwatch.metrics", "check"], cwd=outside,
                     env={**env, "GOVWATCH_METRICS_PORT": str(ports[name])})
            enrich = _scrape(ports["enrich"])
            assert _sample(enrich, "govwatch_batch_duration_seconds_count", stage="enrich") >= 1
            assert [v for (n, labels), v in enrich.items() if n == "govwatch_consumer_lag"
                    and dict(labels)["topic"] == settings.topic(RAW)] != []
            notify = _scrape(ports["notify"])
            assert _sample(notify, "govwatch_slack_deliveries_total", outcome="delivered") == 1
            for proc in procs.values():
                proc.terminate()
            assert {name: proc.wait(timeout=COMMAND_TIMEOUT_S) for name, proc in procs.items()} == dict.fromkeys(
                CONSUMERS, 0)

            ledger = settings.index("alert-ledger")
            _wait_for("the digest entry in the ledger", lambda: es.options(ignore_status=404).count(
                index=ledger, query={"term": {"status": "digest_pending"}}).get("count", 0) == 1)
            _run([venv / "bin" / "python", "-c", "from govwatch_flows.send_digests import send_digests; "
                  "print(send_digests('hourly'))"], env=env, cwd=outside)
            digests = [d for d in receiver.deliveries if d.path.endswith("/T1/B1/digest")]
            assert len(digests) == 1 and url in str(digests[0].payload)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=COMMAND_TIMEOUT_S)
        teardown(settings, groups=[f"{settings.topic_prefix}.{name}" for name in CONSUMERS])


def test_served_poll_deployment_from_the_wheel(venv: Path, settings: Settings, outside: Path, tmp_path: Path) -> None:
    """`govwatch poll --serve` from the wheel serves a deployment whose scheduled run the runner imports and
    completes."""
    site = _feed_site()
    try:
        with serve(site):
            registry, url = _write_registry(site, tmp_path)
            env = _role_env(venv, settings, tmp_path, GOVWATCH_FEEDS_FILE=str(registry))
            _run(["govwatch", "init"], env=env, cwd=outside)
            log_path = tmp_path / "serve.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(["govwatch", "poll", "--serve"], env=env, cwd=outside, stdout=log,
                                        stderr=subprocess.STDOUT)
            try:
                stories = read_all(settings.kafka_bootstrap, settings.topic(RAW), expect=1, timeout_s=WAIT_S)
            finally:
                proc.terminate()
                code = proc.wait(timeout=COMMAND_TIMEOUT_S)
            served = log_path.read_text(errors="replace")
            assert [r.key for r in stories] == [story_id(url).encode()], served[-3000:]
            assert code == 0, served[-3000:]
        deployment = httpx.get(f"{settings.prefect_api_url}/deployments/name/poll-feeds/poll-feeds", timeout=30).json()
        assert deployment["entrypoint"] == "govwatch_flows.poll_feeds.poll_feeds"
    finally:
        teardown(settings)
