"""The feed registry: a data file (``deploy/feeds.yaml``), loaded and validated at start.

Adding a feed is a data change. An invalid entry is reported with its position and reason and skipped;
the other feeds still load. Only a missing or unreadable file is fatal (``ConfigError``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from govwatch.errors import ConfigError

KINDS = frozenset({"news", "policy_outlet", "gov", "intl_org", "think_tank", "civil_society", "company",
                   "newsletter", "research"})
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
COUNTRY_RE = re.compile(r"^([A-Z]{2}|INT|EU)$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True)
class Feed:
    """One registry entry. ``interval_s`` pins the poll interval; None lets it adapt to the feed."""

    id: str
    name: str
    url: str
    country: str | None
    language: str | None
    kind: str
    needs_relevance_filter: bool
    interval_s: float | None = None
    enabled: bool = True
    confidence: str | None = None
    note: str | None = None

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


@dataclass(frozen=True)
class RegistryProblem:
    position: int
    feed_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"feed #{self.position} ({self.feed_id or 'no id'}): {self.reason}"


def slugify(name: str) -> str:
    """A stable id from a feed name (used to write ids into the registry, never at load time)."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", name.lower())).strip("-")[:80]


def _entry(raw: object) -> Feed:
    if not isinstance(raw, dict):
        raise ValueError(f"expected a mapping, got {type(raw).__name__}")
    feed_id = raw.get("id")
    if not isinstance(feed_id, str) or not ID_RE.match(feed_id):
        raise ValueError("`id` must be a lower-case slug (a-z, 0-9, -), 2-80 characters")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("`name` is required")
    url = raw.get("url")
    if not isinstance(url, str) or (parts := urlsplit(url)).scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"`url` must be an absolute http(s) URL, got {url!r}")
    kind = raw.get("kind", "news")
    if kind not in KINDS:
        raise ValueError(f"`kind` {kind!r} is not one of {sorted(KINDS)}")
    country = raw.get("country")
    if country is not None and (not isinstance(country, str) or not COUNTRY_RE.match(country)):
        raise ValueError(f"`country` {country!r} is not ISO 3166-1 alpha-2, INT or EU")
    language = raw.get("language", raw.get("lang"))
    if language is not None and (not isinstance(language, str) or not LANGUAGE_RE.match(language)):
        raise ValueError(f"`language` {language!r} is not a language code such as en or pt-BR")
    needs_filter = raw.get("needs_relevance_filter", raw.get("filter", True))
    if not isinstance(needs_filter, bool):
        raise ValueError("`needs_relevance_filter` must be true or false")
    interval = raw.get("interval_s")
    if interval is not None and (not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval <= 0):
        raise ValueError("`interval_s` must be a positive number of seconds")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError("`enabled` must be true or false")
    return Feed(id=feed_id, name=name.strip(), url=url, country=country, language=language, kind=kind,
                needs_relevance_filter=needs_filter, interval_s=float(interval) if interval else None,
                enabled=enabled, confidence=raw.get("confidence"), note=raw.get("note"))


def parse_registry(data: object) -> tuple[list[Feed], list[RegistryProblem]]:
    """Valid enabled feeds and the problems of the rest (duplicates keep the first)."""
    entries = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return [], [RegistryProblem(0, None, "the file has no `feeds:` list")]
    feeds: list[Feed] = []
    problems: list[RegistryProblem] = []
    seen_ids: set[str] = set()
    seen_urls: set[str] = set()
    for position, raw in enumerate(entries, start=1):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            feed = _entry(raw)
        except ValueError as exc:
            problems.append(RegistryProblem(position, raw_id if isinstance(raw_id, str) else None, str(exc)))
            continue
        if feed.id in seen_ids:
            problems.append(RegistryProblem(position, feed.id, "duplicate id; the first entry wins"))
            continue
        if feed.url in seen_urls:
            problems.append(RegistryProblem(position, feed.id, f"duplicate url {feed.url}; the first entry wins"))
            continue
        seen_ids.add(feed.id)
        seen_urls.add(feed.url)
        if feed.enabled:
            feeds.append(feed)
    return feeds, problems


def load_registry(path: Path) -> tuple[list[Feed], list[RegistryProblem]]:
    """Load ``path`` (``settings.feeds_file``; relative paths are tried from the cwd, then the repo root)."""
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, Path(__file__).resolve().parents[3] / path]
    for candidate in candidates:
        if candidate.is_file():
            try:
                data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"cannot read feed registry {candidate}: {exc}; "
                                  "fix the file or GOVWATCH_FEEDS_FILE") from exc
            return parse_registry(data)
    raise ConfigError(f"feed registry {path} not found (looked in {', '.join(map(str, candidates))}); "
                      "set GOVWATCH_FEEDS_FILE")
