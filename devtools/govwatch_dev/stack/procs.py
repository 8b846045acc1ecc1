"""Process bookkeeping for the local stack: pid files, port checks, readiness waits, stopping by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from govwatch.errors import StackError

LOG_TAIL_LINES = 25


def pid_alive(pid: int) -> bool:
    """True when a process with this PID exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def read_pid(pid_file: Path, marker: str = "") -> int | None:
    """The PID in ``pid_file`` if that process still runs (and its command line contains ``marker``), else None.

    The marker guards against a stale pid file whose number the system has since given to another process.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        return None
    if marker:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        if marker not in cmdline:
            return None
    return pid


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) != 0


def require_free_port(port: int, what: str, setting: str) -> None:
    """Fail with the fix when a port we need is taken by someone else."""
    if not port_free(port):
        raise StackError(
            f"port {port} on 127.0.0.1 (needed by {what}) is already in use by another process; "
            f"stop that process or choose another port with GOVWATCH_{setting.upper()}=<port>"
        )


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def spawn(cmd: list[str], log_file: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start a detached server process in its own session; stdout/stderr go to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
    return proc.pid


def wait_until(check: Callable[[], str | None], timeout_s: float, pid: int | None, what: str, log: Path) -> None:
    """Poll ``check`` (None = healthy, else the reason) until healthy; fail with the log tail."""
    deadline = time.monotonic() + timeout_s
    reason = "not checked"
    while time.monotonic() < deadline:
        reason = check() or ""
        if not reason:
            return
        if pid is not None and not pid_alive(pid):
            raise StackError(f"{what} exited during start-up ({reason}); last lines of {log}:\n{log_tail(log)}")
        time.sleep(0.5)
    raise StackError(
        f"{what} did not become healthy within {timeout_s:.0f}s ({reason}); "
        f"raise GOVWATCH_STACK_START_TIMEOUT_S if the machine is slow. Last lines of {log}:\n{log_tail(log)}"
    )


def stop_pid(pid: int, what: str, grace_s: float = 30.0) -> None:
    """SIGTERM the process group led by ``pid`` (or the process), then SIGKILL after ``grace_s``."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    target_group = pgid == pid  # we started it with start_new_session: it leads its group
    sender = (lambda s: os.killpg(pgid, s)) if target_group else (lambda s: os.kill(pid, s))
    try:
        sender(signal.SIGTERM)
    except ProcessLookupError:
        return
    def gone() -> bool:  # the whole group, so that no child of the server outlives it
        return not pid_alive(pid) and (not target_group or not group_members(pgid))

    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if gone():
            return
        time.sleep(0.2)
    try:
        sender(signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(50):
        if gone():
            return
        time.sleep(0.1)
    raise StackError(f"{what} (pid {pid}) did not stop after SIGKILL")
