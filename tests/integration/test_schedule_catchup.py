"""A runner that comes back after an outage: on the real Prefect server, the late ticks of a deployment's schedule
are superseded but the newest, which runs at once; a person's run and the future ticks are left alone.

The end-to-end form (a served poll deployment whose late runs publish the sample once) is in test_poll_serve.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from govwatch_flows.serving import SUPERSEDED, supersede_late_runs

TICK_S = 2  # a short schedule, so that ticks become late within seconds; the product's ticks are 60 s and more


def _deploy(api: str, flow_id: str, name: str) -> str:
    """Create or replace (a runner serving again does this) a deployment that ticks every TICK_S seconds; no runner
    serves it, so its ticks only become late. Through the REST API, as a runner's deployment is made."""
    response = httpx.post(api + "/deployments/", timeout=30, json={
        "name": name, "flow_id": flow_id, "paused": False,
        "schedules": [{"schedule": {"interval": TICK_S}, "active": True}]})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


@pytest.fixture
def deployment(initialized) -> Iterator[tuple[str, str, str, str]]:  # noqa: ANN001
    api = initialized.prefect_api_url
    health = httpx.get(api + "/health", timeout=10)
    assert health.status_code == 200, "the stack's Prefect server must run (govwatch stack up)"
    flow_id = httpx.post(api + "/flows/", timeout=30, json={"name": "catchup-probe"}).json()["id"]
    name = f"catchup-{uuid.uuid4().hex[:8]}"
    deployment_id = _deploy(api, flow_id, name)
    try:
        yield api, flow_id, deployment_id, name
    finally:
        httpx.delete(f"{api}/deployments/{deployment_id}", timeout=30)


def _runs(api: str, deployment_id: str) -> list[dict]:
    return httpx.post(api + "/flow_runs/filter", timeout=30, json={
        "deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 200}).json()


def _wait_for_late_ticks(api: str, deployment_id: str, count: int) -> list[dict]:
    """The server schedules the ticks itself: wait until at least `count` of them are late."""
    deadline = time.monotonic() + 180
    while True:
        late = [r for r in _runs(api, deployment_id)
                if r["auto_scheduled"] and r["state_type"] == "SCHEDULED" and _due(r) < datetime.now(UTC)]
        if len(late) >= count:
            return late
        assert time.monotonic() < deadline, f"fewer than {count} late ticks: {_runs(api, deployment_id)}"
        time.sleep(1)


def _due(run: dict) -> datetime:
    return datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00"))


def test_late_ticks_but_the_newest_are_superseded_once(deployment) -> None:  # noqa: ANN001
    api, flow_id, deployment_id, short = deployment
    name = f"catchup-probe/{short}"
    asked = httpx.post(f"{api}/deployments/{deployment_id}/create_flow_run", timeout=30, json={
        "state": {"type": "SCHEDULED", "state_details": {
            "scheduled_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))}}}).json()
    _wait_for_late_ticks(api, deployment_id, 3)
    # A runner that serves again replaces the schedule: the late ticks of one outage then come from two schedules.
    assert _deploy(api, flow_id, short) == deployment_id
    late = _wait_for_late_ticks(api, deployment_id, 6)
    assert len({r["created_by"]["id"] for r in late}) >= 2, "the late ticks should come from two schedules"

    moment = datetime.now(UTC)
    lines = supersede_late_runs([name], now=lambda: moment)

    runs = {r["id"]: r for r in _runs(api, deployment_id)}
    ticks = [r for r in runs.values() if r["auto_scheduled"]]
    due = sorted((r for r in ticks if _due(r) <= moment), key=_due)
    assert len(due) >= 6
    newest = due[-1]
    assert newest["state_type"] == "SCHEDULED", newest
    for run in due[:-1]:
        assert (run["state_type"], run["state_name"], run["run_count"]) == ("CANCELLED", SUPERSEDED, 0), run
        assert newest["id"] in run["state"]["message"], run["state"]["message"]
    assert all(r["state_type"] == "SCHEDULED" for r in ticks if _due(r) > moment), "a future tick was touched"
    assert runs[asked["id"]]["state_type"] == "SCHEDULED", "a run a person asked for was superseded"
    assert len(lines) == 1
    assert lines[0].startswith(f"{name}: {len(due) - 1} late scheduled runs superseded"), lines

    again = supersede_late_runs([name], now=lambda: moment)  # a second runner starting at the same moment
    assert again == [f"{name}: no late scheduled runs to catch up"]
    assert httpx.get(f"{api}/flow_runs/{newest['id']}", timeout=30).json()["state"]["type"] == "SCHEDULED"


def test_a_deployment_not_yet_made_has_nothing_to_catch_up(initialized) -> None:  # noqa: ANN001
    assert supersede_late_runs(["catchup-probe/never-deployed"]) == [
        "catchup-probe/never-deployed: not deployed yet, nothing to catch up"]


def test_a_served_flow_uses_the_configured_server_without_prefect_api_url(initialized, tmp_path) -> None:  # noqa: ANN001
    """Prefect reads PREFECT_API_URL when it is imported, before a flow's main() runs: with only
    GOVWATCH_PREFECT_API_URL set, a served flow must still catch up and serve on that server, not on a temporary one."""
    api = initialized.prefect_api_url
    started = datetime.now(UTC)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(GOVWATCH_PREFECT_API_URL=api, GOVWATCH_TOPIC_PREFIX=initialized.topic_prefix,
               GOVWATCH_INDEX_PREFIX=initialized.index_prefix)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "govwatch_flows.spikes"], env=env, cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:  # serving (re)writes the deployment on the server it talks to
            found = httpx.get(api + "/deployments/name/evaluate-spikes/every-interval", timeout=30)
            if found.status_code == 200 and datetime.fromisoformat(
                    found.json()["updated"].replace("Z", "+00:00")) >= started:
                break
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the flow never served on the configured server\n" + log.read_text(
                errors="replace")[-3000:]
            time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(timeout=90)
    text = log.read_text(errors="replace")
    assert "temporary server" not in text, text[-3000:]
    assert "evaluate-spikes/every-interval: " in text, text[-3000:]  # the catch-up line, from the same server
