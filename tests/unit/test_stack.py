"""Local stack failure modes: each is one clear line that names the problem and the fix."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from govwatch.errors import StackError
from govwatch.settings import Settings
from govwatch_dev.stack import procs, provision, stack_status


def test_missing_java_home_names_the_setting(tmp_path: Path) -> None:
    """A GOVWATCH_JAVA_HOME without bin/java is refused with the setting's name and what it needs."""
    with pytest.raises(StackError, match=r"GOVWATCH_JAVA_HOME=.*has no bin/java.*JDK 17"):
        provision.find_java(tmp_path)


def test_old_java_is_refused(tmp_path: Path) -> None:
    """A JDK older than 17 is refused with the version found and the fix."""
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    fake.chmod(0o755)
    with pytest.raises(StackError, match=r"is Java 11; .*need Java 17"):
        provision.find_java(tmp_path)


def test_current_java_is_accepted() -> None:
    """The machine's java (17+) is found with its major version."""
    java, major = provision.find_java(None)
    assert java.exists() and major >= 17


def test_missing_maven_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without mvn on PATH the download step says to install Maven."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match=r"Maven \(mvn\) is not installed.*apt-get install maven"):
        provision.kafka_libs(tmp_path, "4.1.1", tmp_path / "pom.xml")


def test_taken_port_names_the_setting() -> None:
    """A port held by another process is reported with the GOVWATCH_ setting that moves it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} .* already in use.*GOVWATCH_KAFKA_PORT"):
            procs.require_free_port(port, "kafka", "kafka_port")


def test_server_dying_at_start_shows_its_log(tmp_path: Path) -> None:
    """A server that exits during start-up is reported with the tail of its log."""
    log = tmp_path / "server.log"
    log.write_text("line 1\nFATAL: cannot lock data directory\n")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    with pytest.raises(StackError, match=r"exited during start-up(.|\n)*cannot lock data directory"):
        procs.wait_until(lambda: "not listening", 5, proc.pid, "elasticsearch", log)


def test_status_of_a_stopped_stack(tmp_path: Path) -> None:
    """With nothing started from this cache dir, status says each service is stopped and returns False."""
    lines: list[str] = []
    ok = stack_status(Settings(cache_dir=tmp_path, kafka_port=1, es_port=2, prefect_port=3), say=lines.append)
    assert ok is False
    assert [line.split()[:2] for line in lines] == [["kafka", "stopped"], ["elasticsearch", "stopped"],
                                                    ["prefect", "stopped"]]


def test_stop_pid_stops_a_process_group() -> None:
    """stop_pid ends the process group we started (a server and its children), leaving nothing behind."""
    pid = procs.spawn([sys.executable, "-c", "import subprocess,sys,time; "
                       "subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']); time.sleep(60)"],
                      Path("/tmp") / "govwatch-test-spawn.log")
    assert procs.pid_alive(pid)
    deadline = time.monotonic() + 10
    while len(procs.group_members(pid)) < 2:  # the server and its child
        assert time.monotonic() < deadline
        time.sleep(0.05)
    procs.stop_pid(pid, "test server", grace_s=5)
    assert not procs.pid_alive(pid)
    assert procs.group_members(pid) == []



def test_stale_pid_file_of_another_process_is_not_ours(tmp_path: Path) -> None:
    """A pid file whose number now belongs to an unrelated process is treated as stopped (the marker differs)."""
    pid_file = tmp_path / "kafka.pid"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pid_file.write_text(str(proc.pid))
        assert procs.read_pid(pid_file) == proc.pid
        assert procs.read_pid(pid_file, marker="kafka.Kafka") is None
        assert procs.read_pid(pid_file, marker="time.sleep") == proc.pid
    finally:
        proc.kill()
        proc.wait()
