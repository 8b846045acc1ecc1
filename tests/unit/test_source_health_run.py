"""The order of one source health evaluation (govwatch.alerts.source_health_run.evaluate_kind): open once, hold
without a message, a message Kafka refused announced by the next evaluation, recover once, a lost race skipped.

The state index and the ledger are small in-memory stand-ins with the real ones' contracts (compare-and-set by
sequence number; create-only ids, produced again while not marked produced); the end-to-end test on the real stack
is tests/integration/test_source_health.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from govwatch.alerts.ledger import Recorded
from govwatch.alerts.source_health import HealthPolicy, message_id
from govwatch.alerts.source_health_run import FeedFacts, HealthContext, evaluate_kind
from govwatch.alerts.source_health_state import state_key
from govwatch.alerts.spike_state import State
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.errors import TransientError
from govwatch.feeds.state import FeedState
from govwatch.models import Alert

NOW = datetime(2026, 10, 31, 23, 50, tzinfo=UTC)  # the month ends during the incident
OPS = Subscription(name="operations", query="ops-only", destination=Destination(
    kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/ops"))


class States:
    """Compare-and-set by sequence number, create-only for a new key."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[dict[str, Any], int]] = {}

    def get(self, feed_id: str, kind: str) -> State:
        key = state_key(feed_id, kind)
        if key not in self.docs:
            return State({"key": key, "feed_id": feed_id, "kind": kind, "open": False})
        doc, seq = self.docs[key]
        return State(dict(doc), seq, 1)

    def put(self, state: State, doc: dict[str, Any]) -> State | None:
        current = self.docs.get(doc["key"])
        if (current[1] if current else None) != state.seq_no:
            return None
        seq = (current[1] + 1) if current else 0
        self.docs[doc["key"]] = (dict(doc), seq)
        return State(dict(doc), seq, 1)


class Ledger:
    """Create-only entries; an entry not marked produced is handed back to produce again."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def record(self, alerts: Sequence[Alert], now: datetime) -> list[Recorded]:
        out = []
        for alert in alerts:
            created = alert.alert_id not in self.entries
            entry = self.entries.setdefault(alert.alert_id, {"alert": alert, "produced": False})
            out.append(Recorded(alert.alert_id, created, None if entry["produced"] else entry["alert"]))
        return out

    def mark_produced(self, alert_ids: Sequence[str], at: datetime) -> None:
        for alert_id in alert_ids:
            self.entries[alert_id]["produced"] = True


def _facts(failures: int, last_success: datetime) -> FeedFacts:
    from govwatch.alerts.source_health import Extraction

    poll = FeedState("gazette", last_success_at=last_success, consecutive_failures=failures, last_error="HTTP 500")
    return FeedFacts("gazette", "The Gazette", poll, [], Extraction(), Extraction())


@pytest.fixture
def ctx() -> tuple[HealthContext, list[Alert], list[bool]]:
    produced: list[Alert] = []
    refuse: list[bool] = []

    def publish(alerts: Sequence[Alert]) -> None:
        if refuse and refuse.pop():
            raise TransientError("broker down (injected)")
        produced.extend(alerts)

    context = HealthContext(None, "stories", States(), Ledger(), publish, OPS,  # type: ignore[arg-type]
                            "https://govwatch.example.org", HealthPolicy(fail_after_s=6 * 3600))
    return context, produced, refuse


def test_an_incident_is_announced_once_and_its_recovery_once(ctx: Any) -> None:  # noqa: ANN401
    context, produced, _ = ctx
    ok_until = NOW - timedelta(hours=7)
    actions = [evaluate_kind(context, _facts(9, ok_until), "failing", NOW + timedelta(minutes=m)) for m in (0, 10, 20)]
    healed_at = NOW + timedelta(hours=2)  # 1 November
    actions += [evaluate_kind(context, _facts(0, healed_at), "failing", healed_at + timedelta(minutes=m))
                for m in (0, 10)]
    assert actions == ["open", "hold", "hold", "recover", "quiet"]
    incident = context.states.get("gazette", "failing").doc["incident_id"]
    assert [a.alert_id for a in produced] == [message_id(incident, "open"), message_id(incident, "recovered")]
    assert produced[0].title == "Source health: The Gazette is failing" and "HTTP 500" in produced[0].lines[0]
    assert produced[1].title == "Recovered: The Gazette (failing)"
    assert context.states.get("gazette", "failing").doc["pending"] is None


def test_a_message_kafka_refused_is_announced_by_the_next_evaluation_once(ctx: Any) -> None:  # noqa: ANN401
    context, produced, refuse = ctx
    refuse.append(True)
    facts = _facts(9, NOW - timedelta(hours=7))
    with pytest.raises(TransientError):
        evaluate_kind(context, facts, "failing", NOW)
    pending = context.states.get("gazette", "failing").doc["pending"]
    assert produced == [] and pending is not None
    assert evaluate_kind(context, facts, "failing", NOW + timedelta(minutes=10)) == "hold"
    assert evaluate_kind(context, facts, "failing", NOW + timedelta(minutes=20)) == "hold"
    assert [a.alert_id for a in produced] == [pending["alert_id"]]


def test_a_lost_race_decides_nothing(ctx: Any) -> None:  # noqa: ANN401
    context, produced, _ = ctx
    states = context.states
    original_put = states.put

    def other_evaluation_first(state: State, doc: dict[str, Any]) -> State | None:
        states.put = original_put
        original_put(state, {**state.doc, "evaluated_at": "by another run"})
        return original_put(state, doc)

    states.put = other_evaluation_first
    assert evaluate_kind(context, _facts(9, NOW - timedelta(hours=7)), "failing", NOW) is None
    assert produced == []


def test_a_round_that_decides_nothing_new_writes_nothing(ctx: Any) -> None:  # noqa: ANN401
    """A healthy feed costs no state write at all; an open incident's state is rewritten only while its reason
    changes (its duration grows), and after the recovery quiet rounds write nothing again."""
    context, _, _ = ctx
    states = context.states
    writes: list[str] = []
    original_put = states.put

    def counting_put(state: State, doc: dict[str, Any]) -> State | None:
        writes.append(doc.get("last_action", ""))
        return original_put(state, doc)

    states.put = counting_put
    healthy = _facts(0, NOW - timedelta(minutes=5))
    assert [evaluate_kind(context, healthy, "failing", NOW + timedelta(minutes=m)) for m in (0, 10)] == ["quiet"] * 2
    assert writes == [] and states.docs == {}
    failing_facts = _facts(9, NOW - timedelta(hours=7))
    assert evaluate_kind(context, failing_facts, "failing", NOW) == "open"
    assert evaluate_kind(context, failing_facts, "failing", NOW + timedelta(minutes=30)) == "hold"  # 7.5 h now
    healed = NOW + timedelta(hours=1)
    assert evaluate_kind(context, _facts(0, healed), "failing", healed) == "recover"
    before = len(writes)
    assert evaluate_kind(context, _facts(0, healed), "failing", healed + timedelta(minutes=10)) == "quiet"
    assert len(writes) == before and writes[:2] == ["open", "open"] and "hold" in writes
