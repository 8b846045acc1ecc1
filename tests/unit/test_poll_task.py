"""The poll_feeds Prefect task: its retry policy (transient errors only) and its body through ``.fn()``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from govwatch.commands.poll import load_flow_module
from govwatch.errors import FetchRefused, RateLimited, TransientError
from tests.unit.test_poller import FEED, FakeFetcher, FakePublisher, ok, poller

FLOW = load_flow_module()


class _State:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def result(self) -> None:
        raise self.error


@pytest.mark.parametrize(("error", "retried"), [
    (TransientError("timeout"), True), (RateLimited("429", retry_after=5), True),
    (FetchRefused("private address"), False), (ValueError("bug"), False),
])
def test_retry_condition_retries_transient_errors_only(error: Exception, retried: bool) -> None:
    """The task's retry condition retries timeouts, 5xx and 429, never permanent refusals or bugs."""
    assert FLOW._retry_transient(None, None, _State(error)) is retried
    assert FLOW.poll_feed.retries == FLOW.RETRIES == 2


def test_task_body_polls_the_feed_through_the_runtime() -> None:
    """poll_feed.fn() delegates to the run's Poller and returns its outcome (new stories published)."""
    publisher = FakePublisher()
    FLOW._RUNTIME["test-run"] = SimpleNamespace(poller=poller(FakeFetcher(ok()), publisher))
    try:
        outcome = FLOW.poll_feed.fn(FEED, "test-run")
    finally:
        FLOW._RUNTIME.pop("test-run")
    assert outcome.new_stories == len(publisher.sent) > 0
