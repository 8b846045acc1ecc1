"""One hostile destination never holds other subscriptions' alerts, and loses none of its own (issue 22, defect 4).

Real stack: the notify process's own ``build`` (SSRF-guarded sender, webhook-host allowlist, re-drive thread) on the
real consumer loop, real Kafka (alerts topic and its dead-letter topic), the Elasticsearch ledger, and a
Slack-compatible receiver on 127.0.0.1 whose "hostile" webhook answers 429 with ``Retry-After: 60`` for ever.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from govwatch.adapters import kafka_io
from govwatch.adapters.kafka_topics import ALERTS, dlq
from govwatch.alerts.ledger import AlertLedger, alert_id
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.models import Alert, Trace
from govwatch.settings import Settings
from govwatch.wiring.notify import build_notify_stage
from govwatch_dev import demo
from govwatch_dev.slack_receiver import ScriptedResponse, SlackReceiver
from tests.factories import sid
from tests.support.kafka_util import read_all
from tests.support.stages import notify_loop

HOSTILE = "T1/B1/hostileSECRET"
GOOD = "T2/B2/goodSECRET"
RETRY_AFTER_S = 60  # what the hostile webhook asks for; the old notifier waited 3 x 60 s inline, then again
PROMPT_S = 45.0  # the healthy subscription's alerts arrive well before the hostile Retry-After could have passed
WAIT_S = 180.0  # readiness deadline on a busy 2-core machine


def _rate_limited_forever() -> ScriptedResponse:
    return ScriptedResponse(429, "rate_limited", {"Retry-After": str(RETRY_AFTER_S)})


def _alert(sub: Subscription, n: int) -> Alert:
    return Alert(alert_id=alert_id(sub.id, sid(n)), subscription_id=sub.id, subscription_name=sub.name,
                 story_id=sid(n), cluster_id=sid(n), title=f"AI Act story {n} for {sub.name}",
                 url=f"https://example.org/story/{n}", source="Example News",
                 trace=Trace(first_seen_at=datetime(2026, 11, 20, 9, 1, tzinfo=UTC)))


def wait_for(condition: Callable[[], bool], what: str, check: Callable[[], None], limit_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        check()
        assert time.monotonic() < deadline, f"timed out after {limit_s:.0f}s waiting for {what}"
        time.sleep(0.1)


@contextmanager
def notify_process(settings: Settings) -> Iterator[Callable[[], None]]:
    """What ``consumers/notify.py`` runs (``build_notify_stage``, re-drive included) on the real loop, in a thread."""
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    stage = build_notify_stage(settings, producer)
    try:
        with notify_loop(settings, stage, f"{settings.topic_prefix}.notify", max_poll_records=20) as check:
            yield check
    finally:
        stage.close()
        producer.close()


def _setup(settings: Settings, receiver: SlackReceiver, hostile_n: list[int], good_n: list[int],
           ) -> tuple[AlertLedger, list[Alert], list[Alert]]:
    """Two subscriptions; every alert on ONE partition, the hostile ones first, so the old code made the good ones
    wait behind them."""
    es = demo.es_client(settings)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    store = SubscriptionStore(es, settings.index("subscriptions"))
    hostile = store.add(Subscription(name="hostile", query='"AI Act"', destination=Destination(
        kind="webhook", webhook_url=receiver.webhook_url(HOSTILE))))
    good = store.add(Subscription(name="good", query='"AI Act"', destination=Destination(
        kind="webhook", webhook_url=receiver.webhook_url(GOOD))))
    hostile_alerts = [_alert(hostile, n) for n in hostile_n]
    good_alerts = [_alert(good, n) for n in good_n]
    ledger.record([*hostile_alerts, *good_alerts], datetime(2026, 11, 20, 9, 2, tzinfo=UTC))
    producer = kafka_io.make_producer(settings.kafka_bootstrap)
    try:
        for alert in [*hostile_alerts, *good_alerts]:
            producer.send(settings.topic(ALERTS), key=alert.subscription_id.encode(), value=alert.to_bytes(),
                          partition=0).get(timeout=30)
    finally:
        producer.close()
    return ledger, hostile_alerts, good_alerts


def _titles(receiver: SlackReceiver, hook: str) -> list[str]:
    return [str(r.payload.get("text")).split(" — ")[0] for r in receiver.deliveries
            if r.path == f"/services/{hook}" and r.payload]


def test_429_forever_destination_does_not_hold_others_and_its_alerts_arrive_once_after_recovery(
        initialized) -> None:  # noqa: ANN001
    """A webhook answering 429 + Retry-After 60 delays nobody else: the healthy subscription's alerts on the same
    partition arrive well under 60 s; the hostile one's are deferred (not lost) and delivered once when it recovers."""
    settings = initialized.model_copy(update={"slack_min_interval_s": 0.0, "slack_breaker_base_s": 1.0,
                                              "slack_breaker_max_s": 3.0, "slack_retry_window_s": 3600.0})
    with SlackReceiver() as receiver:
        receiver.script(f"/services/{HOSTILE}", _rate_limited_forever(), forever=True)
        ledger, hostile, good = _setup(settings, receiver, [1, 2, 3], [11, 12, 13])
        with notify_process(settings) as check:
            started = time.monotonic()
            wait_for(lambda: all((ledger.get(a.alert_id) or {}).get("status") == "delivered" for a in good),
                     "the healthy subscription's alerts", check, limit_s=PROMPT_S)
            good_after_s = time.monotonic() - started
            deferred = [ledger.get(a.alert_id) for a in hostile]
            hostile_requests = [r for r in receiver.requests if r.path == f"/services/{HOSTILE}"]

            receiver.script(f"/services/{HOSTILE}", ScriptedResponse(200, "ok"), forever=True)  # it recovers
            wait_for(lambda: all((ledger.get(a.alert_id) or {}).get("status") == "delivered" for a in hostile),
                     "the hostile subscription's deferred alerts after recovery", check)
        entries = [ledger.get(a.alert_id) for a in [*hostile, *good]]

    assert good_after_s < PROMPT_S
    assert all(e["status"] == "failed" and e.get("next_attempt_at") and "429" in e["last_error"] for e in deferred)
    assert all(e["first_failed_at"] and e["attempts"] >= 1 for e in deferred)
    assert all(r.status == 429 for r in hostile_requests) and hostile_requests  # refused, never posted meanwhile
    assert sorted(_titles(receiver, GOOD)) == sorted(a.title for a in good)  # once each
    assert sorted(_titles(receiver, HOSTILE)) == sorted(a.title for a in hostile)
    assert all(not e.get("possible_duplicate") for e in entries)
    assert read_all(settings.kafka_bootstrap, settings.topic(dlq(ALERTS)), settle_s=0.5) == []


def test_destination_failing_past_the_retry_window_is_dead_lettered_with_its_reason(
        initialized) -> None:  # noqa: ANN001
    """An alert whose destination answers 429 for longer than GOVWATCH_SLACK_RETRY_WINDOW_S ends in the dead-letter
    topic (and the ledger) with the reason; the healthy subscription's alert is delivered meanwhile."""
    settings = initialized.model_copy(update={"slack_min_interval_s": 0.0, "slack_breaker_base_s": 0.5,
                                              "slack_breaker_max_s": 1.0, "slack_retry_window_s": 3.0})
    with SlackReceiver() as receiver:
        receiver.script(f"/services/{HOSTILE}", _rate_limited_forever(), forever=True)
        ledger, hostile, good = _setup(settings, receiver, [21], [31])
        with notify_process(settings) as check:
            wait_for(lambda: (ledger.get(hostile[0].alert_id) or {}).get("status") == "dead_lettered",
                     "the hostile alert to be dead-lettered", check)
            wait_for(lambda: (ledger.get(good[0].alert_id) or {}).get("status") == "delivered", "the good alert",
                     check)
        letters = read_all(settings.kafka_bootstrap, settings.topic(dlq(ALERTS)), expect=1)
        entry = ledger.get(hostile[0].alert_id)

    assert [r.status for r in receiver.deliveries] == [200] and _titles(receiver, HOSTILE) == []
    assert len(letters) == 1
    letter = json.loads(letters[0].value)
    assert letter["error_type"] == "DeliveryRejected" and "gave up after" in letter["reason"]
    assert "429" in letter["reason"] and json.loads(letter["payload"])["alert_id"] == hostile[0].alert_id
    assert entry["last_error"].startswith("gave up after") and "SECRET" not in letter["reason"]


def test_two_redrives_take_a_due_alert_once_and_an_expired_lease_takes_it_again(initialized) -> None:  # noqa: ANN001
    """Two notify processes' re-drives racing for one due entry produce it once (compare-and-set claim); if the
    producing one died, the entry is taken again once its lease expired: deferral never loses an alert."""
    from datetime import timedelta

    from govwatch.alerts.redrive import CLAIM_LEASE_S, Redriver

    settings = initialized
    es = demo.es_client(settings)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    store = SubscriptionStore(es, settings.index("subscriptions"))
    sub = store.add(Subscription(name="deferred", query='"AI Act"', destination=Destination(
        kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/x")))
    alert = _alert(sub, 41)
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ledger.record([alert], t0)
    ledger.defer(alert.alert_id, "HTTP 429 rate_limited", 1, t0, t0 + timedelta(seconds=5), t0)
    es.indices.refresh(index=settings.index("alert-ledger"))
    produced: list[str] = []
    later = t0 + timedelta(seconds=6)
    first = Redriver(ledger, lambda a: produced.append(a.alert_id), clock=lambda: later)
    second = Redriver(ledger, lambda a: produced.append(a.alert_id), clock=lambda: later)
    hits = ledger.due(later)  # both processes read the entry before either claims it
    assert [h["_id"] for h in hits] == [alert.alert_id]
    assert ledger.claim(hits[0], later + timedelta(seconds=CLAIM_LEASE_S))
    assert not ledger.claim(hits[0], later + timedelta(seconds=CLAIM_LEASE_S))  # the stale read loses the race
    es.indices.refresh(index=settings.index("alert-ledger"))
    assert first.run_once() == 0 and second.run_once() == 0  # claimed: not due again within the lease

    expired = later + timedelta(seconds=CLAIM_LEASE_S + 1)  # the claiming process died before producing it
    again = Redriver(ledger, lambda a: produced.append(a.alert_id), clock=lambda: expired)
    assert again.run_once() == 1 and produced == [alert.alert_id]
    es.indices.refresh(index=settings.index("alert-ledger"))
    assert again.run_once() == 0  # its own claim holds the entry until the notifier settles it


def test_destination_answering_only_after_the_timeout_does_not_hold_others(initialized) -> None:  # noqa: ANN001
    """A webhook that takes a message and answers only after the send timeout holds its own subscription's alerts,
    not the healthy one's on the same partition; its alerts are deferred with the unknown outcome recorded."""
    from govwatch_dev.slack_receiver import Fault

    send_timeout_s = 20.0
    settings = initialized.model_copy(update={"slack_min_interval_s": 0.0, "slack_send_timeout_s": send_timeout_s,
                                              "slack_breaker_base_s": 600.0, "slack_breaker_max_s": 600.0})
    with SlackReceiver() as receiver:
        receiver.fault(f"/services/{HOSTILE}", Fault(delay_s=3600.0), forever=True)  # accepted, answered far too late
        ledger, hostile, good = _setup(settings, receiver, [51, 52], [61, 62])
        with notify_process(settings) as check:
            started = time.monotonic()
            wait_for(lambda: all((ledger.get(a.alert_id) or {}).get("status") == "delivered" for a in good),
                     "the healthy subscription's alerts", check, limit_s=send_timeout_s * 0.75)
            good_after_s = time.monotonic() - started
            wait_for(lambda: all((ledger.get(a.alert_id) or {}).get("next_attempt_at") for a in hostile),
                     "the slow destination's alerts to be deferred", check)
            entries = [ledger.get(a.alert_id) for a in hostile]

    assert good_after_s < send_timeout_s * 0.75
    assert all(e["status"] == "failed" for e in entries)
    assert entries[0]["outcome_unknown"] and "no answer" in entries[0]["last_error"]  # a later resend is flagged
    assert not entries[1]["outcome_unknown"] and "circuit open" in entries[1]["last_error"]  # never sent
    assert len([r for r in receiver.requests if r.path == f"/services/{HOSTILE}"]) == 1


def test_an_unreadable_deferred_entry_is_dead_lettered_and_does_not_stop_the_others(
        initialized) -> None:  # noqa: ANN001
    """A deferred ledger entry whose stored alert no longer validates is marked dead-lettered with the reason, and the
    due entry behind it is still re-driven."""
    from datetime import timedelta

    from govwatch.alerts.redrive import Redriver

    settings = initialized
    es = demo.es_client(settings)
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    sub = SubscriptionStore(es, settings.index("subscriptions")).add(Subscription(
        name="deferred", query='"AI Act"', destination=Destination(
            kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/x")))
    broken, fine = _alert(sub, 71), _alert(sub, 72)
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ledger.record([broken, fine], t0)
    ledger.defer(broken.alert_id, "HTTP 500", 1, t0, t0 + timedelta(seconds=1), t0)  # due first
    ledger.defer(fine.alert_id, "HTTP 500", 1, t0, t0 + timedelta(seconds=2), t0)
    es.update(index=settings.index("alert-ledger"), id=broken.alert_id, doc={"alert": {"title": 5}})
    es.indices.refresh(index=settings.index("alert-ledger"))
    produced: list[str] = []
    redriver = Redriver(ledger, lambda a: produced.append(a.alert_id), clock=lambda: t0 + timedelta(seconds=3))
    assert redriver.run_once() == 1
    entry = ledger.get(broken.alert_id)
    assert produced == [fine.alert_id]
    assert entry["status"] == "dead_lettered" and entry["last_error"].startswith("stored alert unreadable")
