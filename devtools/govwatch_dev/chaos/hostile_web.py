"""The hostile-input suite's web cases, against a real ``govwatch web`` process on 127.0.0.1.

* a brute-force burst: ``logins`` wrong logins from one address spread over ``window_s`` through the login form
  (``govwatch_dev.chaos.webprocess.wrong_logins``), while a legitimate user keeps
  loading a page with a valid API token; the server process' CPU over the burst is read from /proc;
* malformed bearer tokens (non-ASCII, absurdly long), a non-ASCII CSRF field, oversized JSON and form bodies:
  each must get a 4xx with a message, never a 500.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from govwatch.settings import Settings
from govwatch_dev.chaos.hostile_report import GOALS, Row, Say
from govwatch_dev.chaos.procfs import cpu_seconds
from govwatch_dev.chaos.webprocess import serve_web_process, wrong_logins

LEGIT_INTERVAL_S = 0.5  # how often the legitimate user loads a page during the burst
OVERSIZED_BYTES = 20 * 1024 * 1024


def brute_force(base: str, user_token: str, logins: int, window_s: float) -> dict[str, Any]:
    """``logins`` wrong logins spread over ``window_s``; a legitimate user's page loads meanwhile."""
    legit: list[tuple[int, float]] = []
    stop = threading.Event()

    def user() -> None:
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {user_token}"}) as client:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    status = client.get("/api/v1/subscriptions").status_code
                except httpx.HTTPError:
                    status = -1
                legit.append((status, time.monotonic() - started))
                stop.wait(LEGIT_INTERVAL_S)

    # The user was signed in before the attack began (a token this process has verified skips the failure limit).
    httpx.get(f"{base}/api/v1/subscriptions", headers={"Authorization": f"Bearer {user_token}"}, timeout=30)
    with ThreadPoolExecutor(1) as pool:
        legit_future = pool.submit(user)
        started = time.monotonic()
        statuses = wrong_logins(base, logins, spread_s=window_s)
        elapsed = time.monotonic() - started
        stop.set()
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
             lambda: client.get(api, headers={b"Authorization": "Bearer gwt_\u00e9\u00e9".encode()})),
            ("64 KB bearer token", lambda: client.get(api, headers={"Authorization": "Bearer " + "a" * 65536})),
            ("non-ASCII CSRF field and cookie",
             lambda: client.post("/login", data={"csrf": "\u00e9" * 32, "token": "x"},
                                 headers={b"Cookie": ("gw_login_csrf=" + "\u00e9" * 32).encode()})),
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
    from govwatch.adapters.es_io import make_client
    from govwatch.web.auth import TokenStore

    user_token = TokenStore(make_client(settings.es_url), settings.index("web-tokens")).create("hostile-suite-user")
    with serve_web_process(settings, log_dir / "web.log") as web:
        say(f"web: {logins} wrong logins within {window_s:.0f} s against {web.base_url}")
        bad = malformed(web.base_url, user_token)  # before the burst, which leaves this address refused
        cpu_before = cpu_seconds(web.pid) or 0.0
        burst = brute_force(web.base_url, user_token, logins, window_s)
        cpu = (cpu_seconds(web.pid) or 0.0) - cpu_before
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
