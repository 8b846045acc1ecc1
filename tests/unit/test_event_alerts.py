"""Alerts per event, the pure parts: ledger keys by granularity, the stored default, the payloads, the sender's
thread replies and their read-back, and the Slack-compatible receiver's threads and updates."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from tests.factories import sid

from govwatch.alerts.event_format import coverage_line, event_parent_blocks, rollup_blocks
from govwatch.alerts.ledger import alert_id, key_for
from govwatch.alerts.slack_format import within_limits
from govwatch.alerts.slack_history import ALERT_EVENT_TYPE
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.subscriptions import DEFAULT_GRANULARITY, MatchingView, Subscription
from govwatch.alerts.threads import event_key, thread_key
from govwatch.models import Alert, Trace
from govwatch_dev.slack_receiver import SlackReceiver

TOKEN = "xoxb-unit-event-test-9f3a"
WALL = 1_800_000_000.0


def _alert(n: int, event: str | None = "E1", source: str = "Outlet A", title: str = "AI Action Summit") -> Alert:
    return Alert(alert_id=key_for("event", "sub-1", sid(n), sid(n), event), subscription_id="sub-1",
                 subscription_name="summit", granularity="event", event_id=event, story_id=sid(n), cluster_id=sid(n),
                 title=title, url=f"https://example.org/{n}", source=source,
                 trace=Trace(first_seen_at=datetime(2026, 11, 20, 9, 1, tzinfo=UTC)))


def test_keys_by_granularity() -> None:
    """Cluster keys are today's ids; event keys are per (event, story), so copies of a cluster each get one; story
    keys ignore the cluster and the event."""
    assert key_for("cluster", "s", "c1", "a", "E") == alert_id("s", "c1") == key_for("cluster", "s", "c1", "b", None)
    assert key_for("event", "s", "c1", "a", "E") != key_for("event", "s", "c1", "b", "E")
    assert key_for("event", "s", "c1", "a", "E") == key_for("event", "s", "c2", "a", "E")  # the cluster is not in it
    assert key_for("event", "s", "c1", "a", "E") != key_for("event", "s", "c1", "a", "F")
    assert key_for("story", "s", "c1", "a", "E") == key_for("story", "s", "c9", "a", None)
    assert len({key_for(g, "s", "c1", "a", "E") for g in ("story", "cluster", "event")}) == 3


def test_thread_key_groups_by_event_or_cluster_when_unknown() -> None:
    """A thread is one per (subscription, event); an alert whose event is unknown threads by its cluster."""
    assert thread_key("sub-1", event_key(_alert(1))) == thread_key("sub-1", event_key(_alert(2)))
    assert event_key(_alert(1, event=None)) == f"cluster:{sid(1)}"
    assert thread_key("sub-1", "E1") != thread_key("sub-2", "E1")


def test_stored_subscription_without_granularity_reads_as_cluster() -> None:
    """Documents saved before granularity existed keep once-per-cluster; user-facing creation defaults to event."""
    doc = Subscription(name="n", query="q", destination={"kind": "bot", "bot_token": TOKEN, "channel": "C"}
                       ).storage_document()
    doc.pop("granularity")
    assert Subscription.from_document(doc).granularity == "cluster"
    assert MatchingView.from_document(doc).granularity == "cluster"
    assert MatchingView.from_document({**doc, "granularity": "event"}).granularity == "event"
    with pytest.raises(ValueError, match="granularity"):
        MatchingView.from_document({**doc, "granularity": "thread"})
    assert DEFAULT_GRANULARITY == "event"


def test_api_and_form_default_to_event() -> None:
    """A subscription created through the JSON API or the web form without a choice is per event."""
    from govwatch.web.api import SubscriptionIn
    from govwatch.web.forms import SubscriptionForm

    body = SubscriptionIn.model_validate({"name": "n", "query": "q", "destination": {"channel": "C"}})
    assert body.granularity == "event"
    assert SubscriptionForm().granularity == "event"


def test_parent_payload_has_the_coverage_line_within_limits() -> None:
    """The parent says how many outlets covered the event and where later stories go; hostile text still fits."""
    payload = event_parent_blocks(_alert(1), outlets=6, stories=12, threaded=True)
    assert "covered by 6 outlets (12 stories) · later coverage in the thread" in json.dumps(payload, ensure_ascii=False)
    assert coverage_line(1, 1, threaded=False) == "Event: covered by 1 outlet · later coverage in an hourly roll-up"
    hostile = _alert(2, title="<!channel> &" * 3000)
    assert within_limits(event_parent_blocks(hostile, 2, 2, True))


def test_rollup_is_one_digest_headed_by_the_event() -> None:
    """A roll-up of eleven later stories is one message saying 'more coverage of' the event's title."""
    messages = rollup_blocks("summit", "AI Action Summit opens", "09:00 to 10:00 UTC",
                             [_alert(n, source=f"Outlet {n}") for n in range(11)])
    assert len(messages) == 1 and len(messages[0].covered) == 11
    text = json.dumps(messages[0].payload, ensure_ascii=False)
    assert "more coverage of “AI Action Summit opens”" in text and "11 stories" in text


def _mock_sender(handler) -> SlackSender:  # noqa: ANN001
    return SlackSender(httpx.Client(transport=httpx.MockTransport(handler)), min_interval_s=0.0,
                       sleep=lambda _s: None, wall=lambda: WALL)


def test_reply_carries_thread_ts_and_is_checked_in_the_thread_after_an_unknown_outcome() -> None:
    """A reply posts with thread_ts; after an unknown outcome it is looked for in conversations.replies (Slack's
    history lists only top-level messages), and found there it is not posted again; its ts comes back."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.path.endswith("/conversations.replies")
        assert request.url.params["ts"] == "100.000001"
        found = {"ts": "100.000009", "metadata": {"event_type": ALERT_EVENT_TYPE, "event_payload": {"alert_id": "A"}}}
        return httpx.Response(200, json={"ok": True, "messages": [found], "has_more": False})

    result = _mock_sender(handler).post_message(TOKEN, "C1", {"text": "t"}, "https://slack.test/api", dedup_id="A",
                                                unknown_since=WALL - 5, thread_ts="100.000001")
    assert result.found_in_history and result.ts == "100.000009" and len(seen) == 1


def test_post_returns_slack_ts_and_update_calls_chat_update() -> None:
    """A post's result carries Slack's ts (the thread's parent needs it); an update sends channel and ts."""
    bodies: list[tuple[str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"ok": True, "ts": "200.5"})

    sender = _mock_sender(handler)
    assert sender.post_message(TOKEN, "C1", {"text": "t"}, "https://slack.test/api", dedup_id="A").ts == "200.5"
    sender.update_message(TOKEN, "C1", "200.5", {"text": "u", "blocks": []}, "https://slack.test/api")
    assert bodies[0][0].endswith("/chat.postMessage") and "thread_ts" not in bodies[0][1]
    assert bodies[1][0].endswith("/chat.update") and bodies[1][1]["ts"] == "200.5" and bodies[1][1]["channel"] == "C1"


def test_receiver_threads_replies_and_updates_like_slack() -> None:
    """The local receiver keeps replies out of conversations.history, lists them in conversations.replies, counts
    them on the parent, refuses an unknown thread, and applies chat.update."""
    with SlackReceiver() as receiver, httpx.Client(base_url=receiver.api_base,
                                                   headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        parent = client.post("/chat.postMessage", json={"channel": "C1", "text": "parent"}).json()["ts"]
        for n in range(2):
            assert client.post("/chat.postMessage", json={"channel": "C1", "text": f"r{n}",
                                                          "thread_ts": parent}).json()["ok"]
        assert client.post("/chat.postMessage", json={"channel": "C1", "text": "x", "thread_ts": "1.0"}).json() == {
            "ok": False, "error": "thread_not_found"}
        history = client.get("/conversations.history", params={"channel": "C1"}).json()["messages"]
        assert [m["text"] for m in history] == ["parent"] and history[0]["reply_count"] == 2
        replies = client.get("/conversations.replies", params={"channel": "C1", "ts": parent}).json()["messages"]
        assert [m["text"] for m in replies] == ["parent", "r0", "r1"]
        updated = client.post("/chat.update", json={"channel": "C1", "ts": parent, "text": "covered by 2"}).json()
        assert updated["ok"] and receiver.top_level("C1")[0]["text"] == "covered by 2"
        assert client.post("/chat.update", json={"channel": "C1", "ts": "9.9", "text": "?"}).json()["error"] == (
            "message_not_found")
        assert len(receiver.replies("C1", parent)) == 2 and len(receiver.deliveries) == 3
