"""The feed parse is bounded by construction: hung parses are killed, memory bombs stay in their worker.

The hung input is real: feedparser's author e-mail regex backtracks quadratically (feedparser issue #562),
so each ``<author>`` below costs about a quarter second of CPU and the whole feed minutes; a parse in a thread could
neither be stopped nor, holding the GIL inside the regex, even be waited on with a timeout.
"""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from govwatch.errors import FeedParseError
from govwatch.feeds.parse import parse_feed
from govwatch.feeds.parser_pool import ParserPool

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
NORMAL = (FIXTURES / "theverge-2025-07-01.atom.xml").read_bytes()
# Generous: on a busy 2-core machine a normal feed parses in well under a second; this is no speed claim.
NORMAL_TIMEOUT_S = 60.0
# The hostile feed needs minutes of CPU, so any bound far below that is hit by it and only by it.
HUNG_TIMEOUT_S = 1.0


def _hung_feed(items: int = 1000, width: int = 2000) -> bytes:
    author = "a" * width + "@" + "a." * width + "-"
    entries = "".join(f"<item><title>t{i}</title><author>{author}</author></item>" for i in range(items))
    return f'<rss version="2.0"><channel><title>hostile</title>{entries}</channel></rss>'.encode()


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a killed and reaped worker has no /proc entry)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_more_hung_parses_than_workers_still_let_a_normal_feed_parse() -> None:
    """Six never-ending parses (more than the workers) each fail with the timeout reason, then a normal feed parses."""
    hung = _hung_feed()
    pool = ParserPool()
    try:
        with ThreadPoolExecutor(max_workers=6) as callers:
            futures = [callers.submit(pool.parse, hung, timeout_s=HUNG_TIMEOUT_S) for _ in range(6)]
            for future in futures:
                with pytest.raises(FeedParseError, match=r"feed parse exceeded 1 s; the feed was skipped"):
                    future.result()
        parsed = pool.parse(NORMAL, timeout_s=NORMAL_TIMEOUT_S)
        assert len(parsed.entries) == 10 and parsed.title
    finally:
        pool.close()


def test_timed_out_workers_are_killed_and_reaped_and_close_leaves_no_process() -> None:
    """The worker of a timed-out parse is gone at once, a fresh one parses the next feed, close() stops the rest."""
    pool = ParserPool(workers=2)
    try:
        pool.parse(NORMAL, timeout_s=NORMAL_TIMEOUT_S)
        (first,) = pool.worker_pids()
        with pytest.raises(FeedParseError, match="exceeded 1 s"):
            pool.parse(_hung_feed(), timeout_s=HUNG_TIMEOUT_S)
        assert first not in pool.worker_pids() and not _alive(first)
        assert len(pool.parse(NORMAL, timeout_s=NORMAL_TIMEOUT_S).entries) == 10
        survivors = pool.worker_pids()
        assert survivors and first not in survivors
    finally:
        pool.close()
    assert pool.worker_pids() == [] and not any(_alive(pid) for pid in survivors)
    with pytest.raises(FeedParseError, match="shut down"):
        pool.parse(NORMAL)


def test_memory_bomb_is_refused_with_the_memory_reason_and_the_next_parse_works() -> None:
    """A feed whose parse outgrows the worker's address-space limit fails with the memory reason; the pool recovers."""
    # feedparser holds several copies of an 8 MB title (decoded text, joined pieces, the entry): far past 24 MiB.
    bomb = (b'<rss version="2.0"><channel><title>t</title><item><title>' + b"a" * 8_000_000
            + b"</title></item></channel></rss>")
    pool = ParserPool(workers=1, memory_bytes=24 * 2**20)
    try:
        with pytest.raises(FeedParseError, match=r"exceeded the memory limit \(24 MiB\); the feed was skipped"):
            pool.parse(bomb, timeout_s=NORMAL_TIMEOUT_S)
        assert len(pool.parse(NORMAL, timeout_s=NORMAL_TIMEOUT_S).entries) == 10
    finally:
        pool.close()


def test_parser_errors_and_crashes_keep_their_reason_across_the_process_boundary() -> None:
    """A body that is not a feed is reported as such by the worker, and the same worker parses the next feed."""
    pool = ParserPool(workers=1)
    try:
        with pytest.raises(FeedParseError, match=r"^not a feed"):
            pool.parse(b"<html><body>hello</body></html>")
        (pid,) = pool.worker_pids()
        assert len(pool.parse(NORMAL).entries) == 10 and pool.worker_pids() == [pid]
    finally:
        pool.close()


def test_compressed_bodies_are_not_inflated_by_the_parser() -> None:
    """feedparser never decompresses a body we pass it, so the byte cap (applied to decoded bytes) is what it sees."""
    with pytest.raises(FeedParseError, match=r"^not a feed"):
        parse_feed(gzip.compress(NORMAL), content_type="application/atom+xml")
