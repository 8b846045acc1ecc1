"""Source health (pure): when a feed counts as failing, silent or drifting, and when it has healed.

Three conditions per feed, each an incident of its own (kind ``failing``, ``silent``, ``extraction``):

* **failing**: its polls fail (``consecutive_failures`` > 0) and have failed for longer than ``fail_after_s``,
  counted from its last success (or, for a feed that never succeeded, from the first evaluation that saw it
  failing). Healed by one successful poll.
* **silent**: its polls succeed but its newest story was first seen longer ago than ``max(silence_factor x typical
  gap, silence_floor_s)``, the typical gap being the median gap between its last ``gap_window`` stories (by
  ``trace.first_seen_at``: when we saw them, as feeds' own dates can lie). Fewer than ``min_gaps`` gaps: no
  opinion. Not judged while the feed is failing (that incident says it all). Healed by a new story.
* **extraction**: the share of its stories whose text came from the page (``extraction_status`` extracted or
  extracted_fallback; ``feed_content``, ``feed_summary`` and ``empty`` fell back to the feed text) was at least
  ``drift_before_min`` over the ``before_days`` days before the last 24 h and is at most ``drift_today_max`` in the
  last 24 h, each side with at least ``drift_min_stories`` stories. Healed when the last 24 h are back to at least
  ``drift_recover_min`` (same minimum): hysteresis, so a share that hovers near the trigger does not flap. A feed
  whose stories always fall back (one that ships fuller text than its pages) never alerts: only a drop counts.

``decide`` maps (incident open?, condition) to an action: ``open`` (announce once), ``recover`` (announce the
recovery once), ``hold`` or ``quiet``. A condition of None (not enough data) never opens nor closes an incident.
Incident ids are sha256(feed, kind, opened-at): the alert ledger keys of the two messages derive from them.
"""

from __future__ import annotations

import hashlib
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Kind = Literal["failing", "silent", "extraction"]
KINDS: tuple[Kind, ...] = ("failing", "silent", "extraction")
Action = Literal["open", "recover", "hold", "quiet"]
PAGE_STATUSES = frozenset({"extracted", "extracted_fallback"})
DAY = timedelta(days=1)


@dataclass(frozen=True)
class HealthPolicy:
    """The settings ``GOVWATCH_SOURCE_HEALTH_*`` (README "Source health")."""

    fail_after_s: float = 6 * 3600
    silence_factor: float = 4.0
    silence_floor_s: float = 12 * 3600
    gap_window: int = 20
    min_gaps: int = 3
    drift_before_min: float = 0.9
    drift_today_max: float = 0.1
    drift_recover_min: float = 0.5
    drift_min_stories: int = 5
    before_days: int = 7


@dataclass(frozen=True)
class Extraction:
    """Stories of a feed by where their text came from, in one period."""

    page: int = 0
    total: int = 0

    @property
    def share(self) -> float | None:
        """The share extracted from the page, or None without stories."""
        return self.page / self.total if self.total else None


@dataclass(frozen=True)
class Verdict:
    """One condition's value (True / False / None: no opinion) and the reason in words."""

    condition: bool | None
    reason: str


def typical_gap_s(seen: Sequence[datetime], window: int) -> float | None:
    """Median gap in seconds between the newest ``window`` distinct times, or None with fewer than two."""
    times = sorted(set(seen), reverse=True)[:window]
    if len(times) < 2:
        return None
    return statistics.median((a - b).total_seconds() for a, b in itertools.pairwise(times))


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


def failing(consecutive_failures: int, failing_since: datetime | None, last_error: str | None, now: datetime,
            policy: HealthPolicy) -> Verdict:
    """Has the feed failed for longer than ``fail_after_s``? (``failing_since``: last success, else first seen
    failing.)"""
    if consecutive_failures <= 0:
        return Verdict(False, "its last poll succeeded")
    if failing_since is None:
        return Verdict(None, "failing, since an unknown time")
    for_s = (now - failing_since).total_seconds()
    reason = (f"every poll has failed for {_duration(for_s)} ({consecutive_failures} in a row; limit "
              f"{_duration(policy.fail_after_s)}); last error: {(last_error or 'unknown')[:200]}")
    return Verdict(for_s > policy.fail_after_s, reason)


def silence_limit_s(gap_s: float, policy: HealthPolicy) -> float:
    """How long a feed with this typical gap may stay silent."""
    return max(policy.silence_factor * gap_s, policy.silence_floor_s)


def silent(seen: Sequence[datetime], poll_failing: bool, now: datetime, policy: HealthPolicy) -> Verdict:
    """Has the feed published nothing new for much longer than its own typical gap?"""
    if poll_failing:
        return Verdict(None, "not judged while its polls fail")
    gap = typical_gap_s(seen, policy.gap_window)
    distinct = len(set(seen))
    if gap is None or distinct - 1 < policy.min_gaps:
        return Verdict(None, f"too little history ({distinct} stories) to know its usual interval")
    quiet_s = (now - max(seen)).total_seconds()
    limit = silence_limit_s(gap, policy)
    reason = (f"no new story for {_duration(quiet_s)}; it usually publishes every {_duration(gap)} (median of its "
              f"last {min(distinct, policy.gap_window)} stories), limit {_duration(limit)}")
    return Verdict(quiet_s > limit, reason)


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def extraction_drift(before: Extraction, today: Extraction, incident_open: bool, policy: HealthPolicy) -> Verdict:
    """Did the share of stories extracted from the page drop over the last day (or, once dropped, stay down)?"""
    reason = (f"{_pct(today.share)} of its last 24 h stories ({today.page}/{today.total}) were extracted from the "
              f"page, against {_pct(before.share)} ({before.page}/{before.total}) the {policy.before_days} days "
              f"before; the rest fell back to the feed text")
    if today.total < policy.drift_min_stories or today.share is None:
        return Verdict(None, reason)
    if incident_open:  # stays open until the page extraction is back
        return Verdict(today.share < policy.drift_recover_min, reason)
    if before.total < policy.drift_min_stories or before.share is None:
        return Verdict(None, reason)
    return Verdict(before.share >= policy.drift_before_min and today.share <= policy.drift_today_max, reason)


def decide(incident_open: bool, condition: bool | None) -> Action:
    """open / recover / hold / quiet; an unknown condition changes nothing."""
    if condition is None:
        return "hold" if incident_open else "quiet"
    if incident_open:
        return "hold" if condition else "recover"
    return "open" if condition else "quiet"


def incident_id(feed_id: str, kind: Kind, opened_at: datetime) -> str:
    """The incident's id (create-only key of its state and, with a suffix, of its two messages)."""
    return hashlib.sha256(f"{feed_id}\x1f{kind}\x1f{opened_at.isoformat()}".encode()).hexdigest()


def message_id(incident: str, which: Literal["open", "recovered"]) -> str:
    """The alert ledger key of an incident's opening or recovery message."""
    return hashlib.sha256(f"{incident}\x1f{which}".encode()).hexdigest()


def periods(now: datetime, policy: HealthPolicy) -> tuple[datetime, datetime, datetime]:
    """(start of the 'before' period, start of the last 24 h, now): rolling, so a calendar day or month boundary
    changes nothing."""
    today_start = now - DAY
    return today_start - policy.before_days * DAY, today_start, now
