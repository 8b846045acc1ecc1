"""Near-duplicate clusters, decided against what is already indexed (read through govwatch.adapters.es_io).

A new story's LSH band keys are looked up with one ``terms`` query over recent stories; candidates are
verified with the MinHash similarity (govwatch.enrich.neardup). Among the story and its verified
near-duplicates, the one first seen is the representative and its ``cluster_id`` is the cluster's.
Because the decision compares ``first_seen_at`` (fixed at polling time), re-enriching a story on replay
gives the same answer.

Stories processed by this process but not yet searchable (same or previous batch, within the 1 s refresh)
are checked too, from a bounded in-memory window. Two copies handled at the same moment by two different
processes can still end in two clusters; the alert ledger keys on cluster id, so at worst such a pair alerts
twice — documented, and rare because wire copies usually arrive minutes apart.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io
from govwatch.enrich.neardup import is_near_duplicate, parse_signature
from govwatch.errors import TransientError
from govwatch.log import get_logger
from govwatch.models import EnrichedStory

log = get_logger("govwatch.enrich.clusters")

LOOKBACK_DAYS = 7  # wire copies of one event arrive within days, not weeks
MAX_CANDIDATES = 50
RECENT_WINDOW = 5_000  # stories remembered in-process until they are surely searchable


@dataclass(frozen=True)
class Seen:
    story_id: str
    cluster_id: str
    first_seen_at: datetime
    signature: tuple[int, ...]


class ClusterIndex:
    """Decides a story's cluster; one per enrich process."""

    def __init__(self, es: Elasticsearch, index_prefix: str) -> None:
        self.es = es
        self.alias = f"{index_prefix}-stories"
        self.recent: OrderedDict[str, tuple[Seen, list[str]]] = OrderedDict()
        self.by_key: dict[str, set[str]] = {}

    def assign_all(self, stories: list[EnrichedStory]) -> list[EnrichedStory]:
        """Decide the clusters of a batch (in the given order) with one Elasticsearch round trip."""
        indexed = self._indexed_candidates([s for s in stories if self._clusterable(s)])
        return [self._decide(s, indexed.get(s.story_id, [])) if self._clusterable(s) else s for s in stories]

    @staticmethod
    def _clusterable(story: EnrichedStory) -> bool:
        return bool(story.neardup_signature and story.text.strip())

    def _decide(self, story: EnrichedStory, indexed: list[Seen]) -> EnrichedStory:
        signature = parse_signature(story.neardup_signature)
        me = Seen(story.story_id, story.story_id, story.raw.trace.first_seen_at, signature)
        keys = set(story.neardup_keys)
        local = {sid: self.recent[sid][0] for sid in set().union(*(self.by_key.get(k, set()) for k in keys))}
        candidates = {**{c.story_id: c for c in indexed}, **local}
        matches = [c for c in candidates.values() if c.story_id != story.story_id
                   and is_near_duplicate(me.signature, c.signature)]
        if matches:
            # Join the cluster of the earliest-seen match. The stage feeds each batch in first-seen order,
            # so that match is normally the representative; a replay finds the same cluster again.
            first = min(matches, key=lambda c: (c.first_seen_at, c.story_id))
            decided = story.model_copy(update={"cluster_id": first.cluster_id,
                                               "is_cluster_representative": first.cluster_id == story.story_id})
        else:
            decided = story
        self._remember(Seen(story.story_id, decided.cluster_id, me.first_seen_at, me.signature), story.neardup_keys)
        return decided

    def _remember(self, seen: Seen, keys: list[str]) -> None:
        if seen.story_id in self.recent:
            return
        self.recent[seen.story_id] = (seen, keys)
        for key in keys:
            self.by_key.setdefault(key, set()).add(seen.story_id)
        while len(self.recent) > RECENT_WINDOW:
            old, old_keys = self.recent.popitem(last=False)[1]
            for key in old_keys:
                ids = self.by_key.get(key)
                if ids is not None:
                    ids.discard(old.story_id)
                    if not ids:
                        del self.by_key[key]

    def _indexed_candidates(self, stories: list[EnrichedStory]) -> dict[str, list[Seen]]:
        """Indexed stories sharing an LSH band with each story: one ``_msearch`` for the whole batch."""
        if not stories:
            return {}
        searches: list[dict[str, Any]] = []
        for story in stories:
            searches.append({"index": self.alias})
            searches.append({
                "size": MAX_CANDIDATES,
                "query": {"bool": {"filter": [
                    {"terms": {"neardup_keys": sorted(set(story.neardup_keys))}},
                    {"range": {"trace.first_seen_at": {"gte": f"now-{LOOKBACK_DAYS}d"}}},
                ]}},
                "_source": ["story_id", "cluster_id", "trace.first_seen_at", "neardup_signature"],
                "sort": [{"trace.first_seen_at": "asc"}],
            })
        try:
            resp = self.es.msearch(searches=searches)
        except Exception as exc:
            raise es_io.translate(exc, "near-duplicate lookup") from exc
        out: dict[str, list[Seen]] = {}
        for story, result in zip(stories, resp["responses"], strict=True):
            if "error" in result:
                status = int(result.get("status", 500))
                if status == 429 or status >= 500:
                    raise TransientError(f"Elasticsearch {status} during near-duplicate lookup")
                # A 4xx here is a bug of ours, not of the story: cluster it alone rather than block the stage.
                log.warning("neardup_lookup_failed", story_id=story.story_id, status=status,
                            error=str(result["error"])[:300])
                continue
            out[story.story_id] = [
                Seen(src["story_id"], src["cluster_id"], datetime.fromisoformat(src["trace"]["first_seen_at"]),
                     parse_signature(src["neardup_signature"]))
                for src in (hit["_source"] for hit in result["hits"]["hits"]) if src.get("neardup_signature")]
        return out
