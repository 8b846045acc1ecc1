"""Event threads: which alert of a (subscription, event) is announced top-level, and where its Slack message is.

One document per (subscription, event) in ``{prefix}-alert-threads``, ``_id`` = :func:`thread_key`, written
**create-only** by the notifier with the alert it is about to deliver: the create that wins makes that alert the
thread's parent (the one top-level post), so two notifiers, a replay, a re-drive or a restart can never post two
parents. After the parent's post Slack's ``ts`` is stored (bot tokens); a later story of the event replies under
it and waits while it is unknown (it is never posted top-level by mistake). Each story delivered in the thread is
appended with its outlet (``stories``, ``sources``: compare-and-set on ``_seq_no``, no scripts), which gives the
parent's "covered by N outlets" line. A parent that was given up for good (dead-lettered) before it had a ``ts``
hands the thread to the next story (:meth:`EventThreads.adopt`), so nothing waits on it forever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from govwatch.adapters import es_io
from govwatch.errors import TransientError
from govwatch.models import Alert

CAS_ATTEMPTS = 8


def thread_key(subscription_id: str, event_key: str) -> str:
    """The thread document's id of a (subscription, event) pair."""
    return hashlib.sha256(f"{subscription_id}\nthread\n{event_key}".encode()).hexdigest()


def event_key(alert: Alert) -> str:
    """What groups an alert's thread: its event, or its wire-copy cluster when the event is not known."""
    return alert.event_id or f"cluster:{alert.cluster_id}"


@dataclass(frozen=True)
class Thread:
    """A (subscription, event) thread as stored; ``ts`` None until the parent's post is known."""

    key: str
    parent_alert_id: str
    parent: Alert
    ts: str | None
    channel: str | None
    stories: tuple[str, ...]
    sources: tuple[str, ...]
    seq_no: int
    primary_term: int

    @property
    def outlets(self) -> int:
        """Distinct outlets that covered the event in this thread (the parent's included)."""
        return len({s for s in self.sources if s}) or 1


class EventThreads:
    """The threads index adapter (client injected)."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    def open(self, alert: Alert, now: datetime) -> Thread:
        """The thread of ``alert``'s (subscription, event), created with ``alert`` as parent when it is new."""
        key = thread_key(alert.subscription_id, event_key(alert))
        document = {"thread_key": key, "subscription_id": alert.subscription_id, "event_id": alert.event_id,
                    "parent_alert_id": alert.alert_id, "parent": alert.model_dump(mode="json"), "ts": None,
                    "channel": None, "stories": [alert.story_id], "sources": [alert.source],
                    "created_at": now.isoformat(), "updated_at": now.isoformat()}
        try:
            self.es.options(ignore_status=409).create(index=self.index, id=key, document=document, refresh=False)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "event thread create") from exc
        thread = self.get(key)
        if thread is None:
            raise TransientError(f"event thread {key[:16]} vanished right after being created")
        return thread

    def get(self, key: str) -> Thread | None:
        """The stored thread (real-time GET: sees a create before any refresh), or None."""
        try:
            resp = self.es.options(ignore_status=404).get(index=self.index, id=key)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "event thread get") from exc
        if not resp.get("found"):
            return None
        src: dict[str, Any] = resp["_source"]
        return Thread(key, str(src["parent_alert_id"]), Alert.model_validate(src["parent"]), src.get("ts"),
                      src.get("channel"), tuple(src.get("stories") or ()), tuple(src.get("sources") or ()),
                      int(resp["_seq_no"]), int(resp["_primary_term"]))

    def set_ts(self, key: str, ts: str, channel: str | None, now: datetime) -> None:
        """Record where the parent's message is (its Slack ``ts`` and channel)."""
        try:
            self.es.update(index=self.index, id=key, doc={"ts": ts, "channel": channel, "updated_at": now.isoformat()},
                           retry_on_conflict=5)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "event thread ts") from exc

    def add_story(self, key: str, story_id: str, source: str, now: datetime) -> Thread:
        """Append a story delivered in the thread (once; compare-and-set); returns the thread after it."""
        for _ in range(CAS_ATTEMPTS):
            thread = self.get(key)
            if thread is None:
                raise TransientError(f"event thread {key[:16]} missing")
            if story_id in thread.stories:
                return thread
            doc = {"stories": [*thread.stories, story_id], "sources": [*thread.sources, source],
                   "updated_at": now.isoformat()}
            if self._write(thread, doc):
                return self.get(key) or thread
        raise TransientError(f"event thread {key[:16]} kept changing; retrying")

    def adopt(self, thread: Thread, alert: Alert, now: datetime) -> Thread:
        """Make ``alert`` the parent of a thread whose parent never got a ``ts`` and was given up for good.
        Compare-and-set: when another notifier adopted it first, theirs stands. Returns the thread after it."""
        if thread.ts is None:
            self._write(thread, {"parent_alert_id": alert.alert_id, "parent": alert.model_dump(mode="json"),
                                 "stories": [*dict.fromkeys([alert.story_id, *thread.stories])],
                                 "updated_at": now.isoformat()})
        return self.get(thread.key) or thread

    def _write(self, thread: Thread, doc: dict[str, Any]) -> bool:
        try:
            self.es.update(index=self.index, id=thread.key, doc=doc, if_seq_no=thread.seq_no,
                           if_primary_term=thread.primary_term)
        except ConflictError:
            return False
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "event thread write") from exc
        return True
