"""Poll orchestration: which feeds are due, per-host politeness, and one feed's
fetch -> parse -> dedup -> publish -> record -> state. Adapters and the feed parser (a ParserPool: parses in
killable worker processes) are injected; Prefect lives in flows/.

Ordering is what makes publishing once-only: stories are acknowledged by Kafka before their ids are recorded
as published (PublishedIds), and the feed's state (validators, body hash) advances only after both. A crash in
between re-sends at most the stories of one feed, which the published ids or the consumers' idempotent sinks
absorb.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from govwatch.errors import FeedParseError, FetchRefused, GovwatchError, RateLimited, TransientError
from govwatch.feeds.parse import ParsedEntry, ParsedFeed
from govwatch.feeds.registry import Feed
from govwatch.feeds.state import FeedState, IntervalPolicy, after_failure, after_success, validators_for
from govwatch.identity import canonical_url, guid_story_id, id_of_canonical
from govwatch.log import get_logger
from govwatch.models import RawStory, Trace, utcnow
from govwatch.settings import Settings

log = get_logger("govwatch.poller")


class FetchedFeed(Protocol):
    """What the poller reads of one conditional GET (govwatch.adapters.fetch.FetchResult)."""

    @property
    def final_url(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def body_hash(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def etag(self) -> str | None: ...
    @property
    def last_modified(self) -> str | None: ...
    @property
    def not_modified(self) -> bool: ...
    @property
    def max_age(self) -> float | None: ...
    @property
    def retry_after(self) -> float | None: ...


class Fetcher(Protocol):
    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchedFeed: ...


class StateStore(Protocol):
    def get(self, feed_id: str) -> FeedState: ...
    def put(self, state: FeedState) -> None: ...


class PublishedIds(Protocol):
    """Which story ids were already published; ``record`` adds the ones just published."""

    def already_published(self, ids: list[str]) -> set[str]: ...
    def record(self, stories: Iterable[RawStory]) -> int: ...


class FeedParser(Protocol):
    """Feed bytes -> ParsedFeed, bounded in time and memory (govwatch.feeds.parser_pool.ParserPool)."""

    def parse(self, body: bytes, *, content_type: str | None, base_url: str | None, max_entries: int,
              max_bytes: int) -> ParsedFeed: ...


class Publisher(Protocol):
    def publish(self, stories: list[RawStory]) -> list[RawStory]: ...


class HostLimiter:
    """One request at a time per host, and at least ``spacing_s`` between the starts of two requests to it."""

    def __init__(self, spacing_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.spacing_s, self.clock, self.sleep = spacing_s, clock, sleep
        self._locks: dict[str, threading.Lock] = {}
        self._last_start: dict[str, float] = {}
        self._guard = threading.Lock()

    def slot(self, host: str) -> _HostSlot:
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        return _HostSlot(self, host, lock)


class _HostSlot:
    def __init__(self, limiter: HostLimiter, host: str, lock: threading.Lock) -> None:
        self.limiter, self.host, self.lock = limiter, host, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        last = self.limiter._last_start.get(self.host)  # noqa: SLF001
        if last is not None:
            wait = last + self.limiter.spacing_s - self.limiter.clock()
            if wait > 0:
                self.limiter.sleep(wait)
        self.limiter._last_start[self.host] = self.limiter.clock()  # noqa: SLF001

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


@dataclass
class FeedOutcome:
    feed_id: str
    status: str  # "new" | "unchanged" | "not_modified" | "error"
    new_stories: int = 0
    entries: int = 0
    error_kind: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    story_ids: list[str] = field(default_factory=list)


@dataclass
class RunSummary:
    feeds_due: int = 0
    feeds_polled: int = 0
    not_modified: int = 0
    unchanged: int = 0
    new_stories: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_details: list[tuple[str, str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def add(self, outcome: FeedOutcome) -> None:
        self.feeds_polled += 1
        self.new_stories += outcome.new_stories
        if outcome.status == "not_modified":
            self.not_modified += 1
        elif outcome.status == "unchanged":
            self.unchanged += 1
        elif outcome.status == "error":
            self.errors[outcome.error_kind or "other"] += 1
            self.error_details.append((outcome.feed_id, outcome.error_kind or "other", outcome.error or ""))

    def render(self) -> str:
        errors = ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items())) or "none"
        lines = [f"poll summary: feeds due {self.feeds_due}, polled {self.feeds_polled}, not-modified "
                 f"{self.not_modified}, unchanged {self.unchanged}, new stories {self.new_stories}, "
                 f"errors {errors} ({self.elapsed_s:.1f}s)"]
        lines += [f"  error {kind} {feed_id}: {reason}" for feed_id, kind, reason in self.error_details]
        return "\n".join(lines)


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, FetchRefused):
        return "refused"
    if isinstance(exc, FeedParseError):
        return "parse"
    if isinstance(exc, TransientError):
        return "transient"
    return "other"


def is_transient(exc: BaseException) -> bool:
    """The retry condition: timeouts, 429, 5xx, broker/ES unavailable. Never refusals or bad feeds."""
    return isinstance(exc, TransientError)


class Poller:
    """Polls feeds with injected fetcher, state store, published ids, publisher and parser. Thread-safe per feed."""

    def __init__(self, settings: Settings, fetcher: Fetcher, states: StateStore, published_ids: PublishedIds,
                 publisher: Publisher, parser: FeedParser, limiter: HostLimiter | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.fetcher, self.states, self.publisher = fetcher, states, publisher
        self.published_ids = published_ids
        self.parser = parser
        self.limiter = limiter or HostLimiter(settings.poll_host_spacing_s)
        self.policy = IntervalPolicy.from_settings(settings)
        self.clock = clock

    def due(self, feeds: Iterable[Feed], force: bool = False) -> list[Feed]:
        """Feeds whose next_due_at has passed (all with ``force``), most overdue first."""
        now = self.clock()
        due = [f for f in feeds if force or self.states.get(f.id).is_due(now)]
        return sorted(due, key=lambda f: self.states.get(f.id).next_due_at or datetime.min.replace(tzinfo=now.tzinfo))

    def poll_feed(self, feed: Feed, *, final_attempt: bool = True) -> FeedOutcome:
        """Poll one feed. Transient errors are raised for a retry unless this is the final attempt; every
        other outcome (and a final transient one) is recorded in the feed's state and returned."""
        started = time.monotonic()
        state = self.states.get(feed.id)
        try:
            outcome = self._poll(feed, state)
        except GovwatchError as exc:
            if is_transient(exc) and not final_attempt:
                log.info("feed_retry", feed_id=feed.id, error=str(exc))
                raise
            kind = error_kind(exc)
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
            self.states.put(after_failure(state, self.clock(), policy=self.policy, error=str(exc),
                                          retry_after=retry_after))
            outcome = FeedOutcome(feed.id, "error", error_kind=kind, error=str(exc))
        outcome.elapsed_s = time.monotonic() - started
        log.info("feed_polled", feed_id=feed.id, status=outcome.status, new=outcome.new_stories,
                 entries=outcome.entries, error_kind=outcome.error_kind, error=outcome.error,
                 elapsed_s=round(outcome.elapsed_s, 3))
        return outcome

    def _poll(self, feed: Feed, state: FeedState) -> FeedOutcome:
        etag, last_modified, old_hash = validators_for(state, feed.url)
        with self.limiter.slot(feed.host):
            result = self.fetcher.fetch(feed.url, etag=etag, last_modified=last_modified)
        now = self.clock()
        server_min = max(result.max_age or 0.0, result.retry_after or 0.0) or None
        if result.not_modified or result.body_hash == old_hash:
            self.states.put(after_success(
                state, now, policy=self.policy, new_stories=0, entry_times=(), server_min_s=server_min,
                etag=result.etag or etag, last_modified=result.last_modified or last_modified, body_hash=old_hash,
                pinned_interval=feed.interval_s, url=feed.url))
            return FeedOutcome(feed.id, "not_modified" if result.not_modified else "unchanged")
        parsed = self.parser.parse(result.body, content_type=result.headers.get("content-type"),
                                   base_url=result.final_url, max_entries=self.settings.poll_max_entries,
                                   max_bytes=self.settings.http_max_bytes)
        if parsed.bozo_reason:
            log.warning("feed_bozo", feed_id=feed.id, reason=parsed.bozo_reason, entries=len(parsed.entries))
        candidates = self.stories_from(feed, parsed.entries, now)
        seen = self.published_ids.already_published(list(candidates))
        fresh = [s for sid, s in candidates.items() if sid not in seen]
        if fresh:
            sent = self.publisher.publish(fresh)
            self.published_ids.record(sent)
        server_min = max(server_min or 0.0, parsed.ttl_s or 0.0) or None
        self.states.put(after_success(
            state, now, policy=self.policy, new_stories=len(fresh),
            entry_times=[e.published_at for e in parsed.entries if e.published_at and not e.published_at_suspect],
            etag=result.etag, last_modified=result.last_modified, body_hash=result.body_hash,
            server_min_s=server_min, pinned_interval=feed.interval_s, url=feed.url))
        return FeedOutcome(feed.id, "new" if fresh else "unchanged", new_stories=len(fresh),
                           entries=len(parsed.entries), story_ids=[s.story_id for s in fresh])

    @staticmethod
    def stories_from(feed: Feed, entries: Iterable[ParsedEntry], now: datetime) -> dict[str, RawStory]:
        """RawStory per distinct story id (first occurrence wins); entries with neither link nor guid are dropped."""
        out: dict[str, RawStory] = {}
        for entry in entries:
            if entry.link:
                url = canonical_url(entry.link)
                sid = id_of_canonical(url)
            elif entry.guid:
                sid, url = guid_story_id(feed.id, entry.guid), feed.url
            else:
                continue
            if sid in out:
                continue
            out[sid] = RawStory(
                story_id=sid, url=url, original_url=entry.link, guid=entry.guid, feed_id=feed.id, feed_url=feed.url,
                source=feed.name, source_kind=feed.kind, country=feed.country, language=feed.language,
                needs_relevance_filter=feed.needs_relevance_filter, title=entry.title, summary=entry.summary,
                content=entry.content, author=entry.author, published_at=entry.published_at,
                published_at_suspect=entry.published_at_suspect, trace=Trace(first_seen_at=now))
        return out


# Chunks per flow worker: enough that one slow chunk does not leave the other workers idle at the end of a
# run, few enough that the orchestrator's per-task cost (~10 ms CPU per Prefect task run, measured) stays small.
CHUNKS_PER_WORKER = 4


def chunked(feeds: list[Feed], workers: int) -> list[list[Feed]]:
    """``feeds`` in about ``workers * CHUNKS_PER_WORKER`` chunks, order kept (most overdue first)."""
    size = max(1, math.ceil(len(feeds) / (max(1, workers) * CHUNKS_PER_WORKER)))
    return [feeds[start:start + size] for start in range(0, len(feeds), size)]


def poll_chunk(poller: Poller, feeds: Iterable[Feed], *, final_attempt: bool) -> tuple[list[FeedOutcome], list[Feed]]:
    """Poll ``feeds`` one after another: (outcomes, feeds to try again). A transient failure that is not the
    final attempt is handed back for the caller's retry; any other failure, unexpected exceptions included, is
    that feed's outcome only, so one feed never costs the others of its chunk."""
    outcomes: list[FeedOutcome] = []
    again: list[Feed] = []
    for feed in feeds:
        try:
            outcomes.append(poller.poll_feed(feed, final_attempt=final_attempt))
        except GovwatchError as exc:
            if is_transient(exc) and not final_attempt:
                again.append(feed)
            else:
                outcomes.append(FeedOutcome(feed.id, "error", error_kind=error_kind(exc), error=str(exc)))
        except Exception as exc:  # a bug on one feed's input is reported (with its trace) as that feed's error
            log.exception("feed_poll_crashed", feed_id=feed.id)
            outcomes.append(FeedOutcome(feed.id, "error", error_kind="other", error=f"{type(exc).__name__}: {exc}"))
    return outcomes, again


def poll_all(poller: Poller, feeds: list[Feed], concurrency: int) -> tuple[RunSummary, list[FeedOutcome]]:
    """Poll ``feeds`` on a bounded thread pool without Prefect (benchmarks, tools). Transient errors get
    no retry here: each feed's single attempt is its final one."""
    summary = RunSummary(feeds_due=len(feeds))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="poll") as pool:
        outcomes = list(pool.map(lambda f: poller.poll_feed(f, final_attempt=True), feeds))
    for outcome in outcomes:
        summary.add(outcome)
    summary.elapsed_s = time.monotonic() - started
    return summary, outcomes
