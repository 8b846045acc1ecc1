"""Raw story (+ the page we fetched, if any) -> enriched story, minus the cluster decision.

Pure: no I/O. The enrich stage fetches the page, calls :func:`enrich`, then decides the cluster
against Elasticsearch (govwatch.enrich.clusters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from htmldate.extractors import get_external_parser

from govwatch.enrich import relevance
from govwatch.enrich.cpusplit import CpuSplit
from govwatch.enrich.entities import extract_entities
from govwatch.enrich.extract import Extraction, extract_article, extract_from_feed_only
from govwatch.enrich.gazetteer import Gazetteer, load_gazetteer
from govwatch.enrich.language import detect_language
from govwatch.enrich.neardup import lsh_keys, signature, signature_hex
from govwatch.enrich.topics import Taxonomy, classify, load_taxonomy
from govwatch.models import EnrichedStory, EntityRef, RawStory, TopicRef, Trace, utcnow

# Entities/topics look at the title and the first part of the body: long texts add noise and time.
ANALYSIS_CHARS = 30_000


@dataclass(frozen=True)
class Knowledge:
    """The data enrichment decides with (loaded once per process)."""

    gazetteer: Gazetteer
    taxonomy: Taxonomy
    relevance_threshold: float

    @classmethod
    def load(cls, relevance_threshold: float) -> Knowledge:
        return cls(load_gazetteer(), load_taxonomy(), relevance_threshold)

    def warm_up(self) -> None:
        """Run one tiny story through every step, so lazy model loads (language identification,
        trafilatura's tables) happen before the consumer joins its group rather than in its first batch."""
        html = b"<html lang='en'><body><article><h1>Warm-up</h1><p>The European Commission said the AI Act " \
               b"applies to general-purpose AI models from August.</p></article></body></html>"
        raw = RawStory(story_id="0" * 64, url="https://example.org/warm-up", feed_id="warm-up",
                       feed_url="https://example.org/feed", source="warm-up", trace=Trace(first_seen_at=utcnow()))
        enrich(raw, html, None, self)
        # htmldate hands dates written out in words ("3 March 2025") to dateparser, which loads its locale data
        # on first use: ~0.4 s of CPU (measured) that would otherwise land in the first batch with such a page.
        get_external_parser().get_date_data("3 March 2025")


def extraction_for(raw: RawStory, html: bytes | None, cpu: CpuSplit | None = None) -> Extraction:
    """Extract from the page when we have one, else from the feed's own text.

    Dates are judged plausible against the story's first sight, not the wall clock: a replay of the same
    message a month later must decide the same date (and so the same Kibana time) as the first pass.
    """
    feed: dict[str, Any] = {"feed_title": raw.title, "feed_summary": raw.summary, "feed_content": raw.content,
                            "feed_published": raw.published_at, "feed_author": raw.author,
                            "now": raw.trace.first_seen_at}
    if html:
        return extract_article(html, raw.url, **feed, cpu=cpu)
    extraction = extract_from_feed_only(raw.url, **feed)
    if cpu is not None:
        cpu.lap("extraction")
    return extraction


def enrich(raw: RawStory, html: bytes | None, fetch_error: str | None, knowledge: Knowledge,
           cpu: CpuSplit | None = None) -> EnrichedStory:
    """Everything about a story except its cluster (cluster_id starts as the story's own id).

    ``cpu``, when given, is booked this thread's CPU per component (see govwatch.enrich.cpusplit).
    """
    cpu = cpu or CpuSplit()
    cpu.start()
    ext = extraction_for(raw, html, cpu)
    title = ext.title or raw.title
    text = ext.text
    head = text[:ANALYSIS_CHARS]
    language = detect_language(f"{title}\n{head[:3000]}") or ext.language or raw.language
    cpu.lap("language")
    entities = extract_entities(title, head, knowledge.gazetteer)
    cpu.lap("entities")
    evidence = relevance.evidence(title, head)
    cpu.lap("relevance")
    topics = classify(title, head, knowledge.taxonomy, evidence=evidence)
    cpu.lap("topics")
    # Feeds the registry marks as already AI/tech-policy scoped keep their stories relevant; general feeds
    # must earn it. Either way the score is stored, so the threshold can move later without re-enrichment.
    is_relevant = topics.relevance >= knowledge.relevance_threshold or not raw.needs_relevance_filter
    sig = signature(f"{title}\n{text}")
    keys, sig_hex = lsh_keys(sig), signature_hex(sig)
    cpu.lap("neardup")
    now = utcnow()
    story = EnrichedStory(
        story_id=raw.story_id, raw=raw, title=title, text=text, author=ext.author or raw.author,
        site_name=ext.sitename, language=language, published_at=ext.published or raw.published_at,
        extraction_status=ext.status, fetch_error=fetch_error, word_count=len(text.split()),
        entities=[EntityRef(id=e.id, name=e.name, type=e.type, qid=e.qid, mentions=e.mentions, role=e.role)
                  for e in entities],
        topics=[TopicRef(id=t.id, label=t.label, score=round(t.score, 4)) for t in topics.topics],
        relevance=round(topics.relevance, 4), is_relevant=is_relevant,
        cluster_id=raw.story_id, is_cluster_representative=True,
        neardup_keys=keys, neardup_signature=sig_hex,
        trace=raw.trace.model_copy(update={"enriched_at": now}),
    )
    cpu.lap("model")
    return story
