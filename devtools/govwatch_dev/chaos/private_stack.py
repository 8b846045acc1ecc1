"""A private Kafka + Elasticsearch (+ optionally Prefect) for fault injection, never the shared stack.

The shared stack on the default ports serves other people's tests, so the fault-injection suite starts its
own servers with ``govwatch_dev.stack`` on free ports, with a cache dir of its own (pid files, logs, Kafka data,
the unpacked Elasticsearch) under one temp directory. The downloads are reused, not fetched again: the
private cache links to the shared cache's Kafka classpath and Elasticsearch zip. Faults are sent to the
process group of the recorded pid (Elasticsearch runs as ``runuser`` -> launcher -> server JVM), and
:meth:`PrivateStack.close` kills every process it started and removes the temp directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

from govwatch.settings import Settings
from govwatch_dev.stack import procs, stack_up
from govwatch_dev.stack.servers import ElasticsearchServer, KafkaServer, PrefectServer, Service

HEAP = "512m"
KILL_WAIT_S = 30.0


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that nothing listens on right now (the kernel's ephemeral choice)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in socks:
            sock.close()
    return ports


def _link_downloads(shared: Settings, cache: Path) -> None:
    """Point the private cache at the shared cache's Kafka libs and ES zip (when they exist) instead of
    re-downloading."""
    libs = shared.cache_dir / f"kafka-{shared.kafka_version}" / "libs"
    if (libs / ".complete").exists():
        (cache / f"kafka-{shared.kafka_version}").mkdir(parents=True, exist_ok=True)
        (cache / f"kafka-{shared.kafka_version}" / "libs").symlink_to(libs)
    zip_path = shared.cache_dir / "downloads" / f"elasticsearch-{shared.es_version}.zip"
    if zip_path.exists():
        (cache / "downloads").mkdir(parents=True, exist_ok=True)
        (cache / "downloads" / zip_path.name).symlink_to(zip_path)


class PrivateStack:
    """Kafka and Elasticsearch (and Prefect with ``prefect=True``) of our own, on free loopback ports."""

    def __init__(self, shared: Settings | None = None, prefect: bool = False, say=print) -> None:  # noqa: ANN001
        shared = shared or Settings()
        self.root = Path(tempfile.mkdtemp(prefix="govwatch-chaos-"))
        self.root.chmod(0o755)  # Elasticsearch's own user must reach its directory below
        cache = self.root / "cache"
        _link_downloads(shared, cache)
        kafka, controller, es, transport, pf = free_ports(5)
        self.settings = shared.model_copy(update={
            "cache_dir": cache, "es_base_dir": self.root / "es", "kafka_port": kafka,
            "kafka_controller_port": controller,
            "es_port": es, "es_transport_port": transport, "prefect_port": pf, "kafka_heap": HEAP, "es_heap": HEAP,
            "kafka_bootstrap": f"127.0.0.1:{kafka}", "es_url": f"http://127.0.0.1:{es}",
            "prefect_api_url": f"http://127.0.0.1:{pf}/api" if prefect else shared.prefect_api_url,
            "stack_start_timeout_s": max(shared.stack_start_timeout_s, 240.0)})
        self.with_prefect = prefect
        self.say = say
        self.kafka = KafkaServer(self.settings)
        self.es = ElasticsearchServer(self.settings)
        self.prefect = PrefectServer(self.settings)
        self._stopped: set[str] = set()

    def services(self) -> list[Service]:
        return [self.kafka, self.es] + ([self.prefect] if self.with_prefect else [])

    def start(self) -> None:
        try:
            stack_up(self.settings, say=lambda line: self.say(f"  [private stack] {line}"),
                     only=[s.name for s in self.services()])
        except BaseException:
            self.close()
            raise

    # --- faults ------------------------------------------------------------------------------------

    def _signal(self, svc: Service, sig: signal.Signals) -> int:
        pid = svc.pid()
        if pid is None:
            raise RuntimeError(f"private {svc.name} is not running (pid file {svc.pid_file})")
        os.killpg(os.getpgid(pid), sig)  # the whole group: ES's server JVM is a child of the recorded pid
        return pid

    def kill(self, svc: Service) -> None:
        """kill -9 the server (its process group) and wait until it is gone."""
        pid = self._signal(svc, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT_S
        while (procs.pid_alive(pid) or procs.group_members(pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        svc.pid_file.unlink(missing_ok=True)

    def pause(self, svc: Service) -> None:
        self._signal(svc, signal.SIGSTOP)
        self._stopped.add(svc.name)

    def resume(self, svc: Service) -> None:
        self._signal(svc, signal.SIGCONT)
        self._stopped.discard(svc.name)

    def resume_all(self) -> None:
        """SIGCONT whatever a fault left stopped (before anything talks to it again)."""
        for svc in self.services():
            if svc.name in self._stopped:
                self.resume(svc)

    def restart(self, svc: Service) -> float:
        """Start a killed server again and wait until healthy; returns the seconds that took."""
        started = time.monotonic()
        svc.provision()
        pid = svc.start()
        procs.wait_until(svc.health, self.settings.stack_start_timeout_s, pid, svc.name, svc.log_file)
        return time.monotonic() - started

    # --- cleanup -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Kill everything this stack started (by recorded pid) and remove its directory."""
        for svc in self.services():
            pid = svc.pid()
            if pid is None:
                continue
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + KILL_WAIT_S
            while (procs.pid_alive(pid) or procs.group_members(pid)) and time.monotonic() < deadline:
                time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivateStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
