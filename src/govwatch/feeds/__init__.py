"""Feed polling: registry, parsing, per-feed state and the poller (Prefect-free; flows/ drives it)."""

from govwatch.feeds.poller import FeedOutcome, HostLimiter, Poller, RunSummary, is_transient, poll_all
from govwatch.feeds.registry import Feed, load_registry

__all__ = ["Feed", "FeedOutcome", "HostLimiter", "Poller", "RunSummary", "is_transient", "load_registry", "poll_all"]
