"""The hostile-input suite's web cases, against a real ``govwatch web`` process on 127.0.0.1.

* a brute-force burst: ``logins`` wrong logins from one address within ``window_s`` (the attacker follows the
  login form as a browser would: GET /login for the CSRF cookie, then POST), while a legitimate user keeps
  loading a page with a valid API token; the server process' CPU over the burst is read from /proc;
* malformed bearer tokens (non-ASCII, absurdly long), a non-ASCII CSRF field, oversized JSON and form bodies:
  each must get a 4xx with a message, never a 500.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from govwatch.demo import REPO
from govwatch.settings import Settings

if TYPE_CHECKING:
    from govwatch.chaos.hostile import Row, Say

READY_TIMEOUT_S = 60.0
ATTACK_THREADS = 8  # concurrent attacker connections, as a script would open
LEGIT_INTERVAL_S = 0.5  # how often the legitimate user loads a page during the burst
OVERSIZED_BYTES = 20 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WebServer:
    """``govwatch web`` in its own process, with a fresh session secret and a user token."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.user_token = ""

    def start(self) -> None:
        from govwatch.es_io import make_client
        from govwatch.web.auth import TokenStore

        self.user_token = TokenStore(make_client(self.settings.es_url), self.settings.index("web-tokens")).create(
            "hostile-suite-user")
        env = dict(os.environ)
        env.update({"GOVWATCH_TOPIC_PREFIX": self.settings.topic_prefix,
                    "GOVWATCH_INDEX_PREFIX": self.settings.index_prefix, "GOVWATCH_ES_URL": self.settings.es_url,
                    "GOVWATCH_WEB_SESSION_SECRET": secrets.token_urlsafe(48), "GOVWATCH_LOG_FORMAT": "json"})
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / "web.log", "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-c", "import sys; from govwatch.cli import main; "
                                          "sys.exit(main())", "web", "--port", str(self.port)],
                                         env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.log_dir / "web.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"govwatch web did not become healthy:\n{tail}")
            time.sleep(0.2)  # readiness poll interval

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def brute_force(base: str, user_token: str, logins: int, window_s: float) -> dict[str, Any]:
    """``logins`` wrong logins spread over at most ``window_s``; a legitimate user's page loads meanwhile."""
    statuses: Counter[int] = Counter()
    attacker_s: list[float] = []
    legit: list[tuple[int, float]] = []
    stop = False
    spacing = window_s / logins

    def attack(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            for i in range(n, logins, ATTACK_THREADS):
                started = time.monotonic()
                try:
                    form = client.get("/login")
                    csrf = form.text.split('name="csrf" value="', 1)[-1].split('"', 1)[0]
                    resp = client.post("/login", data={"csrf": csrf, "token": f"gwt_wrong{i}_{secrets.token_hex(16)}"})
                    statuses[resp.status_code] += 1
                except httpx.HTTPError as exc:
                    statuses[-1] += 1
                    del exc
                attacker_s.append(time.monotonic() - started)
                time.sleep(max(0.0, spacing * ATTACK_THREADS - (time.monotonic() - started)))

    def user() -> None:
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {user_token}"}) as client:
            while not stop:
                started = time.monotonic()
                try:
                    status = client.get("/api/v1/subscriptions").status_code
                except httpx.HTTPError:
                    status = -1
                legit.append((status, time.monotonic() - started))
                time.sleep(LEGIT_INTERVAL_S)

    # The user was signed in before the attack began (a token this process has verified skips the failure limit).
    httpx.get(f"{base}/api/v1/subscriptions", headers={"Authorization": f"Bearer {user_token}"}, timeout=30)
    with ThreadPoolExecutor(ATTACK_THREADS + 1) as pool:
        legit_future = pool.submit(user)
        started = time.monotonic()
        for future in [pool.submit(attack, n) for n in range(ATTACK_THREADS)]:
            future.result()
        elapsed = time.monotonic() - started
        stop = True
        legit_future.result()
    times = sorted(t for _, t in legit)
    return {"statuses": dict(statuses), "elapsed_s": elapsed, "legit_ok": sum(1 for s, _ in legit if s == 200),
            "legit_total": len(legit), "legit_p95_s": times[int(0.95 * (len(times) - 1))] if times else None}


def malformed(base: str, user_token: str) -> list[tuple[str, int, str]]:
    """(what, status, first words of the answer) for each malformed request."""
    out = []
    bearer = {"Authorization": f"Bearer {user_token}", "Content-Type": "application/json"}
    oversized = b"[" + b"1," * (OVERSIZED_BYTES // 2) + b"1]"
    with httpx.Client(base_url=base, timeout=30) as client:
        api = "/api/v1/subscriptions"
        cases: list[tuple[str, Callable[[], httpx.Response]]] = [
            ("non-ASCII bearer token",
             lambda: client.get(api, headers={"Authorization": "Bearer gwt_\u00e9\u00e9".encode()})),
            ("64 KB bearer token", lambda: client.get(api, headers={"Authorization": "Bearer " + "a" * 65536})),
            ("non-ASCII CSRF field and cookie",
             lambda: client.post("/login", data={"csrf": "\u00e9" * 32, "token": "x"},
                                 headers={"Cookie": ("gw_login_csrf=" + "\u00e9" * 32).encode()})),
            ("20 MB JSON body", lambda: client.post(api, content=oversized, headers=bearer)),
            ("JSON that is not an object", lambda: client.post(api, content=b"[[[[[[[[", headers=bearer)),
        ]
        for what, call in cases:
            try:
                resp = call()
                out.append((what, resp.status_code, resp.text[:80].replace("\n", " ")))
            except httpx.HTTPError as exc:
                out.append((what, -1, f"{type(exc).__name__}"))
    return out


def web_cases(settings: Settings, log_dir: Path, say: Say, logins: int, window_s: float,
              figures: dict[str, Any]) -> list[Row]:
    from govwatch.chaos.hostile import GOALS, Row

    server = WebServer(settings, log_dir)
    server.start()
    assert server.proc is not None
    try:
        say(f"web: {logins} wrong logins within {window_s:.0f} s against {server.base}")
        bad = malformed(server.base, server.user_token)  # before the burst, which leaves this address refused
        cpu_before = proc_cpu_s(server.proc.pid)
        burst = brute_force(server.base, server.user_token, logins, window_s)
        cpu = proc_cpu_s(server.proc.pid) - cpu_before
    finally:
        server.stop()
    figures.update(burst_cpu_s=round(cpu, 2), burst=burst)
    refused = burst["statuses"].get(429, 0)
    rows = [Row("web", f"{logins} wrong logins in {burst['elapsed_s']:.0f} s from one address",
                f"answers {burst['statuses']}: {refused} refused (429)",
                f"other user's page: {burst['legit_ok']}/{burst['legit_total']} OK, p95 "
                f"{(burst['legit_p95_s'] or 0) * 1000:.0f} ms",
                f"server CPU {cpu:.1f} s", f"<= {GOALS['burst_cpu_s']:.0f} s",
                refused > 0 and cpu <= GOALS["burst_cpu_s"] and burst["legit_ok"] == burst["legit_total"] > 0,
                timed=True)]
    for what, status, text in bad:
        rows.append(Row("web", what, f"{status} {text}", "-", ok=400 <= status < 500))
    return rows
