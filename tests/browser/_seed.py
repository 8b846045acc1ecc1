"""Test data for the browser tests and the screenshot script: stories on both sides of a month boundary, one hostile
story, subscriptions, and ledger entries in every delivery state — written to the real Elasticsearch through the
product's own adapters (bulk_index, SubscriptionStore, matcher, AlertLedger), never as hand-made index documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from govwatch.adapters.es_io import make_client
from govwatch.adapters.story_index import bulk_index
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.matcher import fetch_stories, match_batch
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Subscription
from govwatch.models import EnrichedStory, IndexedStory
from govwatch.settings import Settings
from govwatch.stages.alerter import build_alert
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


__all__ = ["FIRST_SEEN", "HOSTILE_TITLE", "NOW", "OWNER", "Seeded", "seed"]
