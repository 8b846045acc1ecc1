"""The enrich stage: raw story -> page fetch -> extraction, entities, topics, cluster -> enriched story.

Page fetches run in a thread pool (network-bound), a few at a time per host and within one budget per batch
(govwatch.stages.pagefetch), and each page is extracted as soon as it arrives; a page that cannot be fetched
(refused by the SSRF guard, over a byte cap or the deadline, 4xx/5xx, timeout) is not an error of the story:
it falls back to the feed's own text and records why in ``fetch_error`` / ``extraction_status``. Only an
undecodable message is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka import KafkaProducer
from structlog.contextvars import bound_contextvars

from govwatch.adapters.fetch import Fetcher
from govwatch.adapters.kafka_io import ACK_TIMEOUT_S
from govwatch.enrich.clusters import ClusterIndex
from govwatch.enrich.cpusplit import CpuSplit
from govwatch.enrich.pipeline import Knowledge, enrich
from govwatch.errors import EnrichmentFailed
from govwatch.log import get_logger
from govwatch.models import EnrichedStory, RawStory
from govwatch.stages.contract import Rejections
from govwatch.stages.decode import decode_all
from govwatch.stages.pagefetch import BatchPageFetcher

log = get_logger("govwatch.enrich")


class EnrichStage:
    """Batch handler for the consumer loop (see govwatch.stages.contract)."""

    def __init__(self, fetcher: Fetcher, clusters: ClusterIndex, knowledge: Knowledge, producer: KafkaProducer,
                 enriched_topic: str, workers: int = 8, per_host: int | None = None,
                 fetch_budget_s: float | None = None, page_max_bytes: int | None = None) -> None:
        """``per_host``, ``fetch_budget_s`` and ``page_max_bytes`` default to the fetcher's settings
        (fetch_per_host, enrich_fetch_budget_s, enrich_page_max_bytes)."""
        self.fetcher = fetcher
        self.clusters = clusters
        self.knowledge = knowledge
        self.producer = producer
        self.topic = enriched_topic
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
        settings = fetcher.settings
        self.pages = BatchPageFetcher(
            fetcher, self.pool, per_host=per_host or settings.fetch_per_host,
            budget_s=fetch_budget_s or settings.enrich_fetch_budget_s,
            max_bytes=page_max_bytes or settings.enrich_page_max_bytes)

    def __call__(self, records: Sequence[Any]) -> Rejections:
        cpu = CpuSplit()
        decoded, rejected = decode_all(records, RawStory)
        cpu.lap("deserialise")
        # First-seen order, so that the first copy of a wire story becomes its cluster's representative.
        decoded.sort(key=lambda item: (item[1].trace.first_seen_at, item[1].story_id))
        # Pages arrive in completion order (a slow host delays only its own stories); each is extracted at once
        # and its HTML dropped, so the batch never holds more pages than are waiting to be extracted.
        stories: dict[int, EnrichedStory] = {}
        fallbacks = 0
        for index, page in self.pages.fetch_all([raw.url for _, raw in decoded]):
            pos, raw = decoded[index]
            cpu.add("fetch", page.cpu_s)
            fallbacks += page.error is not None
            try:
                stories[index] = enrich(raw, page.html, page.error, self.knowledge, cpu)
            except Exception as exc:  # noqa: BLE001 - pure code: any error is about this story, and retrying
                # the batch (or crashing) would replay it forever and stall the partition
                rejected[pos] = EnrichmentFailed(f"enrichment failed: {type(exc).__name__}: {exc}"[:2000])
        # Back in first-seen order for the cluster decision (the first copy of a wire story represents it).
        enriched = [(decoded[index][0], stories[index]) for index in sorted(stories)]
        cpu.start()
        # One Elasticsearch round trip for the batch's clusters; ES down raises and retries the batch.
        decided = self.clusters.assign_all([story for _, story in enriched])
        cpu.lap("clusters")
        futures = []
        for (pos, _), story in zip(enriched, decided, strict=True):
            rec = records[pos]
            with bound_contextvars(story_id=story.story_id, partition=rec.partition, offset=rec.offset):
                log.info("enriched", status=story.extraction_status, relevance=story.relevance,
                         cluster=story.cluster_id[:12], entities=len(story.entities))
                cpu.lap("logging")
                value = story.to_bytes()
                cpu.lap("serialise")
                futures.append(self.producer.send(self.topic, key=story.story_id.encode(), value=value))
                cpu.lap("kafka_produce")
        for fut in futures:
            fut.get(timeout=ACK_TIMEOUT_S)  # acknowledged before the loop commits the input offsets
        cpu.lap("kafka_produce")
        # One canonical line per batch: where this thread's CPU went (fetch: the fetch threads' CPU).
        log.info("enrich_cpu", size=len(records), enriched=len(enriched), page_fallbacks=fallbacks,
                 cpu_ms=cpu.millis())
        return rejected
