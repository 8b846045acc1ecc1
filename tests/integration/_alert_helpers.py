"""Builders shared by the alerting integration tests (stories with chosen text, subscriptions)."""

from __future__ import annotations

from datetime import UTC, datetime

from govwatch.alerts.subscriptions import Destination, Filters, Subscription
from govwatch.models import EnrichedStory, EntityRef, TopicRef, Trace
from tests.factories import enriched_story, raw_story

WEBHOOK = "https://hooks.slack.com/services/T000/B000/SECRETSECRET"

TEXTS = [
    ("EU regulators fine chatbot maker under the AI Act", "The AI Act enforcement began with a fine in Brussels.",
     "FR"),
    ("AI Act guidance published", "The Commission published guidance on the AI Act timeline.", "DE"),
    ("Ofcom opens probe into deepfakes", "Ofcom said the investigation concerns online safety duties.", "GB"),
    ("NIST releases AI risk profile", "NIST released a generative AI profile for the risk framework.", "US"),
    ("Act on AI enforcement delayed", "Lawmakers said enforcement of the act on AI will be delayed.", "FR"),
    ("Seoul summit closes", "Leaders attended the AI Seoul Summit and signed a declaration.", "KR"),
]


# Stories are first seen on both sides of a month boundary on purpose: they live in two monthly indices, so
# every test here reads them the way production must (through the alias, never a single-index GET).
FIRST_SEEN = (datetime(2026, 11, 30, 23, 50, tzinfo=UTC), datetime(2026, 12, 1, 0, 10, tzinfo=UTC))


def story(n: int, title: str, text: str, country: str, cluster: int | None = None,
          source: str = "Example News") -> EnrichedStory:
    raw = raw_story(n, title=title, source=source, trace=Trace(first_seen_at=FIRST_SEEN[n % 2]))
    over = {}
    if cluster is not None:
        over["cluster_id"] = raw_story(cluster).story_id
        over["is_cluster_representative"] = cluster == n
    return enriched_story(n, text=text, raw=raw,
                          entities=[EntityRef(id=country, name=country, type="country")],
                          topics=[TopicRef(id="compliance_enforcement"
                                           if "fine" in text.lower() or "enforcement" in text.lower()
                                           else "legislation_rulemaking", label="t", score=0.7)],
                          relevance=0.4 + 0.1 * (n % 5), **over)


def corpus() -> list[EnrichedStory]:
    return [story(i, t, x, c) for i, (t, x, c) in enumerate(TEXTS)]


def sub(name: str, query: str, filters: Filters | None = None, **over: object) -> Subscription:
    return Subscription(name=name, query=query, filters=filters or Filters(),
                        destination=Destination(kind="webhook", webhook_url=WEBHOOK), **over)
