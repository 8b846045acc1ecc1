"""``govwatch stack up | down | status``: real Kafka, Elasticsearch and Prefect on loopback, no Docker."""

from __future__ import annotations

from collections.abc import Callable

from govwatch.settings import Settings
from govwatch_dev.stack import procs
from govwatch_dev.stack.servers import Service, all_services

__all__ = ["stack_down", "stack_status", "stack_up"]

Say = Callable[[str], None]


def stack_up(settings: Settings, say: Say = print, only: list[str] | None = None) -> None:
    """Provision and start every service not already healthy; a healthy stack is left untouched.

    Anything this call started is stopped again if a later step fails: nothing half-started is left.
    """
    services = [s for s in all_services(settings) if only is None or s.name in only]
    started: list[Service] = []
    try:
        pending: list[tuple[Service, int]] = []
        for svc in services:
            pid = svc.pid()
            if pid is not None:
                say(f"{svc.name}: already running (pid {pid}) on {svc.address}")
                pending.append((svc, pid))
                continue
            say(f"{svc.name}: provisioning")
            svc.provision()
            pid = svc.start()
            started.append(svc)
            say(f"{svc.name}: started (pid {pid}) on {svc.address}, log {svc.log_file}")
            pending.append((svc, pid))
        for svc, pid in pending:
            procs.wait_until(svc.health, settings.stack_start_timeout_s, pid, svc.name, svc.log_file)
            say(f"{svc.name}: healthy")
    except BaseException:
        for svc in reversed(started):
            svc.stop()
        raise


def stack_down(settings: Settings, say: Say = print) -> None:
    """Stop exactly the processes `stack up` started (by their recorded PIDs)."""
    for svc in reversed(all_services(settings)):
        say(f"{svc.name}: {'stopped' if svc.stop() else 'not running'}")


def stack_status(settings: Settings, say: Say = print) -> bool:
    """Say what runs, where, and its health; True when everything is healthy."""
    ok = True
    for svc in all_services(settings):
        pid = svc.pid()
        if pid is None:
            say(f"{svc.name:<14} stopped      {svc.address}")
            ok = False
            continue
        reason = svc.health()
        ok = ok and reason is None
        say(f"{svc.name:<14} {'healthy' if reason is None else 'UNHEALTHY':<12} {svc.address}  pid {pid}"
            f"  log {svc.log_file}" + (f"  ({reason})" if reason else ""))
    return ok


