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

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "demo"


def test_served_deployment_polls_on_schedule(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """Served outside the checkout, the deployment names its flow by module and its scheduled run publishes the
    sample."""
    settings = initialized
    health = httpx.get(settings.prefect_api_url + "/health", timeout=5)
    assert health.status_code == 200, "the stack's Prefect server must run (govwatch stack up)"
    site = DemoSite(SAMPLE, port=0)
    site.start()
    env = {**os.environ, "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix, "GOVWATCH_INDEX_PREFIX": settings.index_prefix,
           "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_FEEDS_FILE": str(site.registry_path(tmp_path))}
    started = time.time()
    elsewhere = tmp_path / "elsewhere"  # not the checkout: the runner must import the flow by module, not by file
    elsewhere.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "govwatch.cli", "poll", "--serve"], env=env, cwd=elsewhere,
                            stdout=open(tmp_path / "serve.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        stories = read_all(settings.kafka_bootstrap, settings.topic(RAW), expect=27, timeout_s=150, settle_s=2)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        site.stop()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert len({r.key for r in stories}) == 27, log[-3000:]
    runs = httpx.post(settings.prefect_api_url + "/flow_runs/filter", timeout=10, json={
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}},
                      "start_time": {"after_": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 5))}},
        "limit": 20}).json()
    assert any(run["deployment_id"] for run in runs), "no completed run came from the served deployment"
    deployment = httpx.get(settings.prefect_api_url + "/deployments/name/poll-feeds/poll-feeds", timeout=10).json()
    assert deployment["entrypoint"] == "govwatch_flows.poll_feeds.poll_feeds"
