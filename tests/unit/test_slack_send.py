"""SlackSender decisions after an unknown outcome, over a fake transport (httpx.MockTransport): pure logic."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from structlog.testing import capture_logs

from govwatch.alerts.breaker import DestinationBusy
from govwatch.alerts.slack_destination import DEFAULT_WEBHOOK_HOSTS, WebhookHostRefused, webhook_host_problem
from govwatch.alerts.slack_history import ALERT_EVENT_TYPE
from govwatch.alerts.slack_outcome import DestinationDown, OutcomeUnknown
from govwatch.alerts.slack_send import MAX_TRANSIENT_ATTEMPTS, SlackSender
from govwatch.errors import DeliveryRejected, RateLimited, TransientError

API = "https://slack.test/api"
HOOK = "https://hooks.slack.com/services/T/B/SECRETSECRET"
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
    if "/api/" in str(request.url):
        return httpx.Response(200, json={"ok": True, "ts": "1.0"})
    return httpx.Response(200, text="ok")


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
                       clock=lambda: now[0], sleep=sleep, wall=lambda: WALL,
                       webhook_hosts=DEFAULT_WEBHOOK_HOSTS)


def test_bot_read_timeout_then_message_found_in_history_posts_once() -> None:
    """After a read timeout a bot-token send looks its alert id up in channel history and, found, posts no more."""
    fake = FakeSlack([read_timeout],
                     history={"ok": True, "messages": [tagged("other"), tagged(AID)], "has_more": False})
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


# --- issue 22: a hostile destination is deferred, never waited for -------------------------------------------------

def rate_limited_60(request: httpx.Request) -> httpx.Response:
    return httpx.Response(429, text="rate_limited", headers={"Retry-After": "60"})


def server_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text="internal_error")


def slept(fake: FakeSlack) -> int:
    return fake.events.count("sleep")


def test_retry_after_60_is_not_waited_inline_and_opens_the_circuit() -> None:
    """A 429 with Retry-After 60 raises at once (no sleep), and the next send to it makes no request at all."""
    fake = FakeSlack([rate_limited_60])
    sender = sender_for(fake)
    with pytest.raises(RateLimited) as first:
        sender.send_webhook(HOOK, PAYLOAD)
    assert slept(fake) == 0 and fake.events == ["post"] and first.value.retry_after == 60
    with pytest.raises(DestinationBusy) as second:
        sender.send_webhook(HOOK, PAYLOAD)
    assert fake.events == ["post"] and 59 <= (second.value.retry_after or 0) <= 60
    assert "SECRETSECRET" not in str(first.value) + str(second.value)


def test_other_destinations_are_unaffected_by_an_open_circuit() -> None:
    """One destination's open circuit never touches another's sends."""
    fake = FakeSlack([rate_limited_60])
    sender = sender_for(fake)
    with pytest.raises(RateLimited):
        sender.send_webhook(HOOK, PAYLOAD)
    assert sender.send_webhook(HOOK.replace("SECRETSECRET", "OTHERSECRET1"), PAYLOAD).posts == 1


def test_short_retry_after_is_still_waited_inline() -> None:
    """Slack's ordinary 1 s pacing 429 is waited out inline (within the budget) and the message goes."""
    fake = FakeSlack([lambda r: httpx.Response(429, text="rate_limited", headers={"Retry-After": "1"})])
    assert sender_for(fake).send_webhook(HOOK, PAYLOAD).posts == 2
    assert fake.events == ["post", "sleep", "post"]


def test_failing_destination_opens_longer_each_time_capped_and_a_probe_closes_it() -> None:
    """5xx past the inline budget opens the circuit 5 s, then 10 s, never past the cap; a success closes it."""
    fake = FakeSlack([server_error] * 20)
    now = [1000.0]
    sender = SlackSender(httpx.Client(transport=httpx.MockTransport(fake)), min_interval_s=0.0, clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s), breaker_base_s=5.0, breaker_max_s=8.0)
    cooldowns = []
    for _ in range(3):
        with pytest.raises(DestinationDown) as failed:
            sender.send_webhook(HOOK, PAYLOAD)
        cooldowns.append(failed.value.retry_after)
        with pytest.raises(DestinationBusy):
            sender.send_webhook(HOOK, PAYLOAD)
        now[0] += failed.value.retry_after or 0
    assert cooldowns == [5.0, 8.0, 8.0]
    fake.posts = []  # recovered
    assert sender.send_webhook(HOOK, PAYLOAD).posts == 1
    assert sender.gate.wait_s(next(iter(sender.gate._states))) == 0


def test_hostile_retry_after_is_capped_by_the_breaker() -> None:
    """A Retry-After of a billion seconds parks a destination only for the breaker's longest cooldown."""
    fake = FakeSlack([lambda r: httpx.Response(429, headers={"Retry-After": "1000000000"})])
    sender = SlackSender(httpx.Client(transport=httpx.MockTransport(fake)), min_interval_s=0.0, breaker_max_s=30.0)
    with pytest.raises(RateLimited) as excinfo:
        sender.send_webhook(HOOK, PAYLOAD)
    assert excinfo.value.retry_after == 30.0


@pytest.mark.parametrize("url", [
    "https://internal.corp/services/T/B/SECRETSECRET", "http://127.0.0.1:9200/govwatch-subscriptions/_doc/x",
    "https://hooks.slack.com.evil.example/services/SECRETSECRET", "https://[::1]/services/SECRETSECRET",
    "ftp://hooks.slack.com/services/SECRETSECRET",
])
def test_webhook_to_a_host_not_allowed_is_refused_before_any_request(url: str) -> None:
    """A stored webhook whose host is not in GOVWATCH_SLACK_WEBHOOK_HOSTS is refused for good, never posted."""
    fake = FakeSlack([])
    with pytest.raises(WebhookHostRefused) as excinfo:
        sender_for(fake).send_webhook(url, PAYLOAD)
    assert fake.requests == [] and isinstance(excinfo.value, DeliveryRejected)
    assert "SECRETSECRET" not in str(excinfo.value)
    assert "GOVWATCH_SLACK_WEBHOOK_HOSTS" in str(excinfo.value) or "http(s)" in str(excinfo.value)


def test_webhook_hosts_setting_admits_the_local_receiver() -> None:
    """Tests add the local receiver's host to the allowlist; a trailing dot or upper case changes nothing."""
    fake = FakeSlack([])
    sender = SlackSender(httpx.Client(transport=httpx.MockTransport(fake)), min_interval_s=0.0,
                         webhook_hosts=("hooks.slack.com", "127.0.0.1"))
    assert sender.send_webhook("http://127.0.0.1:3000/services/T/B/x", PAYLOAD).posts == 1
    assert webhook_host_problem("https://HOOKS.SLACK.COM./services/x", ("hooks.slack.com",)) is None
