"""The pipeline's processes under fault injection: the four consumers and the repeated poll flow.

Each consumer is a real ``consumers/<name>.py`` process; every incarnation logs to its own file, so
recovery after a restart can be read from the new process' first ``batch_done`` line. A process that
exits without having been killed by the harness is a crash: it is recorded (exit code, log tail) and
restarted, so one crash does not hide the rest of the run. The poll flow runs as ``govwatch poll --once
--all`` processes one after another in a thread, each of which can be killed.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from govwatch_dev.demo import CONSUMERS, REPO

POLL_GAP_S = 1.0  # pause between two poll runs (each run already takes a few seconds to start)
POLL_CMD = [sys.executable, "-c", "import sys; from govwatch.cli import main; sys.exit(main())",
            "poll", "--once", "--all"]


@dataclass
class Incarnation:
    name: str
    proc: subprocess.Popen
    log: Path
    started_wall: float
    killed: bool = False


@dataclass
class Crash:
    name: str
    returncode: int
    tail: str


@dataclass
class Workers:
    """Consumer processes plus the poll loop of one scenario."""

    env: dict[str, str]
    log_dir: Path
    static_members: bool = True
    alive: dict[str, Incarnation] = field(default_factory=dict)
    history: list[Incarnation] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=dict)
    poll_runs: int = 0
    poll_failures: list[str] = field(default_factory=list)
    _poll: Incarnation | None = None
    _poll_thread: threading.Thread | None = None
    _poll_stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- consumers ---------------------------------------------------------------------------------

    def start(self, name: str) -> Incarnation:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        n = sum(1 for inc in self.history if inc.name == name)
        log = self.log_dir / f"{name}.{n}.log"
        # One replica per stage, with a stable name as a StatefulSet pod has: Kafka static membership hands a
        # restarted replica its partitions back at once instead of after the dead member's session timeout.
        env = {**self.env, "GOVWATCH_CONSUMER_INSTANCE": "replica-0"} if self.static_members else self.env
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, str(REPO / "consumers" / f"{name}.py")], env=env,
                                    stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        inc = Incarnation(name, proc, log, time.time())
        with self._lock:
            self.alive[name] = inc
            self.history.append(inc)
        return inc

    def start_all(self) -> None:
        for name in CONSUMERS:
            self.start(name)

    def kill(self, name: str) -> None:
        """SIGKILL one consumer (or the running poll flow, ``name="poll"``); consumers are restarted at once."""
        self.kills[name] = self.kills.get(name, 0) + 1
        if name == "poll":
            inc = self._poll
            if inc is not None and inc.proc.poll() is None:
                inc.killed = True
                inc.proc.send_signal(signal.SIGKILL)
            return
        inc = self.alive[name]
        inc.killed = True
        inc.proc.send_signal(signal.SIGKILL)
        inc.proc.wait()
        self.start(name)

    def check(self) -> None:
        """Record and restart consumers that exited on their own."""
        for name, inc in list(self.alive.items()):
            code = inc.proc.poll()
            if code is not None and not inc.killed:
                tail = "\n".join(inc.log.read_text(errors="replace").splitlines()[-12:])
                self.crashes.append(Crash(name, code, tail))
                self.start(name)

    def stop_all(self) -> None:
        self.stop_polling()
        for inc in self.alive.values():
            if inc.proc.poll() is None:
                inc.proc.terminate()
        for inc in self.alive.values():
            try:
                inc.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.crashes.append(Crash(inc.name, -1, "did not stop within 30 s of SIGTERM (hung); killed"))
                inc.proc.kill()
                inc.proc.wait()
        self.alive.clear()

    # --- the poll flow -----------------------------------------------------------------------------

    def start_polling(self) -> None:
        self._poll_stop.clear()
        self._poll_thread = threading.Thread(target=self._poll_loop, name="chaos-poll", daemon=True)
        self._poll_thread.start()

    def stop_polling(self, grace_s: float = 30.0) -> None:
        """No new poll run; the running one may finish within ``grace_s`` (else it is killed, as a crash would)."""
        self._poll_stop.set()
        if self._poll_thread is not None:
            self._poll_thread.join(timeout=grace_s)
            inc = self._poll
            if self._poll_thread.is_alive() and inc is not None:
                inc.killed = True
                inc.proc.kill()
            self._poll_thread.join(timeout=30)
            self._poll_thread = None

    def _poll_loop(self) -> None:
        n = 0
        while not self._poll_stop.is_set():
            log = self.log_dir / f"poll.{n}.log"
            n += 1
            with open(log, "ab") as out:
                proc = subprocess.Popen(POLL_CMD, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
            inc = Incarnation("poll", proc, log, time.time())
            self._poll = inc
            try:
                code = proc.wait(timeout=600)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = -9
                self.poll_failures.append(f"{log.name}: hung for 600 s, killed")
            self.poll_runs += 1
            if code != 0 and not inc.killed:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
                self.poll_failures.append(f"{log.name}: exit {code}: {tail[0][:200]}")
            self._poll = None
            self._poll_stop.wait(POLL_GAP_S)

    # --- reading the logs --------------------------------------------------------------------------

    def first_batch_after(self, name: str, wall: float, event: str = "batch_done") -> float | None:
        """Wall time of the first ``event`` (a log event name) any incarnation of ``name`` logged after ``wall``."""
        best = None
        for inc in self.history:
            if inc.name != name:
                continue
            for line in inc.log.read_text(errors="replace").splitlines():
                if f'"{event}"' not in line or not line.startswith("{"):
                    continue
                try:
                    stamp = datetime.fromisoformat(json.loads(line)["timestamp"].replace("Z", "+00:00")).timestamp()
                except (ValueError, KeyError):
                    continue
                if stamp > wall and (best is None or stamp < best):
                    best = stamp
                    break
        return best

    @staticmethod
    def first_in_log(inc: Incarnation, event: str) -> float | None:
        """Wall time of the first ``event`` (a log event name) in this incarnation's own log, if any."""
        with contextlib.suppress(OSError):
            for line in inc.log.read_text(errors="replace").splitlines():
                if f'"{event}"' not in line or not line.startswith("{"):
                    continue
                try:
                    return datetime.fromisoformat(json.loads(line)["timestamp"].replace("Z", "+00:00")).timestamp()
                except (ValueError, KeyError):
                    continue
        return None

    def count_in_logs(self, text: str) -> int:
        total = 0
        for inc in self.history:
            with contextlib.suppress(OSError):
                total += inc.log.read_text(errors="replace").count(text)
        return total
