"""SlackSender decisions after an unknown outcome, over a fake transport (httpx.MockTransport): pure logic."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from structlog.testing import capture_logs

from govwatch.alerts.slack_send import (
    ALERT_EVENT_TYPE,
    MAX_TRANSIENT_ATTEMPTS,
    OutcomeUnknown,
    SlackSender,
)
from govwatch.errors import TransientError

API = "https://slack.test/api"
HOOK = "https://hooks.slack.test/services/T/B/SECRETSECRET"
TOKEN = "xoxb-unit-test-token-1234"
AID = "f" * 64
PAYLOAD = {"text": "AI Act story", "blocks": []}
WALL = 1_800_000_000.0  # a fixed epoch "now" for the sender's wall clock


class FakeSlack:
    """Answers per request from a list of callables (or a default), and records every request."""

    def __init__(self, posts: list[Callable[[httpx.Request], httpx.Response]], history: dict | None = None) -> None:
        self.posts = posts
        self.history = history if history is not None else {"ok": True, "messages": [], "has_more": False}
        self.requests: list[httpx.Request] = []
        self.events: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/conversations.history"):
            self.events.append("history")
            return httpx.Response(200, json=self.history)
        self.events.append("post")
        answer = self.posts.pop(0) if self.posts else ok
        return answer(request)

    def post_bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "ts": "1.0"}) if "/api/" in str(request.url) else httpx.Response(200, text="ok")


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


def dropped(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def tagged(aid: str) -> dict:
    return {"type": "message", "ts": f"{WALL:.6f}", "metadata": {"event_type": ALERT_EVENT_TYPE,
                                                                    "event_payload": {"alert_id": aid}}}


def sender_for(fake: FakeSlack, min_interval_s: float = 0.0) -> SlackSender:
    now = [1000.0]

    def sleep(seconds: float) -> None:
        fake.events.append("sleep")
        now[0] += seconds

    return SlackSender(httpx.Client(transport=httpx.MockTransport(fake)), min_interval_s=min_interval_s,
                       clock=lambda: now[0], sleep=sleep, wall=lambda: WALL)


def test_bot_read_timeout_then_message_found_in_history_posts_once() -> None:
    """After a read timeout a bot-token send looks its alert id up in channel history and, found, posts no more."""
    fake = FakeSlack([read_timeout], history={"ok": True, "messages": [tagged("other"), tagged(AID)], "has_more": False})
    result = sender_for(fake).post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID)
    assert result.found_in_history and result.posts == 1 and not result.possible_duplicate
    assert fake.events.count("post") == 1
    [body] = fake.post_bodies()
    assert body["metadata"] == {"event_type": ALERT_EVENT_TYPE, "event_payload": {"alert_id": AID}}
    history = next(r for r in fake.requests if r.url.path.endswith("/conversations.history"))
    assert history.url.params["include_all_metadata"] == "true" and history.url.params["channel"] == "C1"
    assert float(history.url.params["oldest"]) < WALL  # a bounded window starting before the unknown send


def test_bot_dropped_connection_not_in_history_posts_again_without_duplicate_flag() -> None:
    """A connection dropped after sending, and no tagged message in history, means a second post is safe."""
    fake = FakeSlack([dropped, ok])
    result = sender_for(fake).post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID)
    assert fake.events == ["post", "sleep", "history", "post"]
    assert result.posts == 2 and not result.found_in_history and not result.possible_duplicate


def test_restart_with_unknown_outcome_checks_history_before_the_first_post() -> None:
    """A caller-reported unknown outcome (a crash mid-send) makes the very first action a history check."""
    fake = FakeSlack([], history={"ok": True, "messages": [tagged(AID)], "has_more": False})
    result = sender_for(fake).post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID, unknown_since=WALL - 30)
    assert fake.events == ["history"] and result.found_in_history and result.posts == 0


def test_history_is_paged_with_the_cursor() -> None:
    """The tagged message on a later history page is still found (the cursor is followed)."""
    pages = [{"ok": True, "messages": [tagged("x")], "has_more": True, "response_metadata": {"next_cursor": "p2"}},
             {"ok": True, "messages": [tagged(AID)], "has_more": False}]

    class Paged(FakeSlack):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/conversations.history"):
                self.requests.append(request)
                self.events.append("history")
                return httpx.Response(200, json=pages.pop(0))
            return super().__call__(request)

    fake = Paged([])
    assert sender_for(fake).post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID, unknown_since=WALL).found_in_history
    assert fake.requests[-1].url.params["cursor"] == "p2"


def test_missing_history_scope_is_named_and_falls_back_to_at_least_once() -> None:
    """Without channels:history the warning names the scope to add, and the resend is flagged possible_duplicate."""
    fake = FakeSlack([read_timeout, ok], history={"ok": False, "error": "missing_scope", "needed": "channels:history"})
    with capture_logs() as logs:
        result = sender_for(fake).post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID)
    assert result.posts == 2 and result.possible_duplicate
    [scope] = [e for e in logs if e["event"] == "slack.history_scope_missing"]
    assert scope["needed"] == "channels:history" and "add the channels:history scope" in scope["fix"]
    assert TOKEN not in json.dumps(logs, default=str)
    assert any(e["event"] == "slack.resend_after_unknown_outcome" for e in logs)


def test_webhook_resend_after_read_timeout_is_logged_and_flagged() -> None:
    """A webhook cannot be read back: the resend after a read timeout happens, logged, as a possible duplicate."""
    fake = FakeSlack([read_timeout, ok])
    with capture_logs() as logs:
        result = sender_for(fake).send_webhook(HOOK, PAYLOAD)
    assert result.posts == 2 and result.possible_duplicate
    assert [e["log_level"] for e in logs if e["event"] == "slack.resend_after_unknown_outcome"] == ["warning"]


def test_refused_connection_is_retried_as_not_delivered() -> None:
    """A connection refused before sending is known not delivered: retried without a duplicate flag or history."""
    fake = FakeSlack([refused, ok])
    result = sender_for(fake).post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID)
    assert result.posts == 2 and not result.possible_duplicate and "history" not in fake.events


def test_exhausted_budget_after_unknown_outcome_raises_outcome_unknown() -> None:
    """Timeouts on every try end in OutcomeUnknown carrying when the first unanswered send started."""
    fake = FakeSlack([read_timeout] * MAX_TRANSIENT_ATTEMPTS)
    with pytest.raises(OutcomeUnknown) as excinfo:
        sender_for(fake).send_webhook(HOOK, PAYLOAD)
    assert isinstance(excinfo.value, TransientError) and excinfo.value.since == WALL
    assert "SECRETSECRET" not in str(excinfo.value)


def test_history_unreadable_raises_instead_of_posting_blind() -> None:
    """When the history check itself fails (5xx), nothing is posted: the caller retries later."""

    class Down(FakeSlack):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/conversations.history"):
                self.events.append("history")
                return httpx.Response(503, text="service_unavailable")
            return super().__call__(request)

    fake = Down([])
    with pytest.raises(OutcomeUnknown):
        sender_for(fake).post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID, unknown_since=WALL)
    assert "post" not in fake.events


def test_pacing_wait_comes_before_recording_and_posting_never_after_the_answer() -> None:
    """The per-destination wait happens before before_post and the POST; the send returns right after Slack's 2xx."""
    fake = FakeSlack([])
    sender = sender_for(fake, min_interval_s=1.0)

    def record(post: int) -> None:
        fake.events.append(f"record{post}")

    sender.post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID, before_post=record)
    sender.post_message(TOKEN, "C1", PAYLOAD, API, dedup_id=AID, before_post=record)
    assert fake.events == ["record1", "post", "sleep", "record1", "post"]
