"""What one batch's matching produces: the matches, the faults of the subscriptions that could not be judged, and the
counters of the work done (``MatchStats``), shared by the planning, searching and snippet steps of ``matcher``."""

from __future__ import annotations

from dataclasses import dataclass, field

from govwatch.log import get_logger

log = get_logger("govwatch.alerts.matcher")  # every step of matching logs under the one name


@dataclass(frozen=True)
class Match:
    """One (subscription, story) pair Elasticsearch returned, with the highlighted snippet."""

    subscription_id: str
    story_id: str
    snippet: str = ""


@dataclass(frozen=True)
class Fault:
    """A subscription the matcher had to skip (or snippet without) in this batch, and why."""

    subscription_id: str
    stage: str  # prefilter, body, search, timeout, snippet
    reason: str


@dataclass
class MatchStats:
    subscriptions: int = 0
    searches_sent: int = 0  # all searches, both passes
    round_trips: int = 0  # _msearch requests, both passes
    combined_searches: int = 0  # pass 1, including retries after splits
    snippet_searches: int = 0  # pass 2
    splits: int = 0  # combined searches refused and split in halves
    woken: int = 0  # subscriptions the candidate index woke (all of them without an index)
    planned: int = 0  # subscriptions left after the pre-filter
    fetch_s: float = 0.0  # wall time of the story fetch (only when match_batch fetches)
    prefilter_cpu_s: float = 0.0  # candidate index + pre-filter, this thread's CPU
    pass1_s: float = 0.0  # wall time of pass 1 (building bodies, Elasticsearch, reading answers)
    pass1_cpu_s: float = 0.0  # this thread's CPU in pass 1 (request bodies, JSON, answers)
    snippet_s: float = 0.0  # wall time of the snippets (local or searched)
    errors: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)  # one per subscription skipped (or snippet lost) this batch
    prefilter_fallbacks: int = 0  # pre-filter checks that failed: the subscription was sent to ES for every story


def describe(exc: BaseException) -> str:
    """The exception's type and first line: stable from batch to batch (the flag is re-written only when it changes)."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def record_fault(stats: MatchStats, sub_id: str, stage: str, reason: str) -> None:
    """Count, log and keep a subscription's fault (the alert stage flags it on the subscription)."""
    stats.faults.append(Fault(sub_id, stage, reason))
    stats.errors.append(f"{sub_id}: {reason}")
    log.warning("subscription_failed", subscription_id=sub_id, stage=stage, reason=reason)
