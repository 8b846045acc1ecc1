"""Poller logic with fakes: politeness, ordering of publish/record/state, retries on transient errors only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError

from govwatch.adapters.feed_stores import KafkaPublisher
from govwatch.adapters.fetch import FetchResult
from govwatch.errors import FetchRefused, TransientError
from govwatch.feeds.parse import parse_feed
from govwatch.feeds.parser_pool import ParserPool
from govwatch.feeds.poller import HostLimiter, Poller
from govwatch.feeds.registry import Feed
from govwatch.feeds.state import FeedState
from govwatch.settings import Settings

FEED_BYTES = (Path(__file__).resolve().parents[1] / "fixtures" / "feeds" / "heise-developer-2016.atom.xml").read_bytes()
FEED = Feed(id="heise", name="heise", url="https://heise.example/atom", country="DE", language="de", kind="news",
            needs_relevance_filter=True)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PARSER = ParserPool()  # workers start on the first parse


@pytest.fixture(scope="module", autouse=True)
def _close_parser() -> Iterator[None]:
    yield
    PARSER.close()


class FakeFetcher:
    def __init__(self, result=None, error=None):  # noqa: ANN001, ANN204
        self.result, self.error, self.calls = result, error, []

    def fetch(self, url, *, etag=None, last_modified=None, max_bytes=None):  # noqa: ANN001, ANN201
        self.calls.append((url, etag, last_modified))
        if self.error:
            raise self.error
        return self.result


class FakeStates:
    def __init__(self) -> None:
        self.states: dict[str, FeedState] = {}

    def get(self, feed_id: str) -> FeedState:
        return self.states.get(feed_id) or FeedState(feed_id)

    def put(self, state: FeedState) -> None:
        self.states[state.feed_id] = state


class FakePublishedIds:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def already_published(self, ids):  # noqa: ANN001, ANN201
        return self.ids & set(ids)

    def record(self, stories):  # noqa: ANN001, ANN201
        self.ids.update(s.story_id for s in stories)
        return len(self.ids)


class FakePublisher:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.sent = fail, []

    def publish(self, stories):  # noqa: ANN001, ANN201
        if self.fail:
            raise TransientError("broker down")
        self.sent.extend(stories)
        return list(stories)


def ok(body: bytes = FEED_BYTES, status: int = 200, etag: str | None = '"v1"') -> FetchResult:
    return FetchResult(status=status, url=FEED.url, final_url=FEED.url, body=body, headers={}, etag=etag,
                       last_modified=None, not_modified=status == 304, max_age=None, retry_after=None, elapsed=0.01)


def poller(fetcher, publisher=None):  # noqa: ANN001, ANN201
    return Poller(Settings(poll_host_spacing_s=0), fetcher, FakeStates(), FakePublishedIds(),
                  publisher or FakePublisher(), PARSER, clock=lambda: NOW)


def test_new_entries_are_published_once_then_deduplicated() -> None:
    """The first poll publishes every entry; a changed body with the same entries publishes nothing more."""
    p = poller(FakeFetcher(ok()))
    first = p.poll_feed(FEED)
    assert first.status == "new" and first.new_stories == 15 == len(p.publisher.sent)
    assert all(s.trace.first_seen_at == NOW for s in p.publisher.sent)
    p.fetcher.result = ok(FEED_BYTES + b"\n<!-- changed -->")
    second = p.poll_feed(FEED)
    assert (second.status, second.new_stories, len(p.publisher.sent)) == ("unchanged", 0, 15)
    assert p.fetcher.calls[-1][1] == '"v1"'  # the stored ETag was sent back


def test_identical_body_skips_parsing() -> None:
    """A body whose hash matches the last one counts as unchanged without a parse."""
    p = poller(FakeFetcher(ok()))
    p.poll_feed(FEED)
    assert p.poll_feed(FEED).status == "unchanged" and p.poll_feed(FEED).entries == 0


def test_publish_failure_does_not_advance_state() -> None:
    """If Kafka does not acknowledge, the task raises for a retry and the feed's validators stay unchanged."""
    p = poller(FakeFetcher(ok()), FakePublisher(fail=True))
    with pytest.raises(TransientError):
        p.poll_feed(FEED, final_attempt=False)
    assert p.states.get(FEED.id).etag is None and p.published_ids.ids == set()


def test_final_transient_failure_is_recorded_with_backoff() -> None:
    """On the last attempt a transient error is recorded as a failure with a backoff, not raised."""
    p = poller(FakeFetcher(error=TransientError("timeout")))
    outcome = p.poll_feed(FEED, final_attempt=True)
    state = p.states.get(FEED.id)
    assert outcome.error_kind == "transient" and state.consecutive_failures == 1 and state.next_due_at > NOW


def test_permanent_errors_are_not_retried() -> None:
    """A refusal is returned as an error outcome even when retries remain."""
    p = poller(FakeFetcher(error=FetchRefused("refused: loopback")))
    outcome = p.poll_feed(FEED, final_attempt=False)
    assert (outcome.status, outcome.error_kind) == ("error", "refused")


def test_due_selection() -> None:
    """Only feeds whose next_due_at has passed are due, unless forced."""
    p = poller(FakeFetcher(ok()))
    p.poll_feed(FEED)
    assert p.due([FEED]) == [] and p.due([FEED], force=True) == [FEED]


def test_host_limiter_spaces_requests_per_host() -> None:
    """Two requests to one host are at least spacing_s apart; another host is not delayed."""
    t = [0.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        t[0] += s

    limiter = HostLimiter(2.0, clock=lambda: t[0], sleep=sleep)
    with limiter.slot("a"):
        t[0] += 0.5
    with limiter.slot("b"):
        pass
    with limiter.slot("a"):
        pass
    assert sleeps == [1.5]


def test_a_body_naming_a_local_file_is_not_read_from_disk(tmp_path) -> None:  # noqa: ANN001
    """A response body that spells a local path is parsed as those bytes, never opened as a file of ours."""
    local = tmp_path / "feed.xml"
    local.write_bytes(FEED_BYTES)
    p = poller(FakeFetcher(ok(str(local).encode())))
    outcome = p.poll_feed(FEED)
    assert (outcome.status, outcome.error_kind, p.publisher.sent) == ("error", "parse", [])


class FakeFuture:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error:
            raise self.error


class FakeProducer:
    """Acknowledges every record except the ``fail_at``-th, whose future times out."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at, self.sent = fail_at, []

    def send(self, topic, key, value):  # noqa: ANN001, ANN201
        self.sent.append(key)
        return FakeFuture(KafkaTimeoutError("no ack") if len(self.sent) == self.fail_at else None)


def test_publisher_waits_for_every_ack_and_fails_on_one_missing() -> None:
    """publish returns only when each story is acknowledged, and raises a transient error if one is not."""
    stories = list(Poller.stories_from(FEED, parse_feed(FEED_BYTES).entries, NOW).values())
    assert len(KafkaPublisher(FakeProducer(), "raw").publish(stories)) == len(stories)
    with pytest.raises(TransientError, match="not acknowledged"):
        KafkaPublisher(FakeProducer(fail_at=len(stories)), "raw").publish(stories)
