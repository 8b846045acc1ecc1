"""Enrich + index stages on the real broker, ES and a real HTTP server of article pages."""

from __future__ import annotations

import gzip
import json
import signal
import time
from pathlib import Path

from govwatch.adapters.es_io import make_client
from govwatch.adapters.kafka_topics import ENRICHED, RAW, dlq
from govwatch.identity import story_id
from govwatch.models import DeadLetter, EnrichedStory
from tests.factories import raw_story
from tests.support.httpserve import Route, Site, serve
from tests.support.kafka_util import produce, read_all
from tests.support.stages import consumer_process, run_stage_until

ARTICLE = """<html lang="en"><head><title>EU fines chatbot maker under AI Act | Policy Desk</title>
<meta property="og:title" content="EU fines chatbot maker under AI Act"></head><body>
<nav>Home | World | Tech</nav><article><h1>EU fines chatbot maker under AI Act</h1>
<p>The European Commission on Tuesday fined a chatbot maker 35 million euros for breaching the AI Act,
the first penalty imposed under the bloc's artificial intelligence law.</p>
<p>The EU AI Office said the company had deployed a prohibited emotion-recognition system in workplaces.
Commission executive vice-president Henna Virkkunen said enforcement would continue.</p>
<p>France and Germany welcomed the decision, while industry groups warned the fine could chill investment
in general-purpose AI models across Europe.</p></article><footer>Copyright Policy Desk</footer></body></html>"""


def _count(es, alias: str) -> int:  # noqa: ANN001
    es.indices.refresh(index=alias)
    return es.count(index=alias)["count"]


def test_raw_story_becomes_enriched_indexed_document(initialized) -> None:  # noqa: ANN001
    """A raw story whose page is served locally ends as an ES document with its entities, topics and text."""
    settings = initialized
    with serve(Site()) as site:
        site.routes["/eu-fine"] = Route(ARTICLE.encode())
        url = site.url("/eu-fine")
        raw = raw_story("fine", story_id=story_id(url), url=url, title="EU fines chatbot maker",
                        summary="Short teaser.", needs_relevance_filter=True)
        produce(settings.kafka_bootstrap, settings.topic(RAW), [(raw.story_id.encode(), raw.to_bytes())])
        run_stage_until(settings, "enrich",
                        lambda: len(read_all(settings.kafka_bootstrap, settings.topic(ENRICHED), 1, 2, 0)) >= 1)
    es = make_client(settings.es_url)
    alias = f"{settings.index_prefix}-stories"
    run_stage_until(settings, "index", lambda: _count(es, alias) >= 1)
    # The monthly index is the month of first sight, which the raw message fixes (not today's month).
    home = f"{settings.index_prefix}-stories-{raw.trace.first_seen_at:%Y.%m}"
    doc = es.get(index=home, id=raw.story_id)["_source"]
    assert doc["extraction_status"] == "extracted"
    assert "first penalty imposed" in doc["text"]
    assert "Home | World" not in doc["text"]
    assert {"org.european_commission", "org.eu_ai_office", "FR", "DE"} <= set(doc["entity_ids"])
    assert "Henna Virkkunen" in doc["entities"]["person"]["name"]
    assert doc["primary_topic"] == "compliance_enforcement"
    assert doc["is_relevant"] is True and doc["language"] == "en"
    assert doc["trace"]["enriched_at"] and doc["trace"]["indexed_at"]


def test_poison_message_is_dead_lettered_and_rest_continue(initialized) -> None:  # noqa: ANN001
    """A non-JSON and a contract-violating message go to the DLQ with reasons; the valid story is enriched."""
    settings = initialized
    good = raw_story("ok", url="http://10.0.0.1/private", story_id=story_id("http://10.0.0.1/private"))
    produce(settings.kafka_bootstrap, settings.topic(RAW), [
        (b"k1", b"{not json"), (b"k2", json.dumps({"story_id": "x"}).encode()),
        (good.story_id.encode(), good.to_bytes())])
    run_stage_until(settings, "enrich",
                    lambda: len(read_all(settings.kafka_bootstrap, settings.topic(dlq(RAW)), 2, 2, 0)) >= 2)
    letters = [DeadLetter.from_bytes(r.value) for r in read_all(settings.kafka_bootstrap, settings.topic(dlq(RAW)), 2)]
    assert sorted(d.payload for d in letters) == sorted(['{not json', '{"story_id": "x"}'])
    assert all(d.stage == "enrich" and d.reason.startswith("not a valid RawStory") for d in letters)
    out = [EnrichedStory.from_bytes(r.value) for r in read_all(settings.kafka_bootstrap, settings.topic(ENRICHED), 1)]
    assert [s.story_id for s in out] == [good.story_id]
    # The page sits on a private address: refused by the SSRF guard, so the feed text is used instead.
    assert out[0].extraction_status == "feed_summary" and "FetchRefused" in (out[0].fetch_error or "")


def test_syndicated_copies_share_one_cluster(initialized, fixtures_dir: Path) -> None:  # noqa: ANN001
    """A wire copy with another headline and footer joins the first-seen story's cluster; another story does not."""
    settings = initialized
    def page(name: str) -> bytes:  # two real English articles from the Zyte benchmark
        return gzip.decompress((fixtures_dir / "pages" / f"{name}.html.gz").read_bytes())

    with serve(Site()) as site:
        original = page("c00962aabe7b")
        html = original.decode("utf-8", "replace")
        copy = html.replace("</body>", "<p>Copyright 2026 Wire Service. All rights reserved.</p></body>")
        other = page("359fee228518")
        site.routes.update({"/a": Route(original), "/b": Route(copy.encode()), "/c": Route(other)})
        stories = []
        for n, path in enumerate(["/a", "/b", "/c"]):
            url = site.url(path)
            first_seen = raw_story(0).trace.model_copy(
                update={"first_seen_at": raw_story(0).trace.first_seen_at.replace(minute=n)})
            stories.append(raw_story(path, story_id=story_id(url), url=url, title=f"Headline {n}", trace=first_seen))
        produce(settings.kafka_bootstrap, settings.topic(RAW), [(s.story_id.encode(), s.to_bytes()) for s in stories])
        run_stage_until(settings, "enrich",
                        lambda: len(read_all(settings.kafka_bootstrap, settings.topic(ENRICHED), 3, 2, 0)) >= 3)
    out = {s.story_id: s for s in (EnrichedStory.from_bytes(r.value)
                                   for r in read_all(settings.kafka_bootstrap, settings.topic(ENRICHED), 3))}
    a, b, c = (out[s.story_id] for s in stories)
    assert b.cluster_id == a.story_id and not b.is_cluster_representative
    assert a.cluster_id == a.story_id and a.is_cluster_representative
    assert c.cluster_id == c.story_id


def test_index_consumer_killed_mid_batch_indexes_each_story_once(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """SIGKILL of the index process while it works, then a restart: every story is in ES exactly once."""
    from tests.factories import enriched_story

    settings = initialized
    stories = [enriched_story(f"k{i}", text=f"Story number {i} about AI rules.") for i in range(300)]
    produce(settings.kafka_bootstrap, settings.topic(ENRICHED), [(s.story_id.encode(), s.to_bytes()) for s in stories])
    es = make_client(settings.es_url)
    alias = f"{settings.index_prefix}-stories"
    proc = consumer_process(settings, "index", tmp_path / "index1.log")
    deadline = time.monotonic() + 60
    while _count(es, alias) == 0:
        assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "index1.log").read_text()[-2000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = _count(es, alias)
    proc = consumer_process(settings, "index", tmp_path / "index2.log")
    try:
        deadline = time.monotonic() + 90
        while _count(es, alias) < len(stories):
            assert time.monotonic() < deadline, (tmp_path / "index2.log").read_text()[-2000:]
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert partial >= 1
    ids = {h["_id"] for h in es.search(index=alias, size=1000, source=False)["hits"]["hits"]}
    assert ids == {s.story_id for s in stories} and _count(es, alias) == len(stories)
