"""The alert stage: indexed story ids -> matches against active subscriptions -> ledger -> ``alerts`` topic.

Exactly-once protocol (notifications, not messages):

1. Match the batch's ids against every active subscription (Elasticsearch decides, see
   ``govwatch.alerts.matcher``).
2. For every (subscription, story) match, **create** the ledger entry keyed by the subscription's granularity
   (``ledger.key_for``: ``sha256(subscription_id, cluster_id)`` for ``cluster``; per story; per (event, story)
   for ``event``, the event read from the indexed message or the story document) in one bulk. Created -> new.
   409 -> already known: a copy of the cluster is appended to ``also_in``; nothing new is announced. Whether an
   event's story is its thread's parent or a reply is decided at delivery (``govwatch.alerts.threads``).
3. **Produce** an ``Alert`` (key = subscription id) for every new immediate entry, and again for any
   existing entry still ``pending`` without ``produced_at`` (a previous attempt crashed or failed after
   step 2). Wait for every ack, then set ``produced_at``. Digest-mode entries are ``digest_pending`` and
   are not produced: the notifier reads them with ``AlertLedger.pending_digest``.
4. Return; the consumer loop commits the offsets.

One subscription's failure is never the batch's: a subscription whose stored query is over the save-time limits
(or expensive without permission, or an unreadable document) is left out when the list is read; any exception
or refused/timed-out search while evaluating one subscription is a ``match_result.Fault``; an alert that cannot be
built is skipped. Each is counted and logged, and **flagged on the subscription** (``problem``: stage, reason,
time; ``SubscriptionStore.flag``), once per new reason, while every other subscription's alerts are recorded
before the batch commits.

Any other failure (Elasticsearch or Kafka away, busy) raises, so the loop retries the batch: step 2 finds the
entries (409), step 3 re-produces the ones that never got ``produced_at``. The only duplicate this allows is an Alert
message produced twice (ack received, crash before ``produced_at``); the notifier checks the ledger status
and skips alerts already ``delivered``, so a Slack message is still sent once per (subscription,
cluster). Ledger first, produce second means nothing is lost: a produced alert always has an entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from govwatch.adapters.kafka_io import ACK_TIMEOUT_S
from govwatch.alerts.candidates import CandidateIndex
from govwatch.alerts.ledger import AlertLedger, key_for
from govwatch.alerts.match_plan import candidate_index
from govwatch.alerts.match_result import Fault, Match, MatchStats, describe
from govwatch.alerts.matcher import fetch_stories, match_batch
from govwatch.alerts.query import QueryLimits, policy_problems
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Matchable, MatchingView, Problem
from govwatch.log import get_logger
from govwatch.models import Alert, IndexedBatch, IndexedStory, utcnow
from govwatch.stages.contract import Rejections
from govwatch.stages.decode import decode_all

log = get_logger("govwatch.stages.alerter")

# New or edited subscriptions apply within this many seconds, without a query per batch.
SUBSCRIPTION_TTL_S = 5.0
# Re-reading 100,000 subscriptions costs seconds of CPU, so within this many seconds they are re-read
# only when the store's fingerprint changed. The full re-read after this long is a safety net for what the
# fingerprint can miss: an index restored from a snapshot, or two concurrent writes of which the newer became
# searchable first (the older one then changes neither the count nor the highest _seq_no).
FULL_REREAD_S = 600.0
# Distinct (query, allow_expensive) pairs whose refusal check is kept between re-reads (10x the subscriptions aimed at).
REFUSAL_CACHE_MAX = 1_000_000


def refusal(sub: MatchingView, limits: QueryLimits) -> str | None:
    """Why a stored subscription is not run at all (over the limits, expensive without permission); None: run it.

    The save-time checks again: a query written around them (straight into the index, or saved before the limits)
    is refused here rather than run against every batch. Any failure of the check itself is a refusal too.
    """
    try:
        problems = policy_problems(sub.query, sub.allow_expensive, limits)
    except Exception as exc:  # noqa: BLE001 - a query we cannot even check is not run
        return f"query could not be checked ({type(exc).__name__}); edit it"
    if not problems:
        return None
    return ("query refused: " + "; ".join(problems) + "; edit the subscription (`govwatch subscriptions edit`)")[:600]


class SubscriptionCache:
    """Active subscriptions with their candidate index; the store is checked at most every ``ttl_s`` seconds.

    A check is one small search (``SubscriptionStore.fingerprint``); the subscriptions are re-read, and
    the index (``match_plan.candidate_index``) rebuilt, only when it changed, or ``full_reread_s`` after the
    last read. The index always belongs to the list ``get`` returns. ``refused`` holds the subscriptions left out
    of that list (id -> (stage, reason): ``refusal``, or a stored document that cannot be read) for the stage to
    flag; ``stored_problems`` the reason each read subscription is already flagged with.

    The check time is set only once the check (and any re-read) succeeded: a failed read raises, and the next
    call tries again instead of serving an old (or the initial empty) list as fresh.
    """

    def __init__(self, store: SubscriptionStore, ttl_s: float = SUBSCRIPTION_TTL_S,
                 clock: Callable[[], float] = time.monotonic, full_reread_s: float = FULL_REREAD_S,
                 limits: QueryLimits | None = None) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock
        self.full_reread_s = full_reread_s
        self.limits = limits or QueryLimits()
        self._subs: list[MatchingView] = []
        self._index: CandidateIndex = candidate_index([])
        self.refused: dict[str, tuple[str, str]] = {}
        self._read_at: float | None = None
        self._checked_at: float | None = None
        self._fingerprint: tuple[Any, ...] | None = None
        self.reads = 0  # full re-reads so far
        self.stored_problems: dict[str, str | None] = {}  # id -> reason already flagged in the store
        self._refusals: dict[tuple[str, bool], str | None] = {}  # by (query, allow_expensive): re-reads are frequent

    def get(self) -> list[MatchingView]:
        return self.current()[0]

    def current(self) -> tuple[list[MatchingView], CandidateIndex]:
        """The active subscriptions and the candidate index built from exactly that list."""
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.ttl_s:
            return self._subs, self._index
        fingerprint = self.store.fingerprint()
        stale = self._read_at is None or now - self._read_at >= self.full_reread_s
        if stale or fingerprint != self._fingerprint:
            broken: dict[str, str] = {}
            read = self.store.active_for_matching(broken)
            refused = {sid: ("document", why) for sid, why in broken.items()}
            subs: list[MatchingView] = []
            if len(self._refusals) >= REFUSAL_CACHE_MAX:
                self._refusals.clear()
            for sub in read:
                key = (sub.query, sub.allow_expensive)
                if key not in self._refusals:
                    self._refusals[key] = refusal(sub, self.limits)
                why = self._refusals[key]
                if why is None:
                    subs.append(sub)
                else:
                    refused[sub.id] = ("limits", why)
            index = candidate_index(subs)  # never raises on a query (prefilter and key_set are guarded)
            self._subs, self._index, self.refused = subs, index, refused
            self.stored_problems = {s.id: s.problem for s in read}
            self._read_at, self._fingerprint = now, fingerprint
            self.reads += 1
        self._checked_at = now  # only now: a check that raised above is tried again on the next call
        return self._subs, self._index


def build_alert(sub: Matchable, doc: dict[str, Any], match: Match, indexed: IndexedStory) -> Alert:
    """The Alert message for one match (``trace.alerted_at`` is left to the notifier)."""
    cluster = doc.get("cluster_id") or indexed.cluster_id
    # The event comes with the indexed message (IndexedStory.event_id) or, for older messages, the stored story.
    event = indexed.event_id or doc.get("event_id") or None
    return Alert(
        alert_id=key_for(sub.granularity, sub.id, cluster, match.story_id, event), subscription_id=sub.id,
        subscription_name=sub.name, mode=sub.mode, granularity=sub.granularity, event_id=event,
        story_id=match.story_id, cluster_id=cluster, title=doc.get("title") or "", url=doc.get("url") or "",
        source=doc.get("source") or "", published_at=doc.get("published_at"), snippet=match.snippet,
        entities=list(doc.get("entity_names") or []), topics=list(doc.get("topic_labels") or []),
        trace=indexed.trace,
    )


class AlertStage:
    """Batch handler for the consumer loop (see govwatch.stages.contract)."""

    def __init__(self, es: Elasticsearch, producer: KafkaProducer, subscriptions: SubscriptionCache,
                 ledger: AlertLedger, stories_alias: str, alerts_topic: str,
                 clock: Callable[[], datetime] = utcnow, search_timeout_s: float | None = None) -> None:
        self.es = es
        self.producer = producer
        self.subscriptions = subscriptions
        self.ledger = ledger
        self.alias = stories_alias
        self.topic = alerts_topic
        self.clock = clock
        self.search_timeout_s = search_timeout_s
        # id -> (reason, cache read number) this process stored since the cache's last read: not re-written every
        # batch, but written again once a re-read shows the flag gone (an edit cleared it and the query still fails)
        self._flagged: dict[str, tuple[str, int]] = {}

    def __call__(self, records: Sequence[Any]) -> Rejections:
        started = time.monotonic()
        decoded, rejected = decode_all(records, IndexedBatch)
        stories: dict[str, IndexedStory] = {}
        for _, batch in decoded:
            for story in batch.stories:
                stories.setdefault(story.story_id, story)
        subs, index = self.subscriptions.current()
        faults = [Fault(sid, stage, why) for sid, (stage, why) in self.subscriptions.refused.items()]
        if not stories or not subs:
            self._flag(faults)
            return rejected
        docs = fetch_stories(self.es, self.alias, list(stories))
        missing = [i for i in stories if i not in docs]
        if missing:  # "indexed" promises searchable; a gap means a deleted story, not a retryable state
            log.warning("indexed_stories_missing", count=len(missing), first=missing[0])
        stats = MatchStats()
        matches = match_batch(self.es, self.alias, subs, docs, stats=stats, index=index,
                              timeout_s=self.search_timeout_s)
        faults += stats.faults
        by_id = {s.id: s for s in subs}
        # Batch order, so the first-indexed copy of a cluster is the one announced.
        order = {sid: n for n, sid in enumerate(stories)}
        matches.sort(key=lambda m: (order[m.story_id], m.subscription_id))
        alerts: list[Alert] = []
        for m in matches:
            try:
                alerts.append(build_alert(by_id[m.subscription_id], docs[m.story_id], m, stories[m.story_id]))
            except Exception as exc:  # noqa: BLE001 - one subscription's alert must not stop the others'
                reason = f"an alert could not be built: {describe(exc)}"  # no story id: the flag stays stable
                log.warning("subscription_failed", subscription_id=m.subscription_id, stage="alert",
                            story_id=m.story_id, reason=reason)
                faults.append(Fault(m.subscription_id, "alert", reason))
        recorded = self.ledger.record(alerts, self.clock())
        to_send = [r.produce for r in recorded if r.produce is not None]
        futures = [self.producer.send(self.topic, key=a.subscription_id.encode(), value=a.to_bytes())
                   for a in to_send]
        for future in futures:
            future.get(timeout=ACK_TIMEOUT_S)
        self.ledger.mark_produced([a.alert_id for a in to_send], self.clock())
        log.info("alert_batch", stories=len(stories), subscriptions=len(subs), searches=stats.searches_sent,
                 round_trips=stats.round_trips, candidates=stats.planned,
                 matches=len(matches), new=sum(r.created for r in recorded), produced=len(to_send),
                 digest=sum(1 for r in recorded if r.created and r.produce is None),
                 search_errors=len(stats.errors), faulted=len({f.subscription_id for f in faults}),
                 prefilter_fallbacks=stats.prefilter_fallbacks,
                 elapsed_ms=round((time.monotonic() - started) * 1000, 1))
        self._flag(faults)
        return rejected

    def _flag(self, faults: Sequence[Fault]) -> None:
        """Store each faulted subscription's problem, once per new reason (after the batch's alerts are recorded).

        A flag write that fails is logged, not raised: the skip itself is already counted and logged, and
        retrying the batch for a flag would hold every other subscription's alerts.
        """
        stored, read = self.subscriptions.stored_problems, self.subscriptions.reads
        for fault in {f.subscription_id: f for f in faults}.values():
            sid = fault.subscription_id
            done = self._flagged.get(sid)
            if stored.get(sid) == fault.reason or done == (fault.reason, read):
                continue
            if fault.stage == "document" and done is not None and done[0] == fault.reason:
                continue  # an unreadable document is never in stored_problems: once per process is enough
            try:
                self.subscriptions.store.flag(sid, Problem(stage=fault.stage, reason=fault.reason, at=self.clock()))
            except Exception as exc:  # noqa: BLE001 - see the docstring
                log.warning("subscription_flag_failed", subscription_id=sid, reason=f"{type(exc).__name__}: {exc}")
                continue
            self._flagged[sid] = (fault.reason, read)
            log.warning("subscription_flagged", subscription_id=sid, stage=fault.stage, reason=fault.reason)
