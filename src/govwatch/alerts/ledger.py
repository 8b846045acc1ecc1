"""The alert ledger: one create-only document per announced unit, the exactly-once key.

The unit follows the subscription's granularity (:func:`key_for`): a (subscription, story cluster) pair
(``cluster``, the behaviour before granularity existed), a (subscription, story) pair (``story``), or a
(subscription, event, story) triple (``event``: the event's first story is posted, the others go to its Slack
thread or roll-up, see ``govwatch.alerts.threads``). For a cluster,
``_id = alert_id = sha256(subscription_id + "\\n" + cluster_id)`` is written with ``op_type=create``:
a 409 means the pair was already recorded, so a replay from offset 0, a restart, a re-index or a
syndicated copy of the same story (same cluster) can never raise a second alert. Later copies are
appended to the existing entry's ``also_in`` by a read-modify-write guarded with
``if_seq_no``/``if_primary_term`` (no scripts: the node has no painless). Status changes use partial
``update`` with ``retry_on_conflict``, which merges fields and so never loses a concurrent change.

Statuses: ``pending`` (immediate, to be produced/delivered), ``digest_pending`` (waits for a digest),
``sending`` (a post to Slack was started and its answer not yet recorded: after a crash the outcome is
unknown), ``delivered``, ``failed`` (will be retried; ``outcome_unknown`` when a send may have arrived
unanswered; ``next_attempt_at`` when it was deferred, see below), ``held`` (arrived while its subscription was
paused; released as one catch-up message on resume), ``rollup_pending`` (a later story of an event for a webhook
destination, which cannot thread: it waits for the hourly "more coverage" roll-up, ``govwatch.alerts.rollup``),
``dead_lettered`` (given up for good).

Send bookkeeping: ``send_started_at`` (first post ever started: the start of the window searched in the
channel history after an unknown outcome), ``last_send_at``, ``posts``; on delivery ``delivered_via``
(``post``, ``history`` = an earlier unanswered post was found in the channel, ``catch_up``) and
``possible_duplicate`` (a post followed an unknown outcome that could not be checked: webhooks).

Deferral (a destination failing or rate-limited, see ``govwatch.stages.notifier``): the entry is ``failed`` with
``next_attempt_at`` (when its destination takes messages again) and ``first_failed_at`` (the start of its retry
window); the notifier's offset moves on. :meth:`AlertLedger.due` finds the entries whose time has come and
:meth:`AlertLedger.claim` takes one for re-driving with a compare-and-set on ``next_attempt_at`` (a lease: another
notifier process skips it; if the re-drive dies, the lease expires and it is taken again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import ApiError, ConflictError, Elasticsearch

from govwatch.adapters import es_io
from govwatch.errors import TransientError
from govwatch.models import Alert

STATUSES = ("pending", "digest_pending", "sending", "delivered", "failed", "held", "rollup_pending", "dead_lettered")
CAS_ATTEMPTS = 8  # optimistic-concurrency retries for also_in; contention is between a few consumers at most
RETRY_ON_CONFLICT = 5
DIGEST_LIMIT = 1000  # alerts per digest read; a digest with more is summarised by the notifier anyway
MAX_ERROR_CHARS = 1000


def alert_id(subscription_id: str, cluster_id: str) -> str:
    """The ledger key of a (subscription, story cluster) pair."""
    return hashlib.sha256(f"{subscription_id}\n{cluster_id}".encode()).hexdigest()


def key_for(granularity: str, subscription_id: str, cluster_id: str, story_id: str, event_id: str | None) -> str:
    """The ledger key of a match at a subscription's granularity; an event match whose event is not known yet
    is keyed by its cluster within the event key space (it still announces each story once)."""
    if granularity == "story":
        return hashlib.sha256(f"{subscription_id}\nstory\n{story_id}".encode()).hexdigest()
    if granularity == "event":
        event = event_id or f"cluster:{cluster_id}"
        return hashlib.sha256(f"{subscription_id}\nevent\n{event}\n{story_id}".encode()).hexdigest()
    return alert_id(subscription_id, cluster_id)


@dataclass(frozen=True)
class Recorded:
    """What recording one alert did: ``produce`` is the alert to send now, if any."""

    alert_id: str
    created: bool
    produce: Alert | None


class AlertLedger:
    """The ledger index adapter (client injected)."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    def record(self, alerts: Sequence[Alert], now: datetime) -> list[Recorded]:
        """Create one entry per alert (one bulk); existing entries get the story in ``also_in``.

        ``produce`` is set for a new immediate entry, and for an existing entry still ``pending`` with
        no ``produced_at`` (a previous attempt recorded it but crashed or failed before the ack): then
        the stored alert is produced again and the notifier's status check absorbs any duplicate.
        """
        if not alerts:
            return []
        ops: list[dict[str, Any]] = []
        for alert in alerts:
            ops.append({"create": {"_index": self.index, "_id": alert.alert_id}})
            ops.append(self._document(alert, now))
        try:
            resp = self.es.bulk(operations=ops)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger create") from exc
        out: list[Recorded] = []
        created_now: set[str] = set()
        for alert, item in zip(alerts, resp["items"], strict=True):
            status = item["create"].get("status", 500)
            if status < 300:
                created_now.add(alert.alert_id)
                out.append(Recorded(alert.alert_id, True, alert if alert.mode == "immediate" else None))
            elif status == 409:
                entry = self._add_copy(alert, now)
                resend = (alert.alert_id not in created_now and entry.get("status") == "pending"
                          and not entry.get("produced_at"))
                out.append(Recorded(alert.alert_id, False, Alert.model_validate(entry["alert"]) if resend else None))
            else:
                error = item["create"].get("error", {})
                raise TransientError(f"alert ledger create failed ({status}): {error.get('reason', error)}"[:500])
        return out

    def _document(self, alert: Alert, now: datetime) -> dict[str, Any]:
        return {
            "alert_id": alert.alert_id, "subscription_id": alert.subscription_id, "cluster_id": alert.cluster_id,
            "story_id": alert.story_id, "mode": alert.mode, "granularity": alert.granularity,
            "event_id": alert.event_id, "status": "pending" if alert.mode == "immediate" else "digest_pending",
            "attempts": 0, "last_error": None, "also_in": [], "also_in_sources": [], "also_in_count": 0,
            "matched_at": now.isoformat(), "produced_at": None, "delivered_at": None, "updated_at": now.isoformat(),
            "alert": alert.model_dump(mode="json"),
        }

    def _add_copy(self, alert: Alert, now: datetime) -> dict[str, Any]:
        """Append another copy of the cluster to ``also_in`` (compare-and-set); returns the entry."""
        for _ in range(CAS_ATTEMPTS):
            got = self._get(alert.alert_id)
            if got is None:
                raise TransientError(f"ledger entry {alert.alert_id} vanished after a 409")
            entry: dict[str, Any] = got["_source"]
            if alert.story_id == entry["story_id"] or alert.story_id in entry["also_in"]:
                return entry  # the same story again (a replay): nothing to record
            entry["also_in"] = [*entry["also_in"], alert.story_id]
            entry["also_in_sources"] = [*entry.get("also_in_sources", []), alert.source]
            entry["also_in_count"] = len(entry["also_in"])
            entry["updated_at"] = now.isoformat()
            try:
                self.es.index(index=self.index, id=alert.alert_id, document=entry,
                              if_seq_no=got["_seq_no"], if_primary_term=got["_primary_term"])
                return entry
            except ConflictError:
                continue  # someone else changed it between our get and write: read again
            except Exception as exc:  # translated at the edge
                raise es_io.translate(exc, "alert ledger also_in") from exc
        raise TransientError(f"ledger entry {alert.alert_id} kept changing; retrying the batch")

    def _get(self, aid: str) -> dict[str, Any] | None:
        try:  # GET by id is real-time: it sees a create before any refresh
            resp = self.es.options(ignore_status=404).get(index=self.index, id=aid)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger get") from exc
        return resp.body if resp.get("found") else None

    def get(self, aid: str) -> dict[str, Any] | None:
        """The ledger entry (source) of an alert id, or None."""
        got = self._get(aid)
        return got["_source"] if got else None

    def get_many(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The ledger entries (sources) of these alert ids in one real-time ``mget``; missing ids are absent."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        try:
            resp = self.es.mget(index=self.index, ids=unique)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger mget") from exc
        found: dict[str, dict[str, Any]] = {}
        for doc in resp["docs"]:
            if "error" in doc:  # a shard failure for this id: not "missing", so do not guess
                raise TransientError(f"alert ledger mget failed for {doc['_id']}: {doc['error']}"[:500])
            if doc.get("found"):
                found[doc["_id"]] = doc["_source"]
        return found

    def _update(self, aid: str, doc: dict[str, Any]) -> None:
        try:
            self.es.update(index=self.index, id=aid, doc=doc, retry_on_conflict=RETRY_ON_CONFLICT)
        except ApiError as exc:
            if exc.meta.status == 404:
                raise KeyError(f"no ledger entry {aid}") from exc
            raise es_io.translate(exc, "alert ledger update") from exc
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger update") from exc

    def mark_produced(self, alert_ids: Sequence[str], at: datetime) -> None:
        """Record that these alerts were acknowledged by Kafka (one bulk of partial updates)."""
        if not alert_ids:
            return
        ops: list[dict[str, Any]] = []
        for aid in alert_ids:
            ops.append({"update": {"_index": self.index, "_id": aid, "retry_on_conflict": RETRY_ON_CONFLICT}})
            ops.append({"doc": {"produced_at": at.isoformat()}})
        try:
            resp = self.es.bulk(operations=ops)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger mark produced") from exc
        if resp.get("errors"):
            bad = [i["update"] for i in resp["items"] if i["update"].get("status", 500) >= 300]
            raise TransientError(f"could not mark {len(bad)} alerts produced: {bad[0].get('error')}"[:500])

    def ensure(self, alert: Alert, now: datetime) -> dict[str, Any]:
        """The entry of ``alert``, created (create-only, from the alert itself) when it is missing.

        The notifier calls this before sending an alert it has no entry for (an index restored from an
        older snapshot, a replay of an old topic): it must never post what it cannot record. A concurrent
        creator wins the race harmlessly (409 -> read theirs)."""
        document = self._document(alert, now)
        try:
            self.es.options(ignore_status=409).create(index=self.index, id=alert.alert_id, document=document,
                                                      refresh=False)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger re-create") from exc
        entry = self.get(alert.alert_id)
        if entry is None:
            raise TransientError(f"ledger entry {alert.alert_id} vanished right after being created")
        return entry

    def begin_send(self, aid: str, first_started_at: datetime, at: datetime, posts: int) -> None:
        """A post to Slack is about to start (recorded BEFORE it, so a crash leaves ``sending`` = unknown)."""
        self._update(aid, {"status": "sending", "send_started_at": first_started_at.isoformat(),
                           "last_send_at": at.isoformat(), "posts": posts, "updated_at": at.isoformat()})

    def mark_delivered(self, aid: str, at: datetime, *, via: str = "post", possible_duplicate: bool = False) -> None:
        """The notifier delivered the alert (or the digest holding it)."""
        doc: dict[str, Any] = {"status": "delivered", "delivered_at": at.isoformat(), "updated_at": at.isoformat(),
                               "delivered_via": via, "outcome_unknown": False}
        if possible_duplicate:
            doc["possible_duplicate"] = True
        self._update(aid, doc)

    def mark_failed(self, aid: str, error: str, attempts: int, permanent: bool, at: datetime | None = None,
                    *, outcome_unknown: bool = False) -> None:
        """A delivery attempt failed; ``permanent`` means it will not be retried (dead-lettered).

        ``outcome_unknown``: a post may have reached Slack unanswered; the next attempt checks before posting."""
        from govwatch.models import utcnow

        when = (at or utcnow()).isoformat()
        self._update(aid, {"status": "dead_lettered" if permanent else "failed", "attempts": attempts,
                           "last_error": error[:MAX_ERROR_CHARS], "updated_at": when,
                           "outcome_unknown": outcome_unknown})

    def defer(self, aid: str, error: str, attempts: int, at: datetime, next_attempt_at: datetime,
              first_failed_at: datetime | None, *, outcome_unknown: bool = False) -> None:
        """The destination cannot take the alert now: retried from ``next_attempt_at`` by the re-drive.
        ``first_failed_at`` None: it was only busy, no retry window started."""
        self._update(aid, {"status": "failed", "attempts": attempts, "last_error": error[:MAX_ERROR_CHARS],
                           "updated_at": at.isoformat(), "outcome_unknown": outcome_unknown,
                           "next_attempt_at": next_attempt_at.isoformat(),
                           "first_failed_at": first_failed_at.isoformat() if first_failed_at else None})

    def due(self, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Deferred entries whose ``next_attempt_at`` has come, soonest first: each hit's ``_id``, ``_seq_no``,
        ``_primary_term`` and ``_source`` (near-real-time: an entry deferred in the last second may be missing)."""
        query = {"bool": {"filter": [{"term": {"status": "failed"}},
                                     {"range": {"next_attempt_at": {"lte": now.isoformat()}}}]}}
        try:
            resp = self.es.search(index=self.index, query=query, size=limit, seq_no_primary_term=True,
                                  sort=[{"next_attempt_at": "asc"}, {"alert_id": "asc"}])
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger due read") from exc
        return list(resp["hits"]["hits"])

    def claim(self, hit: dict[str, Any], until: datetime) -> bool:
        """Take a due entry (a hit of :meth:`due`) for re-driving: its ``next_attempt_at`` moves to ``until``
        unless the entry changed since it was read (another notifier took it, or it was delivered): then False."""
        try:
            self.es.update(index=self.index, id=hit["_id"], doc={"next_attempt_at": until.isoformat()},
                           if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"])
        except ConflictError:
            return False
        except ApiError as exc:
            if exc.meta.status == 404:
                return False
            raise es_io.translate(exc, "alert ledger claim") from exc
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger claim") from exc
        return True

    def reopen(self, aid: str, at: datetime) -> bool:
        """A dead-lettered alert replayed from the DLQ may be delivered again (attempts start over; an unknown
        outcome stays recorded, so a bot-token destination still checks Slack first). False when there is no
        such entry or it is not dead-lettered (a delivered alert stays delivered)."""
        entry = self.get(aid)
        if entry is None or entry.get("status") != "dead_lettered":
            return False
        # No next_attempt_at: the replay itself produces the alert; a new retry window starts at its next failure.
        was = f"replayed from the DLQ; was: {entry.get('last_error') or ''}"[:MAX_ERROR_CHARS]
        self._update(aid, {"status": "failed", "attempts": 0, "updated_at": at.isoformat(),
                           "next_attempt_at": None, "first_failed_at": None, "last_error": was})
        return True

    def mark_held(self, aid: str, attempts: int, at: datetime) -> None:
        """The alert arrived while its subscription was paused: kept (not sent, not dead-lettered) for resume."""
        self._update(aid, {"status": "held", "held_at": at.isoformat(), "attempts": attempts,
                           "updated_at": at.isoformat()})

    def held(self, subscription_id: str) -> list[Alert]:
        """Every alert held for a paused subscription, oldest match first (paged: no window limit)."""
        query = {"bool": {"filter": [{"term": {"subscription_id": subscription_id}}, {"term": {"status": "held"}}]}}
        out: list[Alert] = []
        after: list[Any] | None = None
        try:
            self.es.indices.refresh(index=self.index)  # resume is rare: see the last alerts the notifier held
            while True:
                extra: dict[str, Any] = {"search_after": after} if after else {}
                resp = self.es.search(index=self.index, query=query, size=DIGEST_LIMIT,
                                      sort=[{"matched_at": "asc"}, {"alert_id": "asc"}], **extra)
                hits = resp["hits"]["hits"]
                out.extend(Alert.model_validate(h["_source"]["alert"]) for h in hits)
                if len(hits) < DIGEST_LIMIT:
                    return out
                after = hits[-1]["sort"]
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger held read") from exc

    def mark_rollup(self, aid: str, at: datetime) -> None:
        """A later story of an event for a webhook: kept for the next "more coverage" roll-up."""
        self._update(aid, {"status": "rollup_pending", "updated_at": at.isoformat()})

    def pending_rollups(self, since: datetime, limit: int = DIGEST_LIMIT) -> list[Alert]:
        """Alerts waiting for a roll-up (every subscription), oldest match first."""
        query = {"bool": {"filter": [{"term": {"status": "rollup_pending"}},
                                     {"range": {"matched_at": {"gte": since.isoformat()}}}]}}
        try:
            self.es.indices.refresh(index=self.index)  # roll-ups are rare: see the latest follow-ups
            resp = self.es.search(index=self.index, query=query, size=limit,
                                  sort=[{"matched_at": "asc"}, {"alert_id": "asc"}])
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger roll-up read") from exc
        return [Alert.model_validate(h["_source"]["alert"]) for h in resp["hits"]["hits"]]

    def mark_digest_retry(self, aid: str, error: str, attempts: int, at: datetime) -> None:
        """A digest holding this entry was not delivered: it stays ``digest_pending`` (the status the next
        digest run reads) with the attempt counted and the error kept."""
        self._update(aid, {"status": "digest_pending", "attempts": attempts, "last_error": error[:MAX_ERROR_CHARS],
                           "updated_at": at.isoformat()})

    def pending_digest(self, subscription_id: str, since: datetime) -> list[Alert]:
        """Alerts of a digest-mode subscription waiting since ``since`` (oldest first)."""
        query = {"bool": {"filter": [{"term": {"subscription_id": subscription_id}},
                                     {"term": {"status": "digest_pending"}},
                                     {"range": {"matched_at": {"gte": since.isoformat()}}}]}}
        try:
            self.es.indices.refresh(index=self.index)  # digests are rare: make the latest matches visible
            resp = self.es.search(index=self.index, query=query, size=DIGEST_LIMIT,
                                  sort=[{"matched_at": "asc"}, {"alert_id": "asc"}])
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "alert ledger digest read") from exc
        return [Alert.model_validate(h["_source"]["alert"]) for h in resp["hits"]["hits"]]

    def also_in_count(self, aid: str) -> int:
        """How many later copies of the cluster were recorded on this alert."""
        entry = self.get(aid)
        return int(entry.get("also_in_count", 0)) if entry else 0
