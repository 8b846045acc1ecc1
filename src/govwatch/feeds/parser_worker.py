"""A feed-parse worker process (``python -m govwatch.feeds.parser_worker <fd> <memory_bytes>``), run by
govwatch.feeds.parser_pool. It caps its own address space, then answers jobs on the socket ``fd`` until the
parent says stop, the parent goes away, or memory runs out.

Protocol (multiprocessing Connection framing, pickles both ways): first the parent's ``sys.path``; then
jobs ``(fn, args)`` (``fn`` a top-level function, pickled by reference) or ``None`` to stop. Answers:
``("ok", value)``, ``("error", message)`` for FeedParseError, ``("crash", "Type: message")`` for any other
exception, ``("memory", "")`` after a MemoryError (and the worker exits: its heap is not to be trusted).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection

if sys.platform != "win32":  # POSIX: resource limits (elsewhere workers run without them)
    import resource

def _address_space_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def limit_memory(extra_bytes: int) -> None:
    """Cap this process's address space at its current size plus ``extra_bytes`` (absolute where unknown)."""
    if sys.platform == "win32":
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = (_address_space_bytes() or 0) + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or limit < soft:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


# CPU seconds one job may use before the kernel ends this worker (SIGXCPU). The parent kills a worker at its
# wall-clock timeout already; this bound also holds when the parent itself was killed mid-parse.
JOB_CPU_LIMIT_S = 60


def limit_job_cpu(seconds: int) -> None:
    """Let the next job use at most ``seconds`` of CPU beyond what this process has used so far."""
    if sys.platform == "win32":
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    limit = int(used.ru_utime + used.ru_stime) + seconds
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))


def _answer(fn: Callable[..., object], args: tuple[object, ...]) -> tuple[str, object]:
    from govwatch.errors import FeedParseError

    try:
        return "ok", fn(*args)
    except MemoryError:
        return "memory", ""
    except FeedParseError as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - a parser on hostile bytes may raise anything; report it
        return "crash", f"{type(exc).__name__}: {exc}"


def serve(conn: Connection, memory_bytes: int) -> None:
    """Answer jobs from ``conn`` until told to stop, the parent goes away or memory runs out."""
    try:
        sys.path[:] = conn.recv()
    except (EOFError, OSError):
        return
    # Imported before the limit: the baseline then includes the parser, and the budget is all for the feed.
    import govwatch.feeds.parse  # noqa: F401

    limit_memory(memory_bytes)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        except MemoryError:  # the body alone did not fit
            conn.send(("memory", ""))
            return
        if job is None:
            return
        limit_job_cpu(JOB_CPU_LIMIT_S)
        reply = _answer(*job)
        del job  # the body: freed before the reply is pickled
        try:
            conn.send(reply)
        except MemoryError:
            reply = ("memory", "")
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 - an unpicklable result is a crash, not a dead worker
            conn.send(("crash", f"the result could not be returned: {type(exc).__name__}: {exc}"))
        if reply[0] == "memory":
            return


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    fd, memory_bytes = int(argv[0]), int(argv[1])
    sock = socket.socket(fileno=fd)
    conn = Connection(sock.detach())
    try:
        serve(conn, memory_bytes)
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1:])
