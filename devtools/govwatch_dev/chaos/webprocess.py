"""``govwatch web`` as its own process (the real command, so its CPU can be read from /proc), and a login flood.

    with serve_web_process(settings, tmp_path / "web.log", GOVWATCH_WEB_TRUSTED_PROXIES="127.0.0.1/32") as web:
        before = cpu_seconds(web.pid)
        statuses = wrong_logins(web.base_url, 1_000, forwarded_for="203.0.113.9")
        print(cpu_seconds(web.pid) - before)

Used by the hostile-input suite (``govwatch_dev.chaos.hostile_web``) and tests/integration/test_web_bruteforce.py.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from govwatch.settings import Settings
from govwatch_dev.chaos.private_stack import free_ports

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
FLOOD_THREADS = 8  # concurrent attacker connections, as a script would open


@dataclass(frozen=True)
class WebProcess:
    pid: int
    base_url: str
    log: Path


def wait_healthy(base_url: str, timeout_s: float, stopped: Callable[[], str | None]) -> None:
    """Return once ``base_url``/healthz answers 200. ``stopped()`` says why the server is gone (None while it runs):
    then RuntimeError with that reason; TimeoutError past ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        reason = stopped()
        if reason is not None:
            raise RuntimeError(reason)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{base_url}/healthz did not answer within {timeout_s} s")
        time.sleep(0.05)  # readiness poll interval, not a wait for something to happen


def web_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``govwatch web`` process serving ``settings``' indices and topics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    env.update({"GOVWATCH_ES_URL": settings.es_url, "GOVWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
                "GOVWATCH_INDEX_PREFIX": settings.index_prefix, "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix,
                "GOVWATCH_WEB_SESSION_SECRET": secrets.token_urlsafe(48), "GOVWATCH_LOG_FORMAT": "json"})
    hashed = settings.web_admin_token_hash
    if hashed is not None:
        env["GOVWATCH_WEB_ADMIN_TOKEN_HASH"] = hashed.get_secret_value()
    env.update(extra)
    return env


@contextmanager
def serve_web_process(settings: Settings, log: Path, **extra_env: str) -> Iterator[WebProcess]:
    """Run ``govwatch web`` on 127.0.0.1 and a free port until the block ends; ready when /healthz answers 200."""
    port = free_ports(1)[0]
    command = [str(Path(sys.executable).with_name("govwatch")), "web", "--host", "127.0.0.1", "--port", str(port)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, env=web_env(settings, **extra_env), stdout=out, stderr=subprocess.STDOUT,
                                cwd=log.parent)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, READY_TIMEOUT_S, lambda: None if proc.poll() is None else
                     f"govwatch web exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        yield WebProcess(proc.pid, base_url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrong_logins(base_url: str, attempts: int, *, forwarded_for: str | None = None,
                 threads: int = FLOOD_THREADS, spread_s: float = 0.0) -> Counter[int]:
    """``attempts`` wrong logins through the login form as fast as ``threads`` connections go, or spread evenly over
    ``spread_s`` seconds (each connection fetches the form once for its CSRF cookie, as a script would); the count
    of each status code (-1: a transport error)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    statuses: Counter[int] = Counter()
    retry_after: list[str] = []

    def attacker(n: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60, headers=headers) as client:
            page = client.get("/login")
            found = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert found is not None, "the login form carries a CSRF field"
            csrf = found.group(1)
            started = time.monotonic()
            for k, i in enumerate(range(n, attempts, threads)):
                # The k-th attempt of this connection is due k * threads * (spread / attempts) after the start.
                time.sleep(max(0.0, started + k * threads * spread_s / attempts - time.monotonic()))
                try:
                    answer = client.post("/login", data={"csrf": csrf, "token": f"guess-{i}-{secrets.token_hex(8)}"})
                except httpx.HTTPError:
                    statuses[-1] += 1
                    continue
                statuses[answer.status_code] += 1
                if answer.status_code == 429:
                    retry_after.append(answer.headers.get("retry-after", ""))

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(attacker, n) for n in range(threads)]:
            future.result()
    if retry_after and not all(value.isdigit() for value in retry_after):
        statuses[-2] += 1  # a 429 without a usable Retry-After: counted apart so callers see it
    return statuses
