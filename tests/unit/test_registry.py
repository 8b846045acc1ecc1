"""Feed registry loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from govwatch.errors import ConfigError
from govwatch.feeds.registry import load_registry, parse_registry

REPO = Path(__file__).resolve().parents[2]


def test_deploy_registry_loads_cleanly() -> None:
    """deploy/feeds.yaml has no invalid entries, unique ids, and keeps its confidence notes."""
    feeds, problems = load_registry(REPO / "deploy" / "feeds.yaml")
    assert problems == []
    assert len(feeds) >= 70
    assert len({f.id for f in feeds}) == len(feeds)
    assert all(f.confidence in ("high", "medium", "low") for f in feeds)
    assert "china-daily-world" not in {f.id for f in feeds}  # disabled: reported dead


def test_invalid_entries_are_reported_and_skipped() -> None:
    """Each bad entry gets a problem naming its position and reason; the good ones still load."""
    data = {"feeds": [
        {"id": "good", "name": "Good", "url": "https://a.example/rss", "kind": "news", "lang": "en", "filter": False},
        {"id": "Bad Id", "name": "x", "url": "https://b.example/rss"},
        {"id": "noscheme", "name": "x", "url": "ftp://c.example/rss"},
        {"id": "badkind", "name": "x", "url": "https://d.example/rss", "kind": "blog"},
        {"id": "good", "name": "Dup", "url": "https://e.example/rss"},
        "not a mapping",
        {"id": "off", "name": "Off", "url": "https://f.example/rss", "enabled": False},
    ]}
    feeds, problems = parse_registry(data)
    assert [f.id for f in feeds] == ["good"]
    assert feeds[0].language == "en" and feeds[0].needs_relevance_filter is False
    assert [p.position for p in problems] == [2, 3, 4, 5, 6]
    assert "duplicate id" in problems[3].reason and "kind" in problems[2].reason


def test_missing_file_is_a_config_error() -> None:
    """A registry path that does not exist names GOVWATCH_FEEDS_FILE."""
    with pytest.raises(ConfigError, match="GOVWATCH_FEEDS_FILE"):
        load_registry(Path("/nonexistent/feeds.yaml"))
