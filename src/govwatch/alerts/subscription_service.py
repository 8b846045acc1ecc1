"""Subscription operations shared by the CLI (``govwatch subscriptions``) and the web app (``govwatch web``).

Every rule lives here once: the query is validated by Elasticsearch (and refused when expensive) before anything
is saved, an edit is validated again, resume releases what was held as one catch-up message, the preview is the
backtest with the caller's clock. Who may do what is decided by the ``Actor``: the CLI runs as ``CLI`` (whoever can
reach Elasticsearch can manage every subscription); a web user sees and changes only the subscriptions they own
unless they are an admin, and someone else's subscription is reported as missing (never "forbidden"), so ids
cannot be probed.

Expensive queries (leading wildcards, regular expressions) are an operator's decision: ``allow_expensive`` counts
only for an admin actor (the CLI is one: whoever runs it can write the subscriptions index anyway). For anyone
else it is ignored when checking or previewing, forced off on create, and kept on an edit only while the query
stays the one an admin approved. Every query is bounded (length, nesting, terms: ``settings.alert_query_max_*``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.backtest import BacktestResult, backtest
from govwatch.alerts.delivery import deliver, release_held
from govwatch.alerts.destinations import check_destination
from govwatch.alerts.query import HINT_ADMIN, HINT_CLI, HINT_USER, query_limits, validate
from govwatch.alerts.store import SubscriptionNotFound, SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Filters, Subscription
from govwatch.errors import InvalidQuery
from govwatch.models import utcnow
from govwatch.settings import Settings

if TYPE_CHECKING:
    from govwatch.alerts.ledger import AlertLedger
    from govwatch.alerts.slack_send import SlackSender

Clock = Callable[[], datetime]
# A Slack sender for one operation (a test message, a resume's release), its HTTP client closed when it ends.
SenderSession = Callable[[], AbstractContextManager["SlackSender"]]
FILTER_LISTS = ("topics", "entity_ids", "countries", "sources", "languages")
MAX_PREVIEW_DAYS = 365  # a year of daily buckets is still one small aggregation
MAX_PREVIEW_TOP = 50


@dataclass(frozen=True)
class Actor:
    """Who performs an operation: an owner name, and whether they may act on everyone's subscriptions."""

    owner: str
    admin: bool = False

    def may_access(self, sub: Subscription) -> bool:
        return self.admin or sub.owner == self.owner


CLI = Actor(owner="", admin=True)


@dataclass(frozen=True)
class Resumed:
    """The outcome of resume: the subscription (active again), alerts released, and why a release failed."""

    subscription: Subscription
    released: int
    error: str | None = None


def merge_filters(base: Filters | None, changes: Mapping[str, Any]) -> Filters:
    """``base`` with the given filter values replaced (lists that are empty or None keep the base's)."""
    current = base.model_dump() if base is not None else {}
    for name in FILTER_LISTS:
        if changes.get(name):
            current[name] = list(changes[name])
    if changes.get("min_relevance") is not None:
        current["min_relevance"] = changes["min_relevance"]
    return Filters(**current)


def merge_destination(base: Destination | None, webhook_url: str | None = None, bot_token: str | None = None,
                      channel: str | None = None) -> Destination:
    """A new destination from the given parts; a part not given keeps the base's (secrets are never re-entered)."""
    if webhook_url:
        return Destination(kind="webhook", webhook_url=webhook_url)
    if bot_token or channel:
        old_token = base.bot_token if base is not None and base.kind == "bot" else None
        old_channel = base.channel if base is not None and base.kind == "bot" else None
        return Destination(kind="bot", bot_token=bot_token or old_token, channel=channel or old_channel)
    if base is not None:
        return base
    raise InvalidQuery("a destination is required: a Slack webhook URL, or a bot token and a channel")


def test_message_payload(sub: Subscription) -> dict[str, Any]:
    """The Block Kit payload of "send a test message" (the name escaped in the blocks and the fallback text)."""
    from govwatch.alerts.slack_format import trial_message_blocks

    return trial_message_blocks(sub.name)


class SubscriptionService:
    """The operations; the Elasticsearch client, the subscription store, the alert ledger, the Slack sender
    sessions, settings and clock injected (govwatch.wiring.web builds them; tests pass the real ES, a fixed clock)."""

    def __init__(self, es: Elasticsearch, settings: Settings, store: SubscriptionStore, ledger: AlertLedger,
                 slack: SenderSession, clock: Clock = utcnow) -> None:
        self.es = es
        self.settings = settings
        self.store = store
        self.ledger = ledger
        self.slack = slack
        self.clock = clock
        self.alias = settings.index("stories")

    # --- reading ----------------------------------------------------------------------------------------------
    def get(self, actor: Actor, key: str) -> Subscription:
        """By id or name; someone else's subscription is "not found" for a non-admin."""
        sub = self.store.get(key)
        if not actor.may_access(sub):
            raise SubscriptionNotFound(f"no subscription with id or name {key!r}")
        return sub

    def list(self, actor: Actor) -> list[Subscription]:
        """The subscriptions the actor may see, in the store's order (by id)."""
        # A user's page reads only their own subscriptions (not every owner's, filtered here).
        return self.store.list() if actor.admin else self.store.list(owner=actor.owner)

    def alerts_last_days(self, sub_ids: Sequence[str], days: int = 7) -> dict[str, int]:
        """Alerts recorded in the ledger per subscription over the last ``days`` days of the clock."""
        if not sub_ids:
            return {}
        since = (self.clock() - timedelta(days=days)).isoformat()
        query = {"bool": {"filter": [{"terms": {"subscription_id": sub_ids}},
                                     {"range": {"matched_at": {"gte": since}}}]}}
        try:
            resp = self.es.search(index=self.ledger.index, query=query, size=0,
                                  aggs={"per": {"terms": {"field": "subscription_id", "size": len(sub_ids)}}})
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert counts") from exc
        return {b["key"]: b["doc_count"] for b in resp["aggregations"]["per"]["buckets"]}

    # --- checking and previewing --------------------------------------------------------------------------------
    def check(self, query: str, filters: Filters, allow_expensive: bool = False, actor: Actor | None = None) -> None:
        """Raise InvalidQuery (position, reason, fix in plain words) unless the query is cheap and valid.

        ``allow_expensive`` counts only for an admin ``actor`` (None: an ordinary user)."""
        if not query.strip():
            raise InvalidQuery("query is empty: type some words, a \"phrase\", or field:value")
        admin = actor is not None and actor.admin
        hint = HINT_CLI if actor is CLI else HINT_ADMIN if admin else HINT_USER
        validate(self.es, self.alias, query, filters, allow_expensive and admin, query_limits(self.settings), hint,
                 timeout_s=self.settings.alert_preview_timeout_s)

    def preview(self, query: str, filters: Filters, allow_expensive: bool = False, days: int = 7,
                top: int = 5, actor: Actor | None = None) -> BacktestResult:
        """Matches per day over the last ``days`` days of the clock and the top matches (validated first).

        The search has the settings' preview timeout; a timed-out one is an InvalidQuery, never a partial count."""
        if not 1 <= days <= MAX_PREVIEW_DAYS:
            raise InvalidQuery(f"days must be between 1 and {MAX_PREVIEW_DAYS}")
        expensive = allow_expensive and actor is not None and actor.admin
        self.check(query, filters, expensive, actor)
        return backtest(self.es, self.alias, query, filters, days, max(1, min(top, MAX_PREVIEW_TOP)),
                        allow_expensive=expensive, now=self.clock(),
                        timeout_s=self.settings.alert_preview_timeout_s)

    # --- changing ---------------------------------------------------------------------------------------------
    def create(self, actor: Actor, sub: Subscription) -> Subscription:
        """Validate and save; a non-admin always owns what they create."""
        if not actor.admin:
            sub = sub.model_copy(update={"owner": actor.owner, "allow_expensive": False})
        self.check(sub.query, sub.filters, sub.allow_expensive, actor)
        check_destination(sub.destination, self.settings, admin=actor.admin)  # webhook hosts, the org bot token
        now = self.clock()
        return self.store.add(sub.model_copy(update={"created_at": now, "updated_at": now}))

    def update(self, actor: Actor, key: str, changes: Mapping[str, Any],
               destination: Destination | None = None) -> Subscription:
        """Apply ``changes`` (name, query, mode, owner, filters, allow_expensive) and validate the result again."""
        old = self.get(actor, key)
        # A spike rule given as None is removed (the web form's unticked box); other None values mean "unchanged".
        fields = {k: v for k, v in changes.items() if v is not None or k == "spike"}
        if not actor.admin:
            fields.pop("owner", None)  # only an admin gives a subscription to someone else
            # only an admin allows an expensive query; an admin's approval holds for that query only
            fields["allow_expensive"] = old.allow_expensive and fields.get("query", old.query) == old.query
        merged = {**old.model_dump(exclude={"destination", "filters", "problem"}), **fields}
        merged["filters"] = fields.get("filters", old.filters)
        merged["destination"] = destination or old.destination
        new = Subscription.model_validate(merged)  # problem cleared: the edited subscription is checked again
        self.check(new.query, new.filters, new.allow_expensive, actor if actor.admin or not new.allow_expensive
                   else CLI)  # an admin-approved query kept unchanged stays allowed
        check_destination(new.destination, self.settings, admin=actor.admin, previous=old.destination)
        return self.store.save(new)

    def pause(self, actor: Actor, key: str) -> Subscription:
        """Paused: its new alerts are held in the ledger (see ``resume``)."""
        return self.store.set_paused(self.get(actor, key).id, True)

    def resume(self, actor: Actor, key: str) -> Resumed:
        """Unpause, then release the alerts held while paused as one catch-up digest (again on a later resume)."""
        from govwatch.errors import DeliveryRejected, TransientError

        sub = self.store.set_paused(self.get(actor, key).id, False)
        try:
            with self.slack() as sender:
                released = release_held(sub, self.ledger, sender, self.settings.slack_api_base, utcnow())
        except (DeliveryRejected, TransientError) as exc:
            return Resumed(sub, 0, str(exc))
        return Resumed(sub, released)

    def delete(self, actor: Actor, key: str) -> Subscription:
        return self.store.delete(self.get(actor, key).id)

    def send_test(self, actor: Actor, key: str) -> str:
        """Post a test message to the subscription's destination; returns where it went (masked).

        Raises DeliveryRejected / TransientError with the sender's reason (which never holds the secret)."""
        sub = self.get(actor, key)
        with self.slack() as sender:
            deliver(sender, sub.destination, test_message_payload(sub), self.settings.slack_api_base)
        return sub.destination.masked()
