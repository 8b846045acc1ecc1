"""Alert subscriptions: what a user asked to be told about, and where (pure model, no adapters).

A subscription is a Lucene query string (the syntax Kibana's search bar accepts in Lucene mode) plus
optional structured filters, a Slack destination and a delivery mode. Destination secrets are
``SecretStr`` so that ``repr``, logs and ``model_dump(mode="json")`` never show them; only
``storage_document`` (written to Elasticsearch) reveals them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from govwatch.alerts.channel_rules import shape_problem
from govwatch.alerts.spike import SpikeRule
from govwatch.models import utcnow

Mode = Literal["immediate", "hourly", "daily"]
Granularity = Literal["story", "cluster", "event"]
# What a user creating a subscription (CLI, web form, JSON API) gets unless they choose: each event announced
# once, its later coverage threaded under it or rolled up; on a busy day one summit is one Slack thread, not thirty
# posts. A subscription without the field (stored before granularity existed, or built in code without it) keeps
# the behaviour it always had: once per wire-copy cluster.
DEFAULT_GRANULARITY: Granularity = "event"
STORED_DEFAULT_GRANULARITY: Granularity = "cluster"
GRANULARITIES: tuple[Granularity, ...] = ("event", "cluster", "story")


class Filters(BaseModel):
    """Structured filters; each list is "any of", the filters together are "all of"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topics: list[str] = Field(default_factory=list, description="Taxonomy topic ids")
    entity_ids: list[str] = Field(default_factory=list, description=(
        "Ids (Wikidata QIDs or govwatch ids) of entities a story is about; an outlet it only cites as a source "
        "does not count (ask for those in the query: source_ids:<id>)"))
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes of countries mentioned")
    sources: list[str] = Field(default_factory=list, description="Outlet names exactly as in the feed registry")
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 language codes")
    min_relevance: float | None = Field(None, ge=0.0, le=1.0, description="Minimum AI-governance relevance")

    def is_empty(self) -> bool:
        return not (self.topics or self.entity_ids or self.countries or self.sources or self.languages
                    or self.min_relevance is not None)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


DestinationKind = Literal["webhook", "bot", "teams", "json", "email"]
# Kinds besides Slack (govwatch.alerts.channel_send): a Teams Workflows/incoming webhook, a generic JSON webhook
# (optionally HMAC-signed with ``signing_secret``), e-mail to ``to`` through the operator's SMTP server.
OTHER_CHANNELS = ("teams", "json", "email")


class Destination(BaseModel):
    """A Slack incoming webhook, a bot token + channel for chat.postMessage, or another channel (OTHER_CHANNELS)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DestinationKind
    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    channel: str | None = None
    signing_secret: SecretStr | None = Field(None, description="json: key of the X-Govwatch-Signature HMAC-SHA256")
    to: list[str] = Field(default_factory=list, description="email: recipient addresses")

    @model_validator(mode="after")
    def _complete(self) -> Destination:
        if self.kind in OTHER_CHANNELS:
            problem = shape_problem(self.kind, self.webhook_url, self.to, self.signing_secret)
            if problem is not None:
                raise ValueError(problem)
        elif self.kind == "webhook":
            if self.webhook_url is None:
                raise ValueError("a webhook destination needs webhook_url")
            parts = urlsplit(self.webhook_url.get_secret_value())
            # Plain http only for a receiver on this machine (the local Slack-compatible receiver).
            if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
                raise ValueError("webhook_url must be an https:// Slack incoming-webhook URL")
        elif not (self.bot_token and self.channel):
            raise ValueError("a bot destination needs both bot_token and channel")
        return self

    def masked(self) -> str:
        """Safe to print: the webhook host or the channel, never the secret part."""
        if self.kind == "email":
            return f"email -> {', '.join(self.to)}"
        if self.kind in OTHER_CHANNELS and self.webhook_url is not None:
            parts = urlsplit(self.webhook_url.get_secret_value())
            return f"{self.kind} {parts.scheme}://{parts.hostname or '?'}/****"
        if self.kind == "webhook" and self.webhook_url is not None:
            parts = urlsplit(self.webhook_url.get_secret_value())
            return f"webhook {parts.scheme}://{parts.hostname or '?'}/****"
        return f"bot xoxb-**** -> {self.channel}"

    def revealed(self) -> dict[str, Any]:
        """The stored form, secrets in clear: only for the subscriptions index and the notifier."""
        return {
            "kind": self.kind, "channel": self.channel,
            "webhook_url": self.webhook_url.get_secret_value() if self.webhook_url else None,
            "bot_token": self.bot_token.get_secret_value() if self.bot_token else None,
            **({"signing_secret": self.signing_secret.get_secret_value()} if self.signing_secret else {}),
            **({"to": list(self.to)} if self.to else {}),
        }


class Problem(BaseModel):
    """Why the alert stage could not evaluate a subscription (it is skipped until it is edited or works again).

    Stored on the subscription by the alert stage (``SubscriptionStore.flag``), shown by ``govwatch subscriptions
    list``/``show`` and the web app; an edit clears it (the edited query is validated again).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: str = Field(description="Where it failed: limits, prefilter, search, timeout, snippet, alert, document")
    reason: str = Field(description="What failed, in plain words")
    at: datetime = Field(description="When the alert stage saw it (first time with this reason)")

    def line(self) -> str:
        """One line for a terminal or a page."""
        return f"{self.stage}: {self.reason} (since {self.at:%Y-%m-%d %H:%M} UTC)"


def new_subscription_id() -> str:
    """A short random id; random rather than derived from the name so renaming keeps ledger history."""
    return f"sub-{uuid.uuid4().hex[:12]}"


class Subscription(BaseModel):
    """One saved alert subscription (``_id`` in the subscriptions index = ``id``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_subscription_id, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1, max_length=4000, description="Lucene query string, as typed in Kibana")
    filters: Filters = Field(default_factory=Filters)
    destination: Destination
    mode: Mode = "immediate"
    granularity: Granularity = Field(STORED_DEFAULT_GRANULARITY, description=(
        "Announce each story, each wire-copy cluster, or each event once (later stories of an event: in its "
        "Slack thread for a bot token, in an hourly 'more coverage' roll-up for a webhook); the CLI, web form and "
        "API create subscriptions with 'event' unless told otherwise"))
    paused: bool = False
    owner: str = ""
    allow_expensive: bool = Field(False, description="Leading wildcards / regexes explicitly allowed")
    problem: Problem | None = Field(None, description="Set by the alert stage when it had to skip this subscription")
    spike: SpikeRule | None = Field(None, description="Spike rule: alert once when coverage surges (see README)")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is empty")
        return value

    def storage_document(self) -> dict[str, Any]:
        """The Elasticsearch document (secrets revealed: the index is the secret store)."""
        doc = self.model_dump(mode="json", exclude={"destination"})
        doc["destination"] = self.destination.revealed()
        return doc

    def public_view(self) -> dict[str, Any]:
        """What ``show``/``list`` print: everything except secrets, which are masked."""
        doc = self.model_dump(mode="json", exclude={"destination"})
        doc["destination"] = self.destination.masked()
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Subscription:
        """A stored subscription; one saved before granularity existed reads as ``cluster``."""
        return cls.model_validate(doc)


# What the alert stage reads of a subscription: the matcher's inputs and the alert's name and mode.
MATCHING_FIELDS = ("id", "name", "query", "filters", "mode", "paused", "allow_expensive", "problem", "granularity")
_NO_FILTERS = Filters()
# Equal filters are one shared (frozen) object in the alert stage: many subscriptions filter on the same country
# or topic. Bounded: started over past this many distinct filters.
_SHARED_FILTERS: dict[str, Filters] = {}
_SHARED_FILTERS_MAX = 200_000


def _shared_filters(raw: dict[str, Any]) -> Filters:
    key = json.dumps(raw, sort_keys=True, separators=(",", ":"))
    found = _SHARED_FILTERS.get(key)
    if found is None:
        if len(_SHARED_FILTERS) >= _SHARED_FILTERS_MAX:
            _SHARED_FILTERS.clear()
        found = _SHARED_FILTERS[key] = Filters.model_validate(raw)
    return found


@dataclass(frozen=True, slots=True)
class MatchingView:
    """A subscription as the alert stage holds it: no destination (secrets), no timestamps, one shared empty
    ``Filters``. About a tenth of a ``Subscription`` in memory, which matters with 100,000 of them per process."""

    id: str
    name: str
    query: str
    filters: Filters
    mode: Mode
    paused: bool
    allow_expensive: bool
    problem: str | None = None  # the reason stored by the alert stage's last flag (None: not flagged)
    granularity: Granularity = STORED_DEFAULT_GRANULARITY

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> MatchingView:
        """From a stored document (normally written through ``Subscription``; raises on one that is not usable)."""
        raw = doc.get("filters") or {}
        filters = _shared_filters(raw) if any(v not in (None, []) for v in raw.values()) else _NO_FILTERS
        problem = doc.get("problem")
        return cls(str(doc["id"]), str(doc["name"]), str(doc["query"]), filters, doc.get("mode", "immediate"),
                   bool(doc.get("paused", False)), bool(doc.get("allow_expensive", False)),
                   str(problem.get("reason")) if isinstance(problem, dict) else None,
                   _granularity(doc.get("granularity")))


def _granularity(value: object) -> Granularity:
    if value is None:
        return STORED_DEFAULT_GRANULARITY
    if value not in GRANULARITIES:
        raise ValueError(f"unknown granularity {value!r}")
    return value


Matchable = Subscription | MatchingView
