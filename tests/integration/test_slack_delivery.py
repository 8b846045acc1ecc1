"""Slack delivery over real HTTP: SlackSender against the real SlackReceiver on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from govwatch.alerts.breaker import DestinationBusy
from govwatch.alerts.slack_format import alert_blocks
from govwatch.alerts.slack_outcome import DestinationDown
from govwatch.alerts.slack_send import BREAKER_BASE_S, BREAKER_MAX_S, MAX_INLINE_WAIT_S, SlackSender
from govwatch.errors import DeliveryRejected, RateLimited, TransientError
from govwatch.models import Alert, Trace
from govwatch_dev.slack_receiver import ScriptedResponse, SlackReceiver

MIN_INTERVAL_S = 0.3  # short enough for a quick test, long enough to see on monotonic timestamps
TOKEN = "xoxb-test-secret-token-9f3a"


class RecordingSleep:
    """Real sleeping (so the receiver's timestamps mean something) that also records every requested wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


class VirtualTime:
    """A clock and sleep that never block: for retry-budget tests where only the decisions matter."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def receiver() -> Iterator[SlackReceiver]:
    with SlackReceiver() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


@pytest.fixture
def payload() -> dict:
    alert = Alert(alert_id="a" * 64, subscription_id="sub-1", subscription_name="EU regulation",
                  story_id="b" * 64, cluster_id="b" * 64, title="AI Office publishes GPAI code <!channel>",
                  url="https://news.example.org/gpai", source="Example Times",
                  published_at=datetime(2025, 8, 1, 10, 30, tzinfo=UTC), snippet="the <em>GPAI</em> code",
                  trace=Trace(first_seen_at=datetime(2025, 8, 1, 10, 31, tzinfo=UTC)))
    return alert_blocks(alert)


def test_retry_after_then_5xx_then_success_delivers_once(receiver: SlackReceiver, client: httpx.Client,
                                                         payload: dict) -> None:
    """A 429 (Retry-After: 1), then a 500, then success yields exactly one delivery after waiting ≥ Retry-After."""
    path = "/services/T1/B1/retry"
    receiver.script(path, ScriptedResponse(429, "rate_limited", {"Retry-After": "1"}),
                    ScriptedResponse(500, "rollup_error"))
    sleep = RecordingSleep()
    SlackSender(client, min_interval_s=MIN_INTERVAL_S, sleep=sleep).send_webhook(receiver.webhook_url("T1/B1/retry"),
                                                                                 payload)
    requests = receiver.requests
    assert [r.status for r in requests] == [429, 500, 200]
    assert len(receiver.deliveries) == 1 and receiver.deliveries[0].payload == payload
    assert requests[1].received_at - requests[0].received_at >= 1.0
    assert max(sleep.waits) >= 1.0 - 0.05  # the wait is measured from the 429's arrival, a little later


def test_gone_webhook_is_rejected_with_masked_url_while_another_destination_delivers(
        receiver: SlackReceiver, client: httpx.Client, payload: dict) -> None:
    """A 410 webhook raises DeliveryRejected naming Slack's reason but not the secret URL; others still deliver."""
    receiver.script("/services/T1/B1/revokedSECRET1234", ScriptedResponse(410, "channel_is_archived"), forever=True)
    sender = SlackSender(client, min_interval_s=MIN_INTERVAL_S)
    gone = receiver.webhook_url("T1/B1/revokedSECRET1234")
    with pytest.raises(DeliveryRejected) as excinfo:
        sender.send_webhook(gone, payload)
    message = str(excinfo.value)
    assert "410" in message and "channel_is_archived" in message
    assert "127.0.0.1/…1234" in message and "revokedSECRET" not in message and "/services/" not in message
    sender.send_webhook(receiver.webhook_url("T1/B1/healthy"), payload)
    assert [r.path for r in receiver.deliveries] == ["/services/T1/B1/healthy"]
    with pytest.raises(DeliveryRejected):  # gone for good: still refused
        sender.send_webhook(gone, payload)


def test_post_message_success_and_channel_not_found(receiver: SlackReceiver, client: httpx.Client,
                                                    payload: dict) -> None:
    """chat.postMessage sends a Bearer token and the channel; `ok: false, channel_not_found` is permanent."""
    sender = SlackSender(client, min_interval_s=MIN_INTERVAL_S)
    sender.post_message(TOKEN, "C0GOVWATCH", payload, receiver.api_base)
    delivered = receiver.deliveries[0]
    assert delivered.headers["authorization"] == f"Bearer {TOKEN}"
    assert delivered.payload == {**payload, "channel": "C0GOVWATCH"}

    receiver.script("/api/chat.postMessage", ScriptedResponse(200, {"ok": False, "error": "channel_not_found"}))
    with pytest.raises(DeliveryRejected) as excinfo:
        sender.post_message(TOKEN, "C0MISSING", payload, receiver.api_base)
    assert "channel_not_found" in str(excinfo.value) and TOKEN not in str(excinfo.value)
    assert "…9f3a" in str(excinfo.value)
    assert len(receiver.deliveries) == 1


def test_rate_limit_is_per_destination(receiver: SlackReceiver, client: httpx.Client, payload: dict) -> None:
    """Two messages to one destination are ≥ the minimum interval apart; another destination is not held back."""
    sleep = RecordingSleep()
    sender = SlackSender(client, min_interval_s=MIN_INTERVAL_S, sleep=sleep)
    one, other = receiver.webhook_url("T1/B1/one"), receiver.webhook_url("T1/B1/other")
    sender.send_webhook(one, payload)
    sender.send_webhook(one, payload)
    waits_for_one = list(sleep.waits)
    sender.send_webhook(other, payload)
    first, second, third = receiver.deliveries
    assert (first.path, second.path, third.path) == ("/services/T1/B1/one",) * 2 + ("/services/T1/B1/other",)
    assert second.received_at - first.received_at >= MIN_INTERVAL_S
    assert len(waits_for_one) == 1
    assert sleep.waits == waits_for_one  # the other destination's first message did not wait at all


def test_exhausted_5xx_retries_raise_transient_error(receiver: SlackReceiver, client: httpx.Client,
                                                     payload: dict) -> None:
    """A destination that keeps answering 503 is retried with growing backoff within the inline wait budget, then
    its circuit opens: DestinationDown carries the cooldown, and the next send makes no request."""
    receiver.script("/services/T1/B1/down", ScriptedResponse(503, "service_unavailable"), forever=True)
    virtual = VirtualTime()
    sender = SlackSender(client, min_interval_s=0.0, clock=virtual.clock, sleep=virtual.sleep)
    with pytest.raises(DestinationDown) as excinfo:
        sender.send_webhook(receiver.webhook_url("T1/B1/down"), payload)
    assert not isinstance(excinfo.value, RateLimited) and excinfo.value.retry_after == BREAKER_BASE_S
    assert len(receiver.requests) == 3 and sum(virtual.waits) <= MAX_INLINE_WAIT_S
    assert virtual.waits == sorted(virtual.waits) and virtual.waits[0] < virtual.waits[-1]
    with pytest.raises(DestinationBusy):
        sender.send_webhook(receiver.webhook_url("T1/B1/down"), payload)
    assert len(receiver.requests) == 3 and receiver.deliveries == []


def test_rate_limit_beyond_budget_raises_rate_limited(receiver: SlackReceiver, client: httpx.Client,
                                                      payload: dict) -> None:
    """429s are waited out inline only within the 2 s budget; then the circuit opens for max(Retry-After, the
    breaker's first cooldown), never longer than its cap, and RateLimited carries that."""
    virtual = VirtualTime()
    sender = SlackSender(client, min_interval_s=0.0, clock=virtual.clock, sleep=virtual.sleep)
    receiver.script("/services/T1/B1/busy", ScriptedResponse(429, "", {"Retry-After": "2"}), forever=True)
    with pytest.raises(RateLimited) as excinfo:
        sender.send_webhook(receiver.webhook_url("T1/B1/busy"), payload)
    assert excinfo.value.retry_after == BREAKER_BASE_S
    assert len(receiver.requests) == 2
    assert virtual.waits == [2.0]

    long_wait = str(int(BREAKER_MAX_S * 10))
    receiver.script("/api/chat.postMessage",
                    ScriptedResponse(200, {"ok": False, "error": "ratelimited"}, {"Retry-After": long_wait}))
    with pytest.raises(RateLimited) as excinfo:
        sender.post_message(TOKEN, "C0GOVWATCH", payload, receiver.api_base)
    assert excinfo.value.retry_after == BREAKER_MAX_S and not virtual.waits[1:]  # never waited inline
    assert receiver.deliveries == []


def test_unreachable_destination_is_transient(client: httpx.Client, payload: dict) -> None:
    """A refused connection is retried (within the inline budget) and ends as TransientError without the URL."""
    with SlackReceiver() as closed:
        url = closed.webhook_url("T1/B1/closedSECRET5678")
    virtual = VirtualTime()
    sender = SlackSender(client, min_interval_s=0.0, clock=virtual.clock, sleep=virtual.sleep)
    with pytest.raises(TransientError) as excinfo:
        sender.send_webhook(url, payload)
    assert "closedSECRET" not in str(excinfo.value) and "…5678" in str(excinfo.value)
    assert len(virtual.waits) == 2 and sum(virtual.waits) <= MAX_INLINE_WAIT_S


def test_dropped_after_receipt_bot_posts_once_webhook_flags_possible_duplicate(receiver: SlackReceiver,
                                                                               client: httpx.Client,
                                                                               payload: dict) -> None:
    """A connection dropped after Slack took the message: a bot token finds it in history (one message); a webhook
    resends and says possible_duplicate."""
    from govwatch_dev.slack_receiver import POST_MESSAGE_PATH, Fault

    receiver.fault(POST_MESSAGE_PATH, Fault(drop=True))
    receiver.fault("/services/T1/B1/dropped", Fault(drop=True))
    sender = SlackSender(client, min_interval_s=0.0)
    bot = sender.post_message(TOKEN, "C0DROP", payload, receiver.api_base, dedup_id="a" * 64)
    hook = sender.send_webhook(receiver.webhook_url("T1/B1/dropped"), payload)
    assert bot.found_in_history and len(receiver.messages("C0DROP")) == 1
    assert hook.possible_duplicate and hook.posts == 2
    assert [r.path for r in receiver.deliveries] == [POST_MESSAGE_PATH] + ["/services/T1/B1/dropped"] * 2
