"""Test data for the browser tests and the screenshot script: stories on both sides of a month boundary, one hostile
story, subscriptions, and ledger entries in every delivery state — written to the real Elasticsearch through the
product's own adapters (bulk_index, SubscriptionStore, matcher, AlertLedger), never as hand-made index documents.

``seed_sources`` does the same for the source health pages: a small feed registry, the feeds' stories (bulk_index),
their poll state on the ``feeds.state`` topic (KafkaStateStore, as the poller writes it) and one source health
evaluation at the fixed clock (run_source_health, as ``govwatch sources run`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from govwatch.adapters.es_io import make_client
from govwatch.adapters.feed_stores import KafkaStateStore
from govwatch.adapters.kafka_topics import FEED_STATE
from govwatch.adapters.story_index import bulk_index
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.matcher import fetch_stories, match_batch
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Subscription
from govwatch.feeds.state import FeedState
from govwatch.models import EnrichedStory, IndexedStory, Trace
from govwatch.settings import Settings
from govwatch.stages.alerter import build_alert
from govwatch.wiring.clients import producer_session
from govwatch.wiring.source_health import run_source_health
from tests.factories import enriched_story, raw_story
from tests.integration._alert_helpers import FIRST_SEEN, TEXTS, story, sub

# The clock of every browser test: the stories were first seen (and published) on 30 Nov and 1 Dec 2026, so a
# 7-day preview at this instant spans both monthly indices, whatever today's date is.
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
TOPIC_LABELS = {"compliance_enforcement": "Compliance, enforcement and penalties",
                "legislation_rulemaking": "AI legislation and rule-making"}  # src/govwatch/data/taxonomy.yaml
OWNER = "analyst"
# Feeds are hostile: a headline with a script element, an inline handler, and a story whose link is javascript:.
HOSTILE_TITLE = ('AI Act <script>window.__pwned = "script"; alert("title")</script>'
                 '<img src=x onerror="window.__pwned = \'img\'"> probe')
HOSTILE_TEXT = ('The AI Act probe continues. <a href="javascript:window.__pwned=\'text-link\'">read more</a> '
                '<script>window.__pwned = "text"</script>')
HOSTILE_URL = "javascript:window.__pwned='story-url';void(0)"
HOSTILE_N = 90
COPY_N = 91  # a syndicated copy of story 0: the same cluster, shown as "also in 1 outlet"


@dataclass(frozen=True)
class Seeded:
    stories: dict[str, Any]  # story id -> EnrichedStory
    subscription: Subscription  # "EU AI Act", matching the AI Act stories (and the hostile one)
    alert_ids: dict[str, str]  # status -> one alert id in that state
    hostile_story_id: str


def _story(n: int, title: str, text: str, country: str, **over: object) -> EnrichedStory:
    """The alerting tests' story, published when first seen and with the taxonomy's topic labels."""
    base = story(n, title, text, country, **over)
    seen = base.raw.trace.first_seen_at
    topics = [t.model_copy(update={"label": TOPIC_LABELS[t.id]}) for t in base.topics]
    return base.model_copy(update={"published_at": seen, "topics": topics,
                                   "raw": base.raw.model_copy(update={"published_at": seen})})


def _hostile() -> EnrichedStory:
    base = _story(HOSTILE_N, HOSTILE_TITLE, HOSTILE_TEXT, "FR", source="Hostile <b>Feed</b>")
    raw = base.raw.model_copy(update={"url": HOSTILE_URL, "original_url": HOSTILE_URL})
    return base.model_copy(update={"raw": raw})


def seed(settings: Settings, now: datetime = NOW) -> Seeded:
    """Index the stories, save the subscriptions, and record the alerts the real matcher finds, in several states."""
    es = make_client(settings.es_url)
    stories = [_story(i, title, text, country, cluster=0 if i == 0 else None) for i, (title, text, country)
               in enumerate(TEXTS)]
    copy = _story(COPY_N, TEXTS[0][0], TEXTS[0][1], "BE", cluster=0, source="Second Outlet")
    stories += [copy, _hostile()]
    rejected = bulk_index(es, settings.index_prefix, stories)
    assert rejected == {}, rejected

    store = SubscriptionStore(es, settings.index("subscriptions"))
    eu = store.add(sub("EU AI Act", '"AI Act"', owner=OWNER, created_at=now - timedelta(days=3)))
    store.add(sub("UK online safety", "Ofcom OR deepfakes", owner=OWNER, mode="daily"))
    store.add(sub("Someone else's", "NIST", owner="other-team"))

    # What the alert stage does for a batch: match, build, record; then delivery outcomes as the notifier writes them.
    alias = settings.index("stories")
    docs = fetch_stories(es, alias, [s.story_id for s in stories])
    matches = [m for m in match_batch(es, alias, [eu], docs) if m.subscription_id == eu.id]
    by_id = {s.story_id: s for s in stories}
    order = {s.story_id: i for i, s in enumerate(stories)}
    alerts = [build_alert(eu, docs[m.story_id], m, IndexedStory(story_id=m.story_id,
                                                                cluster_id=by_id[m.story_id].cluster_id,
                                                                trace=by_id[m.story_id].trace))
              for m in sorted(matches, key=lambda m: order[m.story_id])]
    ledger = AlertLedger(es, settings.index("alert-ledger"))
    ledger.record(alerts, now - timedelta(hours=2))  # story 0 first: its copy joins the entry as "also in"
    ids = {a.story_id: a.alert_id for a in alerts}
    hostile = stories[-1].story_id
    states = {
        "delivered": ids[stories[0].story_id],
        "failed": ids[stories[1].story_id],
        "dead_lettered": ids[hostile],
    }
    ledger.mark_delivered(states["delivered"], now - timedelta(hours=1))
    ledger.mark_failed(states["failed"], "Slack answered 503 (service unavailable)", attempts=2, permanent=False,
                       at=now - timedelta(minutes=50))
    ledger.mark_failed(states["dead_lettered"], "Slack answered 404: channel_not_found", attempts=1, permanent=True,
                       at=now - timedelta(minutes=40))
    pending = [a.alert_id for a in alerts if a.alert_id not in states.values()]
    if pending:
        states["pending"] = pending[0]
    es.indices.refresh(index=settings.index("alert-ledger"))
    es.indices.refresh(index=settings.index("subscriptions"))
    return Seeded(stories=by_id, subscription=eu, alert_ids=states, hostile_story_id=hostile)


# Source health: "broken-wire" published hourly until its polls started failing 10 h before NOW (an open "failing"
# incident: the limit is 6 h; its last story, 11 h ago, is still inside the 12 h silence floor), "steady-news"
# publishes hourly and polls fine, "new-feed" was never polled and has no stories.
SOURCES_REGISTRY = """feeds:
  - {id: broken-wire, name: Broken Wire, url: "https://broken.example.org/rss"}
  - {id: steady-news, name: Steady News, url: "https://steady.example.org/rss"}
  - {id: new-feed, name: New Feed, url: "https://new.example.org/rss"}
"""
BROKEN_SINCE = NOW - timedelta(hours=10)
BROKEN_ERROR = "HTTP 503 from broken.example.org"
SOURCE_HISTORY = timedelta(days=3)


@dataclass(frozen=True)
class SourcesSeeded:
    settings: Settings  # the given settings with feeds_file -> the registry above
    summary: str  # the evaluation's summary line
    stories: dict[str, list[EnrichedStory]]  # feed id -> its stories, newest first


def _feed_stories(feed_id: str, host: str, until: datetime) -> list[EnrichedStory]:
    """One story an hour for SOURCE_HISTORY up to ``until``, each extracted from its page."""
    out, at, n = [], until - SOURCE_HISTORY, 0
    while at <= until:
        raw = raw_story(f"{feed_id}-{n}", url=f"https://{host}/story/{n}", feed_id=feed_id,
                        feed_url=f"https://{host}/rss", title=f"{feed_id} story {n}", published_at=at,
                        trace=Trace(first_seen_at=at))
        out.append(enriched_story(f"{feed_id}-{n}", raw=raw))
        at, n = at + timedelta(hours=1), n + 1
    return out[::-1]


def seed_sources(settings: Settings, workdir: Path, now: datetime = NOW) -> SourcesSeeded:
    """Write the registry, index the feeds' stories, put their poll state, and evaluate source health at ``now``."""
    registry = workdir / "feeds.yaml"
    registry.write_text(SOURCES_REGISTRY)
    settings = settings.model_copy(update={"feeds_file": registry})
    stories = {"broken-wire": _feed_stories("broken-wire", "broken.example.org", BROKEN_SINCE - timedelta(hours=1)),
               "steady-news": _feed_stories("steady-news", "steady.example.org", now - timedelta(minutes=30))}
    rejected = bulk_index(make_client(settings.es_url), settings.index_prefix,
                          [s for feed in stories.values() for s in feed])
    assert rejected == {}, rejected
    with producer_session(settings) as producer:
        polls = KafkaStateStore(settings, settings.topic(FEED_STATE), producer, decode=FeedState.from_bytes,
                                new=FeedState)
        polls.put(FeedState("broken-wire", last_success_at=BROKEN_SINCE, last_attempt_at=now - timedelta(minutes=5),
                            consecutive_failures=9, last_error=BROKEN_ERROR))
        polls.put(FeedState("steady-news", last_success_at=now - timedelta(minutes=5),
                            last_attempt_at=now - timedelta(minutes=5)))
    summary = run_source_health(settings, now)
    return SourcesSeeded(settings=settings, summary=summary, stories=stories)


__all__ = ["BROKEN_ERROR", "FIRST_SEEN", "HOSTILE_TITLE", "NOW", "OWNER", "Seeded", "SourcesSeeded", "seed",
           "seed_sources"]
