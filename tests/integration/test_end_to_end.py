"""End to end on the real stack, on the demo's own sample (deploy/demo): feed server -> Prefect poll flow -> enrich ->
index (events) -> alert -> notify -> Slack receiver (webhook and bot-token threads) -> the web app's events API."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from govwatch.adapters.kafka_io import admin_client
from govwatch.alerts.query import subscription_query
from govwatch.alerts.store import SubscriptionStore
from govwatch.settings import Settings
from govwatch_dev import demo
from govwatch_dev.demo_site import DemoSite
from govwatch_dev.slack_receiver import WEBHOOK_PREFIX, SlackReceiver
from tests.support.webapp import admin_settings, run_web_app

SAMPLE = demo.REPO / "deploy" / "demo"
SOURCE = [json.loads(line) for line in (SAMPLE / "source" / "stories.jsonl").read_text().splitlines() if line.strip()]
# The clock of the demo site and of the web app, as a newcomer's run would have it (never today's date): the site
# rebases the sample so its newest day is the day before. Later than the sample's real end, so the shift is not zero,
# and earlier than any machine running this test, so no rebased date lies in the consumers' future.
SITE_NOW = datetime(2025, 11, 3, 9, 30, tzinfo=UTC)
NEWEST_EVENT = "us-ai-action-plan-2025-07"  # the sample's newest labelled event: the default 30-day list shows it
MIN_WIDE_EVENTS = 5  # the source labels 9 events with 4+ outlets; the assignment may split a few


def _story_url(payload: dict[str, Any]) -> str:
    """The story URL of a delivered message (the title link in its first section block)."""
    text = json.dumps(payload)
    start = text.index("<http") + 1
    return text[start:text.index("|", start)]


def _matches(settings: Settings, es: Any, sub: Any) -> list[dict[str, Any]]:  # noqa: ANN401
    """The stories ES returns for a subscription's query + filters (story_id, cluster_id, event_id)."""
    resp = es.search(index=settings.index("stories"), size=1000, source=["story_id", "cluster_id", "event_id", "url"],
                     query=subscription_query(sub.query, sub.filters, sub.allow_expensive))
    return [hit["_source"] for hit in resp["hits"]["hits"]]


def _ledger(settings: Settings, es: Any, subscription_id: str) -> dict[str, dict[str, Any]]:  # noqa: ANN401
    """The subscription's ledger entries by alert id."""
    es.indices.refresh(index=settings.index("alert-ledger"))
    hits = es.search(index=settings.index("alert-ledger"), size=1000,
                     query={"term": {"subscription_id": subscription_id}})["hits"]["hits"]
    return {h["_source"]["alert_id"]: h["_source"] for h in hits}


def _check_threads(settings: Settings, es: Any, receiver: SlackReceiver, sub: Any) -> int:  # noqa: ANN401
    """One top-level post per matching event, every other matching story of the event once in that post's thread;
    returns how many events the subscription matched."""
    matched = _matches(settings, es, sub)
    by_event: dict[str, set[str]] = defaultdict(set)
    for story in matched:
        by_event[story["event_id"]].add(story["story_id"])
    ledger = _ledger(settings, es, sub.id)
    channel = sub.destination.channel
    parents = receiver.top_level(channel)
    assert len(parents) == len(by_event) > 0
    threads: dict[str, set[str]] = {}
    for parent in parents:
        entry = ledger[parent["metadata"]["event_payload"]["alert_id"]]
        members = {entry["story_id"]}
        for reply in receiver.replies(channel, parent["ts"]):
            replied = ledger[reply["metadata"]["event_payload"]["alert_id"]]
            assert replied["event_id"] == entry["event_id"]
            members.add(replied["story_id"])
        assert entry["event_id"] not in threads  # one top-level post per event
        threads[entry["event_id"]] = members
    assert threads == by_event
    assert len(receiver.messages(channel)) == len(matched)  # every story once, none twice
    return len(by_event)


def test_demo_sample_end_to_end_events_threads_api_then_replay_sends_nothing(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """Every sample story is indexed; several events have four or more outlets; the event subscription gets one
    top-level post per matching event and thread replies for the rest; each webhook (cluster, story) match reaches
    Slack once; the events API lists the wide events; a full replay from offset 0 sends nothing."""
    settings = initialized
    es = demo.es_client(settings)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    site = DemoSite(SAMPLE, port=0, clock=lambda: SITE_NOW)
    with SlackReceiver() as receiver:
        base = site.start()
        try:
            env = demo.child_env(settings, {"GOVWATCH_FEEDS_FILE": str(site.registry_path(tmp_path)),
                                            "GOVWATCH_SLACK_API_BASE": receiver.api_base})
            demo.ensure_subscriptions(settings, es, SAMPLE / "subscriptions.yaml", receiver.webhook_url("T1/B1/e2e"))
            pipeline = demo.Pipeline(settings, env, tmp_path / "logs")
            pipeline.start()
            try:
                summary = demo.poll_once(env, tmp_path / "poll.log")
                final = demo.wait_until_drained(settings, es, pipeline, print, timeout_s=600,
                                                want=lambda c: c.matched > 0 and c.delivered == c.matched)
            finally:
                pipeline.stop()
            assert "new" in summary and final.seen == final.indexed == len(SOURCE)
            assert final.wide_events >= MIN_WIDE_EVENTS, final.line()

            subs = {s.name: s for s in store.active()}
            bot = [s for s in subs.values() if s.destination.kind == "bot"]
            assert bot and all(s.granularity == "event" for s in bot)
            thread_events = sum(_check_threads(settings, es, receiver, s) for s in bot)

            expected: set[tuple[str, str]] = set()
            for sub in subs.values():
                if sub.destination.kind == "webhook":
                    key = "story_id" if sub.granularity == "story" else "cluster_id"
                    expected |= {(sub.id, m[key]) for m in _matches(settings, es, sub)}
            hooked = [r for r in receiver.deliveries if r.path.startswith(WEBHOOK_PREFIX)]
            assert expected and len(hooked) == len(expected)
            assert all(_story_url(r.payload).startswith(base) for r in hooked)
            assert len(receiver.deliveries) == final.delivered
            assert final.delivered == len(hooked) + sum(len(receiver.messages(s.destination.channel)) for s in bot)
            print(f"e2e: {final.line()}; {thread_events} event threads; {len(hooked)} webhook posts")

            _check_events_api(settings, es, site.offset)

            # Replay every consumer group from offset 0 with restarted consumers: nothing new reaches Slack.
            admin = admin_client(settings.kafka_bootstrap)
            try:
                admin.delete_groups([f"{settings.topic_prefix}.{name}" for name in demo.CONSUMERS])
            finally:
                admin.close()
            before = len(receiver.requests)
            enriched = _enrichment(settings, es)
            pipeline = demo.Pipeline(settings, env, tmp_path / "logs-replay")
            pipeline.start()
            try:
                again = demo.wait_until_drained(settings, es, pipeline, print, timeout_s=600)
                replay_log = (tmp_path / "logs-replay" / "notify.log").read_text()
                replayed = [json.loads(line) for line in replay_log.splitlines() if line.startswith("{")]
            finally:
                pipeline.stop()
            extra = receiver.requests[before:]
            changed = _changed(enriched, _enrichment(settings, es))
            # no post, reply, update or read; a story enriched differently on replay (its page fetched once and not
            # the other time) can match anew: named here, since that alert is then the replay's own
            assert not extra, _describe(extra, replayed, tmp_path / "logs-replay") + changed
            assert (again.delivered, again.indexed, again.events) == (final.delivered, final.indexed, final.events)
            first_run = [json.loads(line) for line in (tmp_path / "logs" / "notify.log").read_text().splitlines()
                         if line.startswith("{")]
            # Every record of the alerts topic is skipped: one per alert, plus the copies the re-drive produced for
            # alerts deferred meanwhile (a busy destination, a reply waiting for its parent's ts).
            redriven = sum(1 for e in first_run if e.get("event") == "redriven")
            assert sum(1 for e in replayed if e.get("event") == "notify_skipped") == final.delivered + redriven
        finally:
            site.stop()


def _enrichment(settings: Settings, es: Any) -> dict[str, dict[str, Any]]:  # noqa: ANN401
    """Each story's enrichment outcome that matching reads (extraction, relevance, fetch error), by story id."""
    es.indices.refresh(index=settings.index("stories"))
    fields = ["story_id", "url", "extraction_status", "fetch_error", "relevance", "is_relevant"]
    hits = es.search(index=settings.index("stories"), size=1000, source=fields)["hits"]["hits"]
    return {h["_source"]["story_id"]: h["_source"] for h in hits}


def _changed(first: dict[str, dict[str, Any]], replay: dict[str, dict[str, Any]]) -> str:
    """The stories the replay enriched differently from the first run, one line each ('' when none)."""
    lines = []
    for story_id, was in sorted(first.items()):
        now = replay.get(story_id, {})
        if any(was.get(k) != now.get(k) for k in ("extraction_status", "relevance", "is_relevant")):
            lines.append(f"  enriched differently on replay: {was.get('url')} "
                         f"{was.get('extraction_status')}/{was.get('relevance')}/{was.get('is_relevant')} -> "
                         f"{now.get('extraction_status')}/{now.get('relevance')}/{now.get('is_relevant')}; "
                         f"first-run fetch error: {str(was.get('fetch_error'))[:200]}")
    return "".join(f"\n{line}" for line in lines)


def _describe(requests: list[Any], notify_events: list[dict[str, Any]], log_dir: Path) -> str:
    """Why the replay reached Slack: each request (path, status, body summary), what the replay's notifier did
    other than skip, and the replay's alert batches that created ledger entries."""
    lines = [f"the replay made {len(requests)} Slack request(s):"]
    for r in requests:
        body = r.payload or {}
        meta = (body.get("metadata") or {}).get("event_payload") or {}
        lines.append(f"  {r.path} -> {r.status} channel={body.get('channel')} ts={body.get('ts')} "
                     f"thread_ts={body.get('thread_ts')} alert_id={meta.get('alert_id')} "
                     f"text={str(body.get('text'))[:120]!r} keys={sorted(body)}")
    quiet = {"notify_skipped", "batch_done", "partitions_assigned"}
    lines += [f"  notify: {json.dumps(e)[:400]}" for e in notify_events if e.get("event") not in quiet]
    alert_log = (log_dir / "alert.log").read_text(errors="replace").splitlines()
    lines += [f"  alert: {line[:400]}" for line in alert_log if line.startswith("{") and '"new": 0,' not in line
              and '"alert_batch"' in line]
    return "\n".join(lines)


def _check_events_api(settings: Settings, es: Any, offset: timedelta) -> None:  # noqa: ANN401
    """Events carry the rebased dates; GET /api/v1/events (clock at the site's) lists the newest event in the default
    30 days and the year's wide events by outlets over 365 days; every wide event's API page shows its outlets."""
    es.indices.refresh(index=settings.index("events"))
    wide = [h["_source"] for h in es.search(index=settings.index("events"), size=1000, query={
        "range": {"outlet_count": {"gte": demo.WIDE_EVENT_OUTLETS}}})["hits"]["hits"]]
    newest = max(datetime.fromisoformat(s["published"]) for s in SOURCE if s["event"] == NEWEST_EVENT) + offset
    assert max(datetime.fromisoformat(e["last_seen"]) for e in wide) == newest
    assert SITE_NOW - timedelta(days=2) < newest < SITE_NOW
    web_settings, token = admin_settings(settings)
    auth = {"Authorization": f"Bearer {token}"}
    with run_web_app(web_settings, clock=lambda: SITE_NOW) as url:
        default = httpx.get(f"{url}/api/v1/events", headers=auth, timeout=30)
        assert default.status_code == 200, default.text
        assert newest.isoformat()[:16] in {e["last_seen"][:16] for e in default.json()["events"]}
        listed = httpx.get(f"{url}/api/v1/events", params={"days": 365, "order": "outlets", "limit": 200},
                           headers=auth, timeout=30)
        assert listed.status_code == 200, listed.text
        rows = {e["event_id"]: e for e in listed.json()["events"]}
        recent = [e for e in wide if datetime.fromisoformat(e["last_seen"]) >= SITE_NOW - timedelta(days=365)]
        assert len(recent) >= 3 and all(rows[e["event_id"]]["outlet_count"] == e["outlet_count"] for e in recent)
        for event in wide:
            one = httpx.get(f"{url}/api/v1/events/{event['event_id']}", headers=auth, timeout=30)
            assert one.status_code == 200, one.text
            assert {c["outlet"] for c in one.json()["coverage"]} == set(event["outlets"])
