"""The enrich stage: raw story -> page fetch -> extraction, entities, topics, cluster -> enriched story.

Page fetches run in a thread pool (network-bound); a page that cannot be fetched (refused by the SSRF
guard, too large, 4xx/5xx, timeout) is not an error of the story: it falls back to the feed's own text
and records why in ``fetch_error`` / ``extraction_status``. Only an undecodable message is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from time import thread_time
from typing import Any

from kafka import KafkaProducer

from govwatch.clusters import ClusterIndex
from govwatch.enrich.cpusplit import CpuSplit
from govwatch.enrich.pipeline import Knowledge, enrich
from govwatch.errors import EnrichmentFailed, GovwatchError, PermanentError
from govwatch.fetch import Fetcher
from govwatch.log import get_logger
from govwatch.models import EnrichedStory, RawStory
from govwatch.stages.parse import decode_all

log = get_logger("govwatch.enrich")
ACK_TIMEOUT_S = 30
PAGE_MAX_BYTES = 5_000_000  # an article page larger than this is not an article


class EnrichStage:
    """Batch handler for the consumer loop (see govwatch.consumer)."""

    def __init__(self, fetcher: Fetcher, clusters: ClusterIndex, knowledge: Knowledge, producer: KafkaProducer,
                 enriched_topic: str, workers: int = 8) -> None:
        self.fetcher = fetcher
        self.clusters = clusters
        self.knowledge = knowledge
        self.producer = producer
        self.topic = enriched_topic
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")

    def fetch_page(self, raw: RawStory) -> tuple[bytes | None, str | None]:
        """The page body, or None and the reason it could not be used."""
        try:
            result = self.fetcher.fetch(raw.url, max_bytes=PAGE_MAX_BYTES)
        except GovwatchError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if result.status != 200 or not result.body:
            return None, f"HTTP {result.status} with {len(result.body)} bytes"
        ctype = result.headers.get("content-type", "")
        if ctype and "html" not in ctype and "xml" not in ctype:
            return None, f"not an HTML page ({ctype[:80]})"
        return result.body, None

    def _timed_fetch(self, raw: RawStory) -> tuple[bytes | None, str | None, float]:
        started = thread_time()  # the fetch thread's own CPU: TLS, gzip, the SSRF check
        html, error = self.fetch_page(raw)
        return html, error, thread_time() - started

    def __call__(self, records: Sequence[Any]) -> dict[int, PermanentError]:
        cpu = CpuSplit()
        decoded, rejected = decode_all(records, RawStory)
        cpu.lap("deserialise")
        # First-seen order, so that the first copy of a wire story becomes its cluster's representative.
        decoded.sort(key=lambda item: (item[1].trace.first_seen_at, item[1].story_id))
        # map() yields in order as pages arrive, so extraction starts while later pages still download.
        pages = self.pool.map(lambda item: self._timed_fetch(item[1]), decoded)
        enriched: list[tuple[int, EnrichedStory]] = []
        for (pos, raw), (html, error, fetch_cpu) in zip(decoded, pages, strict=True):
            cpu.add("fetch", fetch_cpu)
            try:
                enriched.append((pos, enrich(raw, html, error, self.knowledge, cpu)))
            except Exception as exc:  # noqa: BLE001 - pure code: any error is about this story, and retrying
                # the batch (or crashing) would replay it forever and stall the partition
                rejected[pos] = EnrichmentFailed(f"enrichment failed: {type(exc).__name__}: {exc}"[:2000])
        cpu.start()
        # One Elasticsearch round trip for the batch's clusters; ES down raises and retries the batch.
        decided = self.clusters.assign_all([story for _, story in enriched])
        cpu.lap("clusters")
        futures = []
        for (pos, _), story in zip(enriched, decided, strict=True):
            rec = records[pos]
            log.info("enriched", story_id=story.story_id, partition=rec.partition, offset=rec.offset,
                     status=story.extraction_status, relevance=story.relevance, cluster=story.cluster_id[:12],
                     entities=len(story.entities))
            cpu.lap("logging")
            value = story.to_bytes()
            cpu.lap("serialise")
            futures.append(self.producer.send(self.topic, key=story.story_id.encode(), value=value))
            cpu.lap("kafka_produce")
        for fut in futures:
            fut.get(timeout=ACK_TIMEOUT_S)  # acknowledged before the loop commits the input offsets
        cpu.lap("kafka_produce")
        # One canonical line per batch: where this thread's CPU went (fetch: the fetch threads' CPU).
        log.info("enrich_cpu", size=len(records), enriched=len(enriched), cpu_ms=cpu.millis())
        return rejected
