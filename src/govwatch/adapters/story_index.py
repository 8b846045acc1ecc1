"""Enriched story -> Elasticsearch document, and the bulk write with its error policy.

Which monthly index: the month the story was **first seen** (``raw.trace.first_seen_at``, fixed in the raw
message at first sight), never the publication date, which a replay can decide differently (the page fetch
worked once and not the next time). A story already stored keeps its index: before each bulk, one search over
``<prefix>-stories-*`` finds the batch's ids that exist and where, so even a story the poller re-published
with a new first-seen time (a crash between the Kafka ack and its once-only record) is overwritten in place:
exactly one document per story id across all monthly indices. Kibana's time field (``@timestamp``) is still
the publication date; the index is storage, not the time axis.

Refresh policy: the "indexed" message is emitted only once the documents are visible to search, so the
alerting stage can find the ids it is told about. How we wait depends on the batch:

* a small batch (the pipeline is keeping up; latency is what users feel) is sent with ``refresh=true``:
  searchable at once, at the cost of one small segment, which at news rates is a handful per second;
* a large batch (a backlog is being worked off; throughput matters) is sent with ``refresh=wait_for``,
  which rides the index's 1 s refresh instead of forcing segments, adding up to a second of latency.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.errors import PermanentError, RateLimited, TransientError, Unavailable
from govwatch.models import EnrichedStory, IndexedBatch, IndexedStory

MAX_TEXT_CHARS = 200_000  # keeps highlighting within index.highlight.max_analyzed_offset and docs small
BULK_429_RETRIES = 4
FORCE_REFRESH_MAX_BATCH = 50  # up to this many stories per bulk, refresh now (see the module docstring)
ENTITY_TYPES = ("person", "org", "country", "law", "event", "product")


class MappingRejected(PermanentError):
    """Elasticsearch refused the document itself (mapping/parse error): dead-letter it."""


def timestamp_of(story: EnrichedStory) -> datetime:
    """Kibana's time field: the publication date, unless missing or suspect, else first-seen."""
    raw = story.raw
    if story.published_at is not None and not raw.published_at_suspect:
        return story.published_at
    return raw.trace.first_seen_at


def home_month_index(prefix: str, story: EnrichedStory) -> str:
    """The monthly index a story is written to on first sight (see the module docstring)."""
    return es_io.stories_index_for(prefix, story.raw.trace.first_seen_at)


def existing_locations(es: Elasticsearch, prefix: str, story_ids: Sequence[str]) -> dict[str, str]:
    """story id -> the monthly index that already holds it, for the ids of a batch (one search)."""
    if not story_ids:
        return {}
    try:
        resp = es.search(index=f"{prefix}-stories-*", query={"ids": {"values": list(story_ids)}}, source=False,
                         size=len(story_ids), ignore_unavailable=True, allow_no_indices=True)
    except Exception as exc:
        raise es_io.translate(exc, "locate stories") from exc
    found: dict[str, str] = {}
    for hit in resp["hits"]["hits"]:
        # Two hits for one id would be the very duplicate this prevents; keep the oldest index deterministically.
        if hit["_id"] not in found or hit["_index"] < found[hit["_id"]]:
            found[hit["_id"]] = hit["_index"]
    return found


def story_document(story: EnrichedStory, event_id: str | None = None) -> dict[str, Any]:
    """The document indexed for a story (fields match schemas/elasticsearch/stories.template.json).

    ``event_id`` is the story's event (govwatch.enrich.event_assign), decided by the index stage before the bulk.

    Entity roles: ``entities.<type>``, ``entity_ids``, ``entity_names`` and ``countries`` hold the story's
    **subjects** only, so every panel, filter and subscription on them counts what stories are about, not the
    outlets they quote; cited sources go to ``source_ids`` / ``source_names``; ``entities_detail`` keeps all
    with their role.
    """
    raw = story.raw
    subjects = [e for e in story.entities if e.role == "subject"]
    sources = [e for e in story.entities if e.role == "source"]
    entities: dict[str, dict[str, list[str]]] = {t: {"id": [], "name": []} for t in ENTITY_TYPES}
    for ent in subjects:
        entities[ent.type]["id"].append(ent.id)
        entities[ent.type]["name"].append(ent.name)
    return {
        "@timestamp": timestamp_of(story).isoformat(),
        "story_id": story.story_id,
        "cluster_id": story.cluster_id,
        "event_id": event_id,
        "is_cluster_representative": story.is_cluster_representative,
        "url": raw.url,
        "feed_id": raw.feed_id,
        "source": raw.source,
        "source_kind": raw.source_kind,
        "source_country": raw.country,
        "language": story.language,
        "title": story.title,
        "summary": raw.summary,
        "text": story.text[:MAX_TEXT_CHARS],
        "author": story.author,
        "site_name": story.site_name,
        "published_at": story.published_at.isoformat() if story.published_at else None,
        "published_at_suspect": raw.published_at_suspect,
        "extraction_status": story.extraction_status,
        "fetch_error": story.fetch_error,
        "word_count": story.word_count,
        "entities": {t: v for t, v in entities.items() if v["id"]},
        "entity_ids": [e.id for e in subjects],
        "entity_names": [e.name for e in subjects],
        "source_ids": [e.id for e in sources],
        "source_names": [e.name for e in sources],
        "entities_detail": [e.model_dump() for e in story.entities],
        "countries": entities["country"]["id"],
        "topics": [t.id for t in story.topics],
        "topic_labels": [t.label for t in story.topics],
        "primary_topic": story.topics[0].id if story.topics else None,
        "topic_scores": {t.id: t.score for t in story.topics},
        "relevance": story.relevance,
        "is_relevant": story.is_relevant,
        "neardup_keys": story.neardup_keys,
        "neardup_signature": story.neardup_signature,
        "trace": {k: (v.isoformat() if v else None) for k, v in story.trace.model_dump().items()
                  if k in ("first_seen_at", "published_to_kafka_at", "enriched_at", "indexed_at")},
        "schema_version": story.schema_version,
    }


def entities_with_roles(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored document's ``entities_detail``, each with its role (documents indexed before roles: subject)."""
    detail = doc.get("entities_detail") or []
    return [{**e, "role": e.get("role") or "subject"} for e in detail if isinstance(e, dict)]


def bulk_index(es: Elasticsearch, prefix: str, stories: Sequence[EnrichedStory],
               event_ids: Mapping[str, str] | None = None) -> dict[int, PermanentError]:
    """Index ``stories`` (``_id`` = story id; ``event_ids``: story id -> its event) and wait until searchable;
    returns rejected positions.

    429s are retried here with backoff; a still-busy cluster raises RateLimited (the loop retries the
    batch, idempotently). 5xx raises TransientError. 4xx per item rejects only that story.
    """
    pending = list(range(len(stories)))
    rejected: dict[int, PermanentError] = {}
    delay = 0.5
    located = existing_locations(es, prefix, [s.story_id for s in stories])
    for attempt in range(BULK_429_RETRIES + 1):
        ops: list[dict[str, Any]] = []
        for i in pending:
            story = stories[i]
            target = located.get(story.story_id) or home_month_index(prefix, story)
            ops.append({"index": {"_index": target, "_id": story.story_id}})
            ops.append(story_document(story, (event_ids or {}).get(story.story_id)))
        try:
            refresh = "true" if len(stories) <= FORCE_REFRESH_MAX_BATCH else "wait_for"
            resp = es.bulk(operations=ops, refresh=refresh)
        except Exception as exc:
            raise es_io.translate(exc, "bulk index") from exc
        busy: list[int] = []
        for i, item in zip(pending, resp["items"], strict=True):
            result = item["index"]
            status = result.get("status", 500)
            if status < 300:
                continue
            reason = result.get("error", {})
            text = f"{reason.get('type', 'error')}: {reason.get('reason', '')}"[:500]
            if status == 429:
                busy.append(i)
            elif status == 503:  # unavailable_shards: the node is recovering
                raise Unavailable(f"Elasticsearch 503 for story {stories[i].story_id}: {text}")
            elif status >= 500:
                raise TransientError(f"Elasticsearch {status} for story {stories[i].story_id}: {text}")
            else:
                rejected[i] = MappingRejected(f"Elasticsearch refused story {stories[i].story_id} ({status}): {text}")
        if not busy:
            return rejected
        pending = busy
        if attempt < BULK_429_RETRIES:
            time.sleep(delay)
            delay *= 2
    raise RateLimited(f"Elasticsearch still busy (429) for {len(pending)} stories after {BULK_429_RETRIES} retries")


def indexed_batch(prefix: str, stories: Sequence[EnrichedStory], indexed_at: datetime,
                  event_ids: Mapping[str, str] | None = None) -> IndexedBatch:
    """The "indexed" message for the stories that are now searchable (``event_ids``: story id -> its event)."""
    ids = [s.story_id for s in stories]
    batch_id = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]
    return IndexedBatch(
        batch_id=batch_id, index=f"{prefix}-stories",
        stories=[IndexedStory(story_id=s.story_id, cluster_id=s.cluster_id, event_id=(event_ids or {}).get(s.story_id),
                              trace=s.trace.model_copy(update={"indexed_at": indexed_at})) for s in stories],
    )
