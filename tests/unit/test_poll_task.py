"""The poll_feeds Prefect task (one per chunk of feeds): per-feed retry hand-back and its body through ``.fn()``."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from tests.unit.test_poller import FEED, FakeFetcher, FakePublisher, ok, poller

from govwatch.adapters.fetch import FetchResult
from govwatch.commands.poll import load_flow_module
from govwatch.errors import FetchRefused, RateLimited, TransientError
from govwatch.feeds.poller import chunked, poll_chunk

FLOW = load_flow_module()


class _ByUrl:
    """A fetcher whose answer depends on the feed URL: an exception to raise, else the good feed."""

    def __init__(self, errors: dict[str, Exception]) -> None:
        self.errors = errors

    def fetch(self, url, *, etag=None, last_modified=None, max_bytes=None) -> FetchResult:  # noqa: ANN001
        if url in self.errors:
            raise self.errors[url]
        return ok()


@pytest.mark.parametrize(("error", "retried"), [
    (TransientError("timeout"), True), (RateLimited("429", retry_after=5), True),
    (FetchRefused("private address"), False), (ValueError("bug"), False),
])
def test_chunk_hands_back_transient_failures_only(error: Exception, retried: bool) -> None:
    """Timeouts, 5xx and 429 come back for a retry; refusals and bugs are that feed's final outcome; the
    other feed of the chunk is polled either way."""
    bad = replace(FEED, id="bad", url="https://bad.example/feed")
    outcomes, again = poll_chunk(poller(_ByUrl({bad.url: error})), [bad, FEED], final_attempt=False)
    assert [f.id for f in again] == (["bad"] if retried else [])
    assert ({o.feed_id: o.status for o in outcomes}
            == ({"heise": "new"} if retried else {"bad": "error", "heise": "new"}))
    assert FLOW.RETRIES == len(FLOW.RETRY_DELAYS_S) == 2


def test_final_attempt_records_the_transient_failure() -> None:
    """On the final attempt a transient failure is an error outcome, nothing is handed back."""
    outcomes, again = poll_chunk(poller(FakeFetcher(error=TransientError("timeout"))), [FEED], final_attempt=True)
    assert again == [] and outcomes[0].status == "error" and outcomes[0].error_kind == "transient"


def test_chunks_keep_order_and_cover_every_feed() -> None:
    """About four chunks per worker, order kept (most overdue first), every feed exactly once."""
    feeds = [replace(FEED, id=f"f{i}") for i in range(1000)]
    parts = chunked(feeds, 16)
    assert [f for part in parts for f in part] == feeds
    assert len(parts) == 63 and max(map(len, parts)) == 16
    assert chunked(feeds[:10], 16) == [[f] for f in feeds[:10]]


def test_task_body_polls_the_chunk_through_the_runtime() -> None:
    """poll_feeds_chunk.fn() delegates to the run's Poller and returns its outcomes (new stories published)."""
    publisher = FakePublisher()
    FLOW._RUNTIME["test-run"] = SimpleNamespace(poller=poller(FakeFetcher(ok()), publisher))
    try:
        outcomes, again = FLOW.poll_feeds_chunk.fn([FEED], "test-run", False, "heise+0")
    finally:
        FLOW._RUNTIME.pop("test-run")
    assert again == [] and outcomes[0].new_stories == len(publisher.sent) > 0
