"""The scheduled evaluations killed mid-run: ``govwatch spikes run`` and ``govwatch sources run`` (what the two Prefect
flows call) are SIGKILLed again and again while they work through many rules / feeds, then run once to the end.

A kill can land anywhere: after a rule's (feed's) state was written with its alert pending and before the ledger has
it, between the ledger and Kafka, between Kafka and the state's "announced" write. The next run finishes what the
killed one left. Afterwards every surging rule has exactly one spike alert and every failing feed exactly one
"is failing" message, in the ledger and at the Slack-compatible receiver after the notifier (replayed twice): nothing
lost, nothing doubled; the flat series fire nothing. A kill is sent only once the state index (read in real time)
shows that some but not all of the work was done, so it lands mid-run; the test requires that at least one kill hit
a process still running.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from govwatch.adapters import es_io
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.slack_send import SlackSender
from govwatch.alerts.source_health_state import state_key
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.feeds.state import FeedState
from govwatch.models import Alert
from govwatch.settings import Settings
from govwatch.stages.notifier import NotifyStage
from govwatch.wiring.clients import slack_sender
from govwatch_dev import demo
from govwatch_dev.slack_receiver import SlackReceiver
from tests.integration.test_source_health import OCT31, _poll_states
from tests.integration.test_spike_alerts import MIDNIGHT, RULE, _alerts_on_topic, _index, _series

REPO = Path(__file__).resolve().parents[2]
RULES = 60  # surging rules: enough work that a run takes a while, so a kill lands inside it
FLAT = 5
FEEDS = 60
# After the first sign of progress, each run is left this much longer before its kill, so the kills land in
# different steps of a rule's (feed's) work, not always right after its first state write. Not a readiness wait: the
# test's outcome does not depend on where they land (the one requirement is a kill of a running process).
KILL_DELAYS_S = (0.0, 0.01, 0.03, 0.07, 0.15, 0.3)
WAIT_S = 300.0  # readiness deadline on a busy machine; nothing here waits on time


def _cli(settings: Settings, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "govwatch.cli", *args], cwd=REPO,
                            env=demo.child_env(settings, env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _kill_mid_run(start: Callable[[], subprocess.Popen], done: Callable[[], int], total: int) -> list[int | None]:
    """Start a run, wait until the state shows more work done than before the run, then SIGKILL it (after one of
    ``KILL_DELAYS_S``); once per delay, or until all the work is done. Returns each run's exit code (-9: killed
    while running; 0: it finished first)."""
    codes: list[int | None] = []
    for delay in KILL_DELAYS_S:
        before = done()
        if before >= total:
            break
        proc = start()
        deadline = time.monotonic() + WAIT_S
        while proc.poll() is None and done() <= before:
            assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=WAIT_S)
        codes.append(proc.returncode)
        print(f"run {len(codes)}: exit {proc.returncode}, done before {before}, after the kill {done()} of {total}")
    return codes


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, err[-3000:]
    return out


def _deliver(settings: Settings, es: Any, receiver: SlackReceiver) -> list[Alert]:  # noqa: ANN401
    """Everything on the alerts topic through the notifier, twice (a replay must post nothing more)."""
    records = _alerts_on_topic(settings)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    _, client = slack_sender(settings)  # the SSRF-guarded client
    with client:
        stage = NotifyStage(store, ledger, SlackSender(client, min_interval_s=0.0), receiver.api_base)
        assert stage(records) == {}
        assert stage(records) == {}
    return [Alert.from_bytes(r.value) for r in records]


def _ledger_entries(es: Any, settings: Settings) -> list[dict[str, Any]]:  # noqa: ANN401
    es.indices.refresh(index=settings.index("alert-ledger"))
    hits = es.search(index=settings.index("alert-ledger"), size=1000, query={"match_all": {}})["hits"]["hits"]
    return [h["_source"] for h in hits]


def test_spike_evaluation_killed_mid_run_alerts_each_spike_once(initialized) -> None:  # noqa: ANN001
    settings = initialized
    es = es_io.make_client(settings.es_url)
    width = RULE.window
    ends = [MIDNIGHT + timedelta(hours=3) - i * width for i in range(5)][::-1]  # 4 baseline windows, then the spike
    stories: list[dict[str, Any]] = []
    for i in range(RULES):
        stories += _series(f"surge{i}", 100_000 + 100 * i, [2, 2, 2, 2, 12], ends, width)
    for i in range(FLAT):
        stories += _series(f"steady{i}", 200_000 + 100 * i, [4, 4, 4, 4, 4], ends, width)
    _index(es, settings.index_prefix, stories)
    now = ends[4].isoformat()  # the spike window's end: every surging rule is over its threshold
    env = {"GOVWATCH_SLACK_MIN_INTERVAL_S": "0", "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32",
           "GOVWATCH_SLACK_WEBHOOK_HOSTS": "127.0.0.1"}

    with SlackReceiver() as receiver:
        store = SubscriptionStore(es, settings.index("subscriptions"))
        subs = [store.add(Subscription(name=word, query=word, spike=RULE, destination=Destination(
            kind="webhook", webhook_url=receiver.webhook_url(f"T/B/{word}"))))
            for word in [f"surge{i}" for i in range(RULES)] + [f"steady{i}" for i in range(FLAT)]]
        surging = {s.id for s in subs if s.name.startswith("surge")}

        def fired() -> int:  # real-time multi-get: no refresh, so the run's progress is seen as it happens
            docs = es.mget(index=settings.index("spike-state"), ids=sorted(surging))["docs"]
            return sum(1 for d in docs if d.get("found") and d["_source"].get("armed") is False)

        codes = _kill_mid_run(lambda: _cli(settings, env, "spikes", "run", "--now", now), fired, RULES)
        left = [d["_source"] for d in es.mget(index=settings.index("spike-state"), ids=sorted(surging))["docs"]
                if d.get("found") and d["_source"].get("armed") is False and not d["_source"].get("announced")]
        print(f"after the kills: {len(left)} spike(s) decided but not yet announced (finished by the next run)")
        summary = _finish(_cli(settings, env, "spikes", "run", "--now", now))
        again = _finish(_cli(settings, env, "spikes", "run", "--now", now))
        alerts = _deliver(settings, es, receiver)
        posted = [json.dumps(d.payload) for d in receiver.deliveries]

    assert -signal.SIGKILL in codes, f"no kill hit a running evaluation: exit codes {codes}"
    assert "0 fired" in again, again
    entries = _ledger_entries(es, settings)
    assert sorted(e["subscription_id"] for e in entries) == sorted(surging), summary
    assert all(e["status"] == "delivered" for e in entries)
    assert {a.subscription_id for a in alerts} == surging and {a.kind for a in alerts} == {"spike"}
    assert len(posted) == RULES  # one post per spike, whatever the kills left produced twice on the topic
    states = es.mget(index=settings.index("spike-state"), ids=[s.id for s in subs])["docs"]
    by_id = {d["_id"]: d["_source"] for d in states if d.get("found")}
    assert all(by_id[i]["fired_count"] == 1 and by_id[i]["announced"] for i in surging)
    assert all(by_id.get(s.id, {}).get("fired_count", 0) == 0 for s in subs if s.id not in surging)


def test_source_health_evaluation_killed_mid_run_opens_each_incident_once(
        initialized, tmp_path: Path) -> None:  # noqa: ANN001
    settings = initialized
    es = es_io.make_client(settings.es_url)
    now = OCT31 + timedelta(hours=24, minutes=30)  # 1 November 00:30; the polls fail since 31 October 14:00
    feeds = [f"feed-{i:02d}" for i in range(FEEDS)]
    registry = tmp_path / "feeds.yaml"
    registry.write_text("feeds:\n" + "".join(
        f'  - {{id: {f}, name: "Feed {f}", url: "https://{f}.example.org/rss"}}\n' for f in feeds))
    _poll_states(settings, *[FeedState(f, last_success_at=OCT31 + timedelta(hours=14), last_attempt_at=now,
                                       consecutive_failures=7, last_error="HTTP 503") for f in feeds])

    with SlackReceiver() as receiver:
        store = SubscriptionStore(es, settings.index("subscriptions"))
        ops = store.add(Subscription(name="operations", query="govwatch-operations-only", destination=Destination(
            kind="webhook", webhook_url=receiver.webhook_url("T/B/ops"))))
        env = {"GOVWATCH_SLACK_MIN_INTERVAL_S": "0", "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32",
               "GOVWATCH_SLACK_WEBHOOK_HOSTS": "127.0.0.1", "GOVWATCH_FEEDS_FILE": str(registry),
               "GOVWATCH_SOURCE_HEALTH_SUBSCRIPTION": ops.id}
        keys = [state_key(f, "failing") for f in feeds]

        def opened() -> int:  # real-time multi-get, as above
            docs = es.options(ignore_status=404).mget(index=settings.index("source-health"), ids=keys)["docs"]
            return sum(1 for d in docs if d.get("found") and d["_source"].get("open"))

        codes = _kill_mid_run(lambda: _cli(settings, env, "sources", "run", "--now", now.isoformat()), opened, FEEDS)
        left = [d for d in es.mget(index=settings.index("source-health"), ids=keys)["docs"]
                if d.get("found") and d["_source"].get("pending")]
        print(f"after the kills: {len(left)} incident message(s) pending (finished by the next run)")
        summary = _finish(_cli(settings, env, "sources", "run", "--now", now.isoformat()))
        again = _finish(_cli(settings, env, "sources", "run", "--now", (now + timedelta(minutes=10)).isoformat()))
        alerts = _deliver(settings, es, receiver)
        posted = [json.dumps(d.payload) for d in receiver.deliveries]

    assert -signal.SIGKILL in codes, f"no kill hit a running evaluation: exit codes {codes}"
    assert "0 incidents opened or recovered" in again, again
    entries = _ledger_entries(es, settings)
    assert len(entries) == FEEDS and all(e["status"] == "delivered" for e in entries), summary
    assert {a.kind for a in alerts} == {"health"} and len({a.alert_id for a in alerts}) == FEEDS
    assert len(posted) == FEEDS and all("is failing" in p for p in posted)
    assert sorted(f for f in feeds if any(f'Feed {f} is failing' in p for p in posted)) == feeds
    states = es.mget(index=settings.index("source-health"), ids=keys)["docs"]
    assert all(d["_source"]["open"] and d["_source"]["incidents"] == 1 and d["_source"]["pending"] is None
               for d in states)
