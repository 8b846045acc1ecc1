"""Two processes of one consumer stage share the work by splitting the topic's partitions."""

from __future__ import annotations

import json
import time
from pathlib import Path

from govwatch.adapters.kafka_io import admin_client
from govwatch.adapters.kafka_topics import ENRICHED, RAW
from govwatch.models import EnrichedStory
from tests.factories import raw_story
from tests.support.kafka_util import produce, read_all
from tests.support.stages import consumer_process


def _assignments(settings, group: str) -> list[set[int]]:  # noqa: ANN001
    admin = admin_client(settings.kafka_bootstrap)
    try:
        described = admin.describe_groups([group])[group]
    finally:
        admin.close()
    out = []
    for member in described.get("members", []):
        assignment = member.get("member_assignment") or {}
        parts: set[int] = set()
        for topic_parts in assignment.get("assignment", []) or assignment.get("assigned_partitions", []):
            parts |= set(topic_parts[1] if isinstance(topic_parts, (list, tuple))
                         else topic_parts.get("partitions", []))
        out.append(parts)
    return out


def test_two_enrich_processes_split_partitions(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """Two enrich processes in one group get disjoint halves of the 6 partitions and both process stories."""
    settings = initialized
    group = f"{settings.topic_prefix}.enrich"
    procs = [consumer_process(settings, "enrich", tmp_path / f"enrich{i}.log") for i in range(2)]
    try:
        deadline = time.monotonic() + 90
        while True:
            parts = _assignments(settings, group)
            if len(parts) == 2 and all(parts) and len(parts[0] | parts[1]) == 6:
                break
            assert time.monotonic() < deadline, f"group never balanced: {parts}"
            time.sleep(0.5)
        assert parts[0].isdisjoint(parts[1]) and parts[0] | parts[1] == set(range(6))

        stories = [raw_story(f"s{i}", url=f"http://10.9.9.9/{i}") for i in range(60)]
        produce(settings.kafka_bootstrap, settings.topic(RAW), [(s.story_id.encode(), s.to_bytes()) for s in stories])
        out = read_all(settings.kafka_bootstrap, settings.topic(ENRICHED), expect=60, timeout_s=90, settle_s=2)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    assert {EnrichedStory.from_bytes(r.value).story_id for r in out} == {s.story_id for s in stories}
    handled = [_enriched_partitions(tmp_path / f"enrich{i}.log") for i in range(2)]
    assert all(handled), f"a process enriched nothing: {handled}"
    assert handled[0].isdisjoint(handled[1]) and handled[0] | handled[1] <= set(range(6))


def _enriched_partitions(log: Path) -> set[int]:
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return {e["partition"] for e in events if e.get("event") == "enriched"}
