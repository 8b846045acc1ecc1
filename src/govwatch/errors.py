"""One exception tree for govwatch, drawn once.

    GovwatchError
    ├── ConfigError            bad settings or files; fix the configuration (never retried)
    ├── StackError             the local stack could not be provisioned, started or reached
    ├── PermanentError         this input can never succeed: dead-letter it at once
    │   ├── InvalidMessage     a Kafka payload that does not match its schema
    │   ├── FetchRefused       a URL we will not fetch (SSRF guard, scheme, size cap)
    │   │   └── FetchBudgetExceeded  a response that broke a fetch budget (deadline, raw or decoded bytes, headers)
    │   ├── FeedParseError     a feed that yields nothing usable
    │   ├── InvalidQuery       an alert query Elasticsearch (or our policy) rejects
    │   └── DeliveryRejected   a destination that refuses for good (revoked webhook, 404/410)
    └── TransientError         may succeed later: retry with backoff (timeouts, 5xx); retries are bounded
        ├── Unavailable        a dependency (Elasticsearch, Kafka) is unreachable: waited out, never counted
        ├── RateLimited        the peer asked us to wait `retry_after` seconds (waited out, never counted)
        └── Contended          another writer changed what we read meanwhile: retried, never counted

The consumer loop (govwatch.loop) is the one place that acts on this tree: permanent errors go
to the stage's dead-letter topic with their reason; transient ones are retried, and the offset is
not committed until the work is done. Retries of errors that are not outages are bounded: a record that keeps
failing is dead-lettered with the last reason (``RetriesExhausted``) and can be replayed with ``govwatch dlq``.
Adapters translate library exceptions at the edge with ``raise ... from exc`` so nothing above them needs to know
httpx, kafka-python or elasticsearch.
"""

from __future__ import annotations


class GovwatchError(Exception):
    """Base of every error govwatch raises on purpose."""


class ConfigError(GovwatchError):
    """Settings or a data file are wrong; the message names the setting and the fix."""


class StackError(GovwatchError):
    """The local stack (Kafka, Elasticsearch, Prefect) failed; the message says what to do."""


class PermanentError(GovwatchError):
    """Processing this input again will fail again: dead-letter it."""


class InvalidMessage(PermanentError):
    """A message that does not match its contract in schemas/."""


class EnrichmentFailed(PermanentError):
    """Enrichment raised on one story (a bug or a hostile page): dead-letter it, keep the partition moving."""


class FetchRefused(PermanentError):
    """A URL we refuse to fetch (private address, bad scheme, too large, too many redirects)."""


class FetchBudgetExceeded(FetchRefused):
    """A response that broke one of the fetch budgets; ``budget`` names it and the message names its setting."""

    def __init__(self, message: str, budget: str) -> None:
        super().__init__(message)
        self.budget = budget


class FeedParseError(PermanentError):
    """A feed body that could not be parsed into any entry."""


class InvalidQuery(PermanentError):
    """An alert query that Elasticsearch rejects, or that our cost policy refuses."""


class DeliveryRejected(PermanentError):
    """A notification destination that refuses for good (revoked webhook, 404, 410)."""


class TransientError(GovwatchError):
    """A failure that may go away: retry with backoff."""


class Unavailable(TransientError):
    """A dependency cannot be reached at all (connection refused, no broker): wait for it, it is no record's fault."""


class RateLimited(TransientError):
    """The peer asked us to slow down (HTTP 429, ES 429)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Contended(TransientError):
    """Another process changed what this one read before it wrote (a version conflict): retry, re-reading it.

    Never counted towards dead-lettering: each conflict means the other writer made progress, and the record
    itself is fine.
    """
