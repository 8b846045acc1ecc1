"""Feed parses in killable worker processes: a hung or memory-hungry parse costs one worker, never the poller.

A thread cannot be stopped, so a parse that never ends used to hold its pool thread for good (four hostile
feeds and every later feed "timed out"). Here each parse (govwatch.feeds.parse.parse_body, after the cheap
refusals of refuse_hostile in the caller's process) runs in one of a few long-lived worker processes
(govwatch.feeds.parser_worker):

- on timeout the worker is killed (SIGKILL) and reaped; a fresh one takes its slot on the next parse;
- each worker caps its own address space (``RLIMIT_AS``), so a memory bomb raises MemoryError (or kills)
  inside that worker only; it reports, exits and is replaced;
- workers are fresh interpreters (``python -m govwatch.feeds.parser_worker``, i.e. the ``spawn`` model, not
  ``fork``): the poller runs inside Prefect with threads, and a forked child could inherit a lock another
  thread holds. Unlike multiprocessing's spawn/forkserver they do not re-import the caller's ``__main__``
  (a flow file, a benchmark, or ``python -`` where that fails outright);
- the pool starts workers lazily and reuses them (a process per feed would cost far more than the parse).
  It is an explicit object: whoever wires the poller (govwatch.wiring.poll) creates one and closes it with the
  poll runtime: idle workers are told to stop, busy ones killed, all reaped. A worker whose parent goes away
  without closing sees its socket end and exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar, cast

from govwatch.errors import FeedParseError
from govwatch.feeds.parse import DEFAULT_MAX_BYTES, ParsedFeed, parse_body, refuse_hostile

# Address space a worker may add above its size once the parser is imported. A legitimate 10 MB feed peaks
# at a few hundred MB of Python objects in feedparser (measured ~25-30x the body for many small entries);
# 1 GiB leaves room while keeping one hostile feed from taking the machine's memory.
DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024
# Parses are CPU-bound and short (~10-20 ms); more workers than cores buys nothing but memory. Two at least,
# so one slow feed never serialises the others.
DEFAULT_WORKERS = max(2, min(4, os.cpu_count() or 2))
DEFAULT_PARSE_TIMEOUT_S = 10.0
R = TypeVar("R")
# How long an idle worker told to stop may take before it is killed (it exits at once).
_STOP_GRACE_S = 5.0
_SRC = str(Path(__file__).resolve().parents[2])  # the directory holding the govwatch package


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection


class ParserPool:
    """A few long-lived worker processes; ``parse`` gives one feed a worker and a wall-clock bound. Thread-safe."""

    def __init__(self, workers: int = DEFAULT_WORKERS, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        if workers < 1:
            raise ValueError(f"a parse pool needs at least 1 worker, got {workers}")
        self.size, self.memory_bytes = workers, memory_bytes
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._workers: dict[int, _Worker] = {}  # every live worker, idle or busy (by id), for close()
        self._slots = 0  # workers live or being started; at most ``size``
        self._closed = False

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (idle or busy)."""
        with self._cond:
            return [w.process.pid for w in self._workers.values()]

    def parse(self, body: bytes, *, content_type: str | None = None, base_url: str | None = None,
              max_entries: int = 200, max_bytes: int = DEFAULT_MAX_BYTES,
              timeout_s: float = DEFAULT_PARSE_TIMEOUT_S, now: datetime | None = None) -> ParsedFeed:
        """Parse feed bytes in a worker; FeedParseError when nothing usable comes out, the input is hostile, or the
        parse overruns ``timeout_s`` or the workers' memory limit."""
        refuse_hostile(body, max_bytes)
        return self.run(parse_body, body, content_type, base_url, max_entries, now or datetime.now(UTC),
                        timeout_s=timeout_s)

    def run(self, fn: Callable[..., R], *args: object, timeout_s: float) -> R:
        """``fn(*args)`` in a worker. FeedParseError on timeout, memory limit, worker death or any exception."""
        for attempt in (1, 2):
            worker = self._acquire()
            try:
                worker.conn.send((fn, args))
            except (OSError, EOFError):
                # An idle worker that died (say the OOM killer) is not this job's fault: one fresh try.
                self._discard(worker)
                if attempt == 2:
                    raise FeedParseError("feed parse worker could not be started; the feed was skipped") from None
                continue
            return cast(R, self._await(worker, timeout_s))
        raise AssertionError("unreachable")

    def _await(self, worker: _Worker, timeout_s: float) -> object:
        healthy = False
        try:
            if not worker.conn.poll(timeout_s):
                raise FeedParseError(f"feed parse exceeded {timeout_s:g} s; the feed was skipped")
            kind, value = worker.conn.recv()
        except (EOFError, OSError):
            raise FeedParseError(f"feed parse worker died ({_exit_reason(_reap(worker.process))}); "
                                 "the feed was skipped") from None
        else:
            healthy = kind != "memory"
        finally:
            if healthy:
                self._release(worker)
            else:
                self._discard(worker)
        if kind == "ok":
            return value
        if kind == "memory":
            raise FeedParseError(f"feed parse exceeded the memory limit ({self.memory_bytes // 2**20} MiB); "
                                 "the feed was skipped")
        if kind == "error":
            raise FeedParseError(value)
        raise FeedParseError(f"parser crashed: {value}")

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones killed; all are reaped. Idempotent."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = [w for w in self._workers.values() if all(w is not i for i in idle)]
            self._cond.notify_all()
        for worker in idle:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in idle:
            _reap(worker.process)
            self._discard(worker)
        for worker in busy:
            self._discard(worker)

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise FeedParseError("the feed parse pool is shut down (the process is exiting)")
                if self._idle:
                    return self._idle.pop()
                if self._slots < self.size:
                    self._slots += 1
                    break
                self._cond.wait()
        try:
            worker = self._start()
        except BaseException:
            with self._cond:
                self._slots -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            self._workers[id(worker)] = worker
        return worker

    def _start(self) -> _Worker:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_SRC, os.environ.get("PYTHONPATH")])))
        try:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                [sys.executable, "-m", "govwatch.feeds.parser_worker", str(child_sock.fileno()),
                 str(self.memory_bytes)], pass_fds=(child_sock.fileno(),), env=env, stdin=subprocess.DEVNULL)
        except OSError as exc:
            parent_sock.close()
            raise FeedParseError(f"feed parse worker could not be started ({exc}); the feed was skipped") from exc
        finally:
            child_sock.close()
        conn = Connection(parent_sock.detach())
        # Jobs name their function by module: the worker imports from where we do (test modules included).
        conn.send(list(sys.path))
        return _Worker(process, conn)

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        self._discard(worker)

    def _discard(self, worker: _Worker) -> None:
        """Kill (if still running), reap and forget ``worker``; its slot is free for a fresh one."""
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        worker.conn.close()
        with self._cond:
            if self._workers.pop(id(worker), None) is not None:
                self._slots -= 1
            self._idle = [w for w in self._idle if w is not worker]
            self._cond.notify_all()


def _reap(process: subprocess.Popen[bytes]) -> int | None:
    """The worker's exit code once it has exited (waiting up to the grace period), else None."""
    try:
        return process.wait(_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        return None


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "its connection broke"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"

