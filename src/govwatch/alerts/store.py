"""Subscriptions stored in Elasticsearch (index ``<prefix>-subscriptions``, ``_id`` = subscription id).

Writes use ``refresh=wait_for`` so that ``list`` right after ``add`` shows the new subscription and
the alert stage (which re-reads active subscriptions every few seconds) picks it up promptly.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.subscriptions import MATCHING_FIELDS, MatchingView, Problem, Subscription
from govwatch.errors import GovwatchError
from govwatch.models import utcnow

PAGE = 5000  # subscriptions per page when listing (search_after paging: no 10,000 window limit)


class SubscriptionNotFound(GovwatchError):
    """No subscription has this id or name."""


class SubscriptionExists(GovwatchError):
    """A subscription with this id already exists."""


class SubscriptionStore:
    """CRUD over the subscriptions index. The client is injected (tests pass the real one)."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    def add(self, sub: Subscription) -> Subscription:
        try:
            self.es.create(index=self.index, id=sub.id, document=sub.storage_document(), refresh="wait_for")
        except ApiError as exc:
            if exc.meta.status == 409:
                raise SubscriptionExists(f"subscription {sub.id} already exists; use `edit` to change it") from exc
            raise es_io.translate(exc, "add subscription") from exc
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "add subscription") from exc
        return sub

    def save(self, sub: Subscription) -> Subscription:
        """Overwrite an existing subscription, stamping ``updated_at``."""
        sub = sub.model_copy(update={"updated_at": utcnow()})
        try:
            self.es.index(index=self.index, id=sub.id, document=sub.storage_document(), refresh="wait_for")
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "save subscription") from exc
        return sub

    def get(self, key: str) -> Subscription:
        """By id, else by exact name (names are for humans; ids are what alerts carry)."""
        try:
            resp = self.es.options(ignore_status=404).get(index=self.index, id=key)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "get subscription") from exc
        if resp.get("found"):
            return Subscription.from_document(resp["_source"])
        named: list[Subscription] = self._search({"term": {"name": key}}, limit=2)
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise SubscriptionNotFound(f"several subscriptions are named {key!r}; use the id (see `list`)")
        raise SubscriptionNotFound(f"no subscription with id or name {key!r}; see `govwatch subscriptions list`")

    def delete(self, key: str) -> Subscription:
        sub = self.get(key)
        try:
            self.es.delete(index=self.index, id=sub.id, refresh="wait_for")
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "delete subscription") from exc
        return sub

    def set_paused(self, key: str, paused: bool) -> Subscription:
        return self.save(self.get(key).model_copy(update={"paused": paused}))

    def list(self, include_paused: bool = True, owner: str | None = None) -> list[Subscription]:
        """All subscriptions (or only active ones), or only ``owner``'s: filtered by Elasticsearch, not here."""
        query: dict[str, Any] = {"bool": {"filter": [], "must_not": []}}
        if not include_paused:
            query["bool"]["must_not"].append({"term": {"paused": True}})
        if owner is not None:
            query["bool"]["filter"].append({"term": {"owner": owner}})
        return self._search(query)

    def fingerprint(self) -> tuple[Any, ...]:
        """What changes whenever the set of stored subscriptions changes (one size-1 search).

        (index, live count, highest ``_seq_no`` and its primary term). Every write (add, save, pause)
        gives its document a sequence number above all others on the shard (the index has one shard),
        so a write raises the highest live ``_seq_no`` unless that document is deleted again, and a
        delete lowers the count unless a later write raised the highest ``_seq_no``: any change of the
        live set changes the tuple.
        """
        try:
            resp = self.es.search(index=self.index, size=1, sort=[{"_seq_no": "desc"}], seq_no_primary_term=True,
                                  track_total_hits=True, source=False)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "subscriptions fingerprint") from exc
        hits = resp["hits"]["hits"]
        top = (hits[0]["_index"], hits[0].get("_seq_no"), hits[0].get("_primary_term")) if hits else (None, None, None)
        return (resp["hits"]["total"]["value"], *top)

    def active(self) -> builtins.list[Subscription]:
        """Subscriptions that are not paused (what the alert stage matches against)."""
        return self.list(include_paused=False)

    def with_spike(self) -> builtins.list[Subscription]:
        """Active subscriptions that have a spike rule (what the spikes flow evaluates); one unreadable document
        costs only itself."""
        query = {"bool": {"filter": [{"exists": {"field": "spike.k"}}], "must_not": [{"term": {"paused": True}}]}}
        return self._search(query, broken={})

    def active_for_matching(self, broken: dict[str, str] | None = None) -> builtins.list[MatchingView]:
        """The active subscriptions as the alert stage needs them (``MatchingView``: no secrets read).

        With ``broken``, a stored document that cannot be read (written around the validation) is left out and
        noted there (id -> reason) instead of failing the whole read: one bad document must not stop the others.
        """
        return self._search({"bool": {"must_not": [{"term": {"paused": True}}]}}, build=MatchingView.from_document,
                            source=list(MATCHING_FIELDS), broken=broken)

    def flag(self, sub_id: str, problem: Problem) -> bool:
        """Store why the alert stage skipped this subscription; False if it no longer exists.

        A partial update (no refresh wait): only ``problem`` changes, so an edit made meanwhile is kept.
        """
        try:
            resp = self.es.options(ignore_status=404).update(index=self.index, id=sub_id, retry_on_conflict=3,
                                                             doc={"problem": problem.model_dump(mode="json")})
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "flag subscription") from exc
        return resp.meta.status != 404

    def _search(self, query: dict[str, Any], limit: int | None = None,
                build: Callable[[dict[str, Any]], Any] = Subscription.from_document,
                source: builtins.list[str] | None = None,
                broken: dict[str, str] | None = None) -> builtins.list[Any]:
        out: list[Any] = []
        after: list[Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"search_after": after} if after else {}
            try:
                if source is not None:
                    kwargs["source_includes"] = source
                resp = self.es.search(index=self.index, query=query, size=min(PAGE, limit or PAGE),
                                      sort=[{"id": "asc"}], track_total_hits=False, **kwargs)
            except Exception as exc:  # translated at the edge
                raise es_io.translate(exc, "list subscriptions") from exc
            hits = resp["hits"]["hits"]
            if broken is None:
                out.extend(build(h["_source"]) for h in hits)
            else:
                for h in hits:
                    try:
                        out.append(build(h["_source"]))
                    except Exception as exc:  # noqa: BLE001 - any unreadable document costs only itself
                        broken[str(h.get("_id"))] = f"stored document is not a valid subscription: {exc}"[:300]
            if len(hits) < PAGE or (limit and len(out) >= limit):
                return out
            after = hits[-1]["sort"]
