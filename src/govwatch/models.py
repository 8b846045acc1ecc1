"""Message contracts: the pydantic models are the source of truth for every Kafka message.

Their JSON Schemas are generated into ``schemas/`` by ``python -m govwatch_dev.schemas_gen`` and
committed; ``tests/unit/test_schemas.py`` fails with that command when they drift.

Every message carries ``schema_version``, the ``story_id`` (except batch/alert envelopes, which carry
the ids they cover) and a ``trace`` of UTC timestamps so end-to-end latency can be measured from the
messages alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = 1

ExtractionStatus = Literal["extracted", "extracted_fallback", "feed_content", "feed_summary", "empty"]
EntityType = Literal["person", "org", "country", "law", "event", "product"]
# subject: the story is about it; source: an outlet, wire or journalist only cited as the origin of information
EntityRole = Literal["subject", "source"]


def utcnow() -> datetime:
    """Timezone-aware now in UTC (the only clock message code uses)."""
    return datetime.now(UTC)


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        """The Kafka value: compact UTF-8 JSON."""
        return self.model_dump_json(exclude_none=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse a Kafka value; raises pydantic.ValidationError on contract violations."""
        return cls.model_validate_json(data)


class Trace(BaseModel):
    """When each stage saw the story (UTC). Later stages copy the earlier fields forward."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_seen_at: datetime = Field(description="When the poller first saw the entry in a feed")
    published_to_kafka_at: datetime | None = Field(None, description="When the raw story was acknowledged by Kafka")
    enriched_at: datetime | None = None
    indexed_at: datetime | None = None
    alerted_at: datetime | None = Field(None, description="When a notification for it was delivered")


class RawStory(_Message):
    """``stories.raw``: one new feed entry, keyed by story_id (sha256 of the canonical URL)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    story_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    url: str = Field(description="Canonical URL (tracking parameters removed)")
    original_url: str | None = Field(None, description="The link as the feed gave it")
    guid: str | None = None
    feed_id: str
    feed_url: str
    source: str = Field(description="Outlet or institution name from the feed registry")
    source_kind: str = "news"
    country: str | None = Field(None, description="ISO 3166-1 alpha-2 of the source")
    language: str | None = Field(None, description="Language the registry declares for the feed")
    needs_relevance_filter: bool = False
    title: str = ""
    summary: str = ""
    content: str = Field("", description="Full text the feed itself carried (content:encoded), markup stripped")
    author: str | None = None
    published_at: datetime | None = Field(None, description="Entry date in UTC; null when the feed gave none")
    published_at_suspect: bool = Field(False, description="True when the feed's date lay in the future")
    trace: Trace


class EntityRef(BaseModel):
    """A linked entity found in a story."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Wikidata QID where known, else a govwatch id such as org.eu_ai_office")
    name: str
    type: EntityType
    qid: str | None = None
    mentions: int = 1
    role: EntityRole = Field("subject", description="subject: the story is about it; source: an outlet, wire or "
                             "journalist only cited as the origin of information (absent in older messages: subject)")


class TopicRef(BaseModel):
    """An AI-governance topic from the taxonomy with its score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    label: str
    score: float = Field(ge=0.0, le=1.0)


class EnrichedStory(_Message):
    """``stories.enriched``: the raw story plus full text, entities, topics and cluster."""

    schema_version: Literal[1] = SCHEMA_VERSION
    story_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    raw: RawStory
    title: str
    text: str
    author: str | None = None
    site_name: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    extraction_status: ExtractionStatus
    fetch_error: str | None = Field(None, description="Why the page could not be used, when it could not")
    word_count: int = 0
    entities: list[EntityRef] = Field(default_factory=list)
    topics: list[TopicRef] = Field(default_factory=list)
    relevance: float = Field(0.0, ge=0.0, le=1.0)
    is_relevant: bool = False
    cluster_id: str = Field(description="story_id of the cluster's first-seen story")
    is_cluster_representative: bool = True
    neardup_keys: list[str] = Field(default_factory=list, description="LSH band keys of the text's MinHash")
    neardup_signature: str = Field("", description="The MinHash signature, hex, to verify LSH candidates")
    trace: Trace


class IndexedStory(BaseModel):
    """One story of an indexed batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    story_id: str
    cluster_id: str
    trace: Trace
    event_id: str | None = Field(None, description=(
        "The story's event (events index _id, the founding story's id); None in messages from before events"))


class IndexedBatch(_Message):
    """``stories.indexed``: ids that are now searchable in Elasticsearch (after a refresh)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    batch_id: str
    index: str = Field(description="Alias or index the stories were written to")
    stories: list[IndexedStory]


class AlertLink(BaseModel):
    """A titled link of an alert, for any channel to render."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    url: str


class Alert(_Message):
    """``alerts``: one subscription matched one story (cluster, or story of an event); keyed by subscription id."""

    schema_version: Literal[1] = SCHEMA_VERSION
    alert_id: str = Field(description=(
        "Ledger key, by the subscription's granularity: sha256(subscription_id, cluster_id) for cluster; "
        "sha256(subscription_id, 'story', story_id) for story; sha256(subscription_id, 'event', event key, "
        "story_id) for event"))
    subscription_id: str
    subscription_name: str
    mode: Literal["immediate", "hourly", "daily"] = "immediate"
    granularity: Literal["story", "cluster", "event"] = Field("cluster", description=(
        "What is announced once: each story, each wire-copy cluster, or each event (first story top-level, "
        "later ones in its Slack thread or a 'more coverage' roll-up); absent in older messages: cluster"))
    event_id: str | None = Field(None, description="The story's event (events index _id); None when not known")
    story_id: str
    cluster_id: str
    title: str
    url: str
    source: str
    published_at: datetime | None = None
    snippet: str = Field("", description="Highlighted fragment; <em> marks matching terms")
    entities: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    kind: Literal["match", "spike", "health"] = Field("match", description=(
        "match: a subscription matched a story; spike: a spike rule fired (title, lines and links say it all; "
        "story_id is the spike's top story); health: a source health incident opened or recovered (title, lines "
        "and links say it all; story_id is the incident id); absent in older messages: match"))
    lines: list[str] = Field(default_factory=list, description="Channel-neutral plain-text lines (spike alerts)")
    links: list[AlertLink] = Field(default_factory=list, description="Channel-neutral links (spike alerts)")
    trace: Trace


class DeadLetter(_Message):
    """``<topic>.dlq``: a message a stage could not process, with the reason and the original payload."""

    schema_version: Literal[1] = SCHEMA_VERSION
    stage: str
    reason: str
    error_type: str
    topic: str
    partition: int
    offset: int
    key: str | None = None
    payload: str = Field(description="Original value, UTF-8 (undecodable bytes replaced)")
    story_id: str | None = None
    failed_at: datetime


MESSAGES: dict[str, type[_Message]] = {
    "raw_story": RawStory,
    "enriched_story": EnrichedStory,
    "indexed_batch": IndexedBatch,
    "alert": Alert,
    "dead_letter": DeadLetter,
}
