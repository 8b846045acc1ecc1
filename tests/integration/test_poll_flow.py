"""poll_feeds end to end: real HTTP server on 127.0.0.1, real Prefect run, real Kafka broker and Elasticsearch."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import feedparser
import pytest
from kafka import KafkaConsumer, TopicPartition

from govwatch.commands.poll import load_flow_module
from govwatch.feeds.poller import poll_all
from govwatch.identity import story_id
from govwatch.models import RawStory
from govwatch.wiring.poll import build_runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from feedserver import FeedServer, Route

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = {  # feed id -> (fixture file, ETag or None: servers without validators exercise the body hash)
    "verge": ("theverge-2025-07-01.atom.xml", '"verge-1"'),
    "guardian": ("guardian-us-2018-01-31.rss.xml", None),
    "heise": ("heise-developer-2016.atom.xml", None),
    "uol": ("uol-noticias-latin1-no-decl.rss.xml", None),
    "reuters": ("reuters-most-read-2020-truncated.rss.xml", None),
}
NEW_HEISE_ENTRY = (b"<entry><title>EU AI Office publishes code of practice</title>"
                   b'<link href="https://www.heise.de/developer/meldung/ai-office-code-of-practice-1.html?utm_source=rss"/>'
                   b"<id>urn:test:new-entry</id><updated>2016-09-30T10:00:00+02:00</updated>"
                   b"<summary>New entry</summary></entry>")


@pytest.fixture(scope="module")
def flow_module():  # noqa: ANN201
    return load_flow_module()


@pytest.fixture
def server():  # noqa: ANN201
    with FeedServer() as srv:
        yield srv


def write_registry(path: Path, feeds: dict[str, str]) -> Path:
    lines = ["feeds:"] + [f'  - {{id: {fid}, name: "{fid}", url: "{url}", country: US, language: en, kind: news, '
                          f"needs_relevance_filter: true}}" for fid, url in feeds.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def overrides(settings, registry: Path, **extra: object) -> dict[str, Any]:  # noqa: ANN001
    data = settings.model_dump(mode="json")
    data.update(feeds_file=str(registry), poll_host_spacing_s=0.05, **extra)
    return data


def serve_real(server: FeedServer, tmp_path: Path) -> Path:
    for fid, (name, etag) in REAL.items():
        server.routes[f"/{fid}"] = Route((FIXTURES / "feeds" / name).read_bytes(), etag=etag,
                                         headers={"Content-Type": "application/xml"})
    return write_registry(tmp_path / "feeds.yaml", {fid: server.url(f"/{fid}") for fid in REAL})


def expected_ids(body: bytes) -> set[str]:
    """Ids computed independently of govwatch's parser: feedparser links through identity.story_id."""
    return {story_id(e.link) for e in feedparser.parse(body).entries if e.get("link")}


def read_topic(settings, name: str = "stories.raw") -> list:  # noqa: ANN001
    """Every record of a topic, read to the end offsets."""
    topic = settings.topic(name)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        records: list = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def test_first_poll_publishes_each_story_once_with_expected_ids(initialized, server, tmp_path, flow_module) -> None:  # noqa: ANN001
    """One run publishes exactly the stories of the served feeds, keyed and identified by the canonical-URL hash."""
    registry = serve_real(server, tmp_path)
    result = flow_module.poll_feeds(force=True, overrides=overrides(initialized, registry))
    want: set[str] = set()
    for name, _ in REAL.values():
        want |= expected_ids((FIXTURES / "feeds" / name).read_bytes())
    records = read_topic(initialized)
    keys = [r.key.decode() for r in records]
    assert len(keys) == len(set(keys)) == result["new_stories"]
    assert set(keys) == want
    for record in records:
        story = RawStory.from_bytes(record.value)
        assert story.story_id == record.key.decode() and story.trace.published_to_kafka_at is not None
        assert story.trace.first_seen_at <= story.trace.published_to_kafka_at
    assert result["polled"] == len(REAL) and result["errors"] == {}


def test_second_poll_republishes_nothing_and_one_new_entry_once(initialized, server, tmp_path, flow_module) -> None:  # noqa: ANN001
    """A 304 or an unchanged body publishes nothing; one added entry publishes exactly one message."""
    registry = serve_real(server, tmp_path)
    params = overrides(initialized, registry)
    first = flow_module.poll_feeds(force=True, overrides=params)
    second = flow_module.poll_feeds(force=True, overrides=params)
    assert second["new_stories"] == 0
    assert second["not_modified"] == 1 and second["unchanged"] == len(REAL) - 1
    heise = server.routes["/heise"]
    heise.body = heise.body.replace(b"<entry>", NEW_HEISE_ENTRY + b"<entry>", 1)
    third = flow_module.poll_feeds(force=True, overrides=params)
    records = read_topic(initialized)
    assert third["new_stories"] == 1 and len(records) == first["new_stories"] + 1
    new_id = story_id("https://www.heise.de/developer/meldung/ai-office-code-of-practice-1.html")
    assert records[-1].key.decode() == new_id or new_id in {r.key.decode() for r in records}


def test_state_and_dedup_survive_a_new_process(initialized, server, tmp_path, flow_module) -> None:  # noqa: ANN001
    """A new process rebuilds feed state from Kafka (conditional GET, due times) and dedup from Elasticsearch."""
    registry = serve_real(server, tmp_path)
    first = flow_module.poll_feeds(force=True, overrides=overrides(initialized, registry))
    guardian = server.routes["/guardian"]
    guardian.body = guardian.body + b"\n<!-- regenerated by the CMS -->\n"  # new hash, same stories
    runtime = build_runtime(initialized.model_copy(update={"feeds_file": registry}))
    try:
        assert runtime.poller.due(runtime.feeds) == []  # next_due_at came back from the compacted topic
        assert runtime.poller.states.get("verge").etag == '"verge-1"'
    finally:
        runtime.close()
    env = {**os.environ, "GOVWATCH_TOPIC_PREFIX": initialized.topic_prefix,
           "GOVWATCH_INDEX_PREFIX": initialized.index_prefix, "GOVWATCH_FEEDS_FILE": str(registry),
           "GOVWATCH_SSRF_ALLOWLIST": "127.0.0.1/32", "GOVWATCH_POLL_HOST_SPACING_S": "0.05"}
    seen_before = len(server.requests)
    done = subprocess.run([str(Path(sys.executable).parent / "govwatch"), "poll", "--once", "--all"], env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "new stories 0" in done.stdout and "not-modified 1" in done.stdout, done.stdout
    assert len(read_topic(initialized)) == first["new_stories"]
    verge_requests = [h for p, h in server.requests[seen_before:] if p == "/verge"]
    assert [h.get("if-none-match") for h in verge_requests] == ['"verge-1"']


def test_private_targets_and_redirects_are_refused_with_a_reason(initialized, server, tmp_path, flow_module) -> None:  # noqa: ANN001
    """Without an allowlist entry, loopback/private/link-local feeds and redirect hops are refused and reported."""
    server.routes["/feed"] = Route((FIXTURES / "feeds" / "heise-developer-2016.atom.xml").read_bytes())
    server.routes["/to-loopback"] = Route(status=302, headers={"Location": server.url("/feed")})
    server.routes["/to-metadata"] = Route(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    registry = write_registry(tmp_path / "feeds.yaml", {
        "direct-loopback": server.url("/feed"),
        "mapped-loopback": f"http://[::ffff:127.0.0.1]:{server.port}/feed",
        "decimal-loopback": f"http://2130706433:{server.port}/feed",
        "private-10": "http://10.255.255.1/feed",
        "redirect-loopback": server.url("/to-loopback", host="localhost"),
        "redirect-metadata": server.url("/to-metadata", host="localhost"),
    })
    # Only the *name* localhost is allowed, so the first hop connects and every other target is checked.
    result = flow_module.poll_feeds(force=True,
                                    overrides=overrides(initialized, registry, ssrf_allowlist=["localhost"]))
    assert result["errors"] == {"refused": 6} and result["new_stories"] == 0
    reasons = {feed_id: reason for feed_id, _kind, reason in result["error_details"]}
    assert all("GOVWATCH_SSRF_ALLOWLIST" in r for r in reasons.values())
    assert "loopback" in reasons["redirect-loopback"] and "link-local" in reasons["redirect-metadata"]
    assert "private" in reasons["private-10"] and "loopback" in reasons["decimal-loopback"]
    assert server.hits("/feed") == 0 and server.hits("/to-loopback") == 1
    assert "error refused redirect-metadata" in result["summary"]


def test_hostile_inputs_are_parsed_or_rejected_without_crashing_the_run(initialized, server, tmp_path) -> None:  # noqa: ANN001
    """Every feed-adversarial file served over HTTP ends as published, unchanged or a parse error, within bounds."""
    files = [p for p in sorted((FIXTURES / "feed-adversarial").rglob("*")) if p.suffix in (".xml", ".atom", ".html")]
    feeds = {}
    for i, path in enumerate(files):
        server.routes[f"/adv/{i}"] = Route(path.read_bytes(), headers={"Content-Type": "application/xml"})
        feeds[f"adv-{i}"] = server.url(f"/adv/{i}")
    registry = write_registry(tmp_path / "feeds.yaml", feeds)
    settings = initialized.model_copy(update={"feeds_file": registry, "poll_host_spacing_s": 0.0})
    runtime = build_runtime(settings)
    try:
        started = time.monotonic()
        summary, outcomes = poll_all(runtime.poller, runtime.feeds, concurrency=8)
        elapsed = time.monotonic() - started
    finally:
        runtime.close()
    assert summary.feeds_polled == len(files) > 850
    assert set(summary.errors) <= {"parse"}, summary.error_details[:5]
    assert max(o.elapsed_s for o in outcomes) < 15 and elapsed < 300
    rejected = {o.feed_id for o in outcomes if o.status == "error"}
    bombs = {f"adv-{i}" for i, p in enumerate(files) if p.parent.name == "defusedxml"}
    assert bombs <= rejected
    for record in read_topic(initialized):
        story = RawStory.from_bytes(record.value)
        text = f"{story.title} {story.summary} {story.content}".lower()
        assert "<script" not in text and "javascript:" not in story.url.lower()
