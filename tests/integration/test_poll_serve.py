"""`govwatch poll --serve`: a scheduled deployment on the stack's Prefect server runs the poll flow by itself.

The same from an installed wheel: tests/integration/test_installed_package.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from govwatch.adapters.kafka_topics import RAW
from govwatch_dev.demo_site import DemoSite
from tests.support.kafka_util import read_all

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "demo-legacy"  # 27 entries, counted below


def test_served_deployment_polls_on_schedule(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """Served outside the checkout, the deployment names its flow by module and its scheduled run publishes the
    sample."""
    settings = initialized
    health = httpx.get(settings.prefect_api_url + "/health", timeout=5)
    assert health.status_code == 200, "the stack's Prefect server must run (govwatch stack up)"
    site = DemoSite(SAMPLE, port=0)
    site.start()
    started = time.time()
    elsewhere = tmp_path / "elsewhere"  # not the checkout: the runner must import the flow by module, not by file
    elsewhere.mkdir()
    proc = _serve(settings, site.registry_path(tmp_path), elsewhere, tmp_path / "serve.log")
    try:
        stories = read_all(settings.kafka_bootstrap, settings.topic(RAW), expect=27, timeout_s=150, settle_s=2)
        # The run publishes its stories before it reports COMPLETED: wait for that state before stopping the runner
        # (stopped earlier, the run in flight ends cancelled, as seen once on a loaded machine).
        completed = _completed_deployment_run(settings.prefect_api_url, started, timeout_s=120)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        site.stop()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert len({r.key for r in stories}) == 27, log[-3000:]
    assert completed, "no completed run came from the served deployment within 120 s\n" + log[-3000:]
    deployment = httpx.get(settings.prefect_api_url + "/deployments/name/poll-feeds/poll-feeds", timeout=10).json()
    assert deployment["entrypoint"] == "govwatch_flows.poll_feeds.poll_feeds"


def _completed_deployment_run(api: str, started: float, timeout_s: float) -> bool:
    """Whether a run of a deployment that started after `started` reaches COMPLETED within timeout_s."""
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 5))
    deadline = time.monotonic() + timeout_s
    while True:
        runs = httpx.post(api + "/flow_runs/filter", timeout=10, json={
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}, "start_time": {"after_": after}},
            "limit": 20}).json()
        if any(run["deployment_id"] for run in runs):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def _serve(settings, registry: Path, cwd: Path, log: Path) -> subprocess.Popen[bytes]:  # noqa: ANN001
    env = {**os.environ, "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
           "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_FEEDS_FILE": str(registry)}
    return subprocess.Popen([sys.executable, "-m", "govwatch.cli", "poll", "--serve"], env=env, cwd=cwd,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def _tail(log: Path) -> str:
    return "runner log (tail):\n" + log.read_text(errors="replace")[-4000:] if log.exists() else "no runner log\n"


def _runs_of(api: str, deployment_id: str) -> str:
    """Every run of the deployment with its state and scheduled time, for a failure message."""
    runs = httpx.post(api + "/flow_runs/filter", timeout=10, json={
        "deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 50}).json()
    lines = [f"  {r['id']} {r['state_type']}/{r['state_name']} expected {r['expected_start_time']} "
             f"auto={r['auto_scheduled']}" for r in runs]
    return "runs of the deployment:\n" + "\n".join(lines) + "\n"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=90)


def test_late_runs_after_a_pause_do_not_publish_twice(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """Runs scheduled while the runner was away are all late when it comes back; they run one at a time, so the
    sample is published once, not once per late run."""
    settings = initialized
    api = settings.prefect_api_url
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    empty = tmp_path / "empty.yaml"
    empty.write_text("feeds: []\n", encoding="utf-8")
    first = _serve(settings, empty, elsewhere, tmp_path / "first.log")  # makes the deployment, then pauses it
    try:
        deadline = time.monotonic() + 120
        while (found := httpx.get(api + "/deployments/name/poll-feeds/poll-feeds", timeout=10)).status_code != 200:
            assert time.monotonic() < deadline, "the served deployment never appeared"
            time.sleep(0.5)
    finally:
        _stop(first)
    deployment_id = found.json()["id"]
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
    late = [httpx.post(f"{api}/deployments/{deployment_id}/create_flow_run", timeout=10, json={
        "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": past}}}).json()["id"] for _ in range(3)]
    site = DemoSite(SAMPLE, port=0)
    site.start()
    second = _serve(settings, site.registry_path(tmp_path), elsewhere, tmp_path / "second.log")
    try:
        deadline = time.monotonic() + 240
        while True:
            states = [httpx.get(f"{api}/flow_runs/{run}", timeout=10).json()["state"]["type"] for run in late]
            if all(state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for state in states):
                break
            assert time.monotonic() < deadline, (f"the late runs did not finish: {states}\n"
                                                 + _runs_of(api, deployment_id) + _tail(tmp_path / "second.log"))
            time.sleep(1)
        stories = read_all(settings.kafka_bootstrap, settings.topic(RAW), expect=27, timeout_s=60, settle_s=3)
    finally:
        _stop(second)
        site.stop()
    log = (tmp_path / "second.log").read_text(errors="replace")
    assert states == ["COMPLETED"] * 3, log[-3000:]
    keys = [r.key for r in stories]
    assert len(set(keys)) == 27, log[-3000:]
    assert len(keys) == 27, f"{len(keys) - len(set(keys))} stories published twice"
