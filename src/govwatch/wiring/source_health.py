"""The source health evaluation's clients (``govwatch sources run`` and the scheduled ``source-health`` flow) and
the per-feed overview read by ``govwatch sources list|show`` and the web app's source pages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch
from kafka.errors import KafkaError

from govwatch.adapters.feed_stores import KafkaStateStore
from govwatch.adapters.kafka_io import ACK_TIMEOUT_S
from govwatch.adapters.kafka_topics import ALERTS, FEED_STATE
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.source_health import HealthPolicy
from govwatch.alerts.source_health_run import HealthContext, evaluate_all, measure_many, overview
from govwatch.alerts.source_health_state import HealthStates
from govwatch.alerts.store import SubscriptionStore
from govwatch.errors import ConfigError, GovwatchError, TransientError
from govwatch.feeds.registry import load_registry
from govwatch.feeds.state import FeedState
from govwatch.models import Alert, utcnow
from govwatch.settings import Settings
from govwatch.wiring.clients import elasticsearch, producer_session


def policy(settings: Settings) -> HealthPolicy:
    """The decision settings."""
    return HealthPolicy(fail_after_s=settings.source_health_fail_after_s,
                        silence_factor=settings.source_health_silence_factor,
                        silence_floor_s=settings.source_health_silence_floor_s,
                        drift_before_min=settings.source_health_drift_before_min,
                        drift_today_max=settings.source_health_drift_today_max,
                        drift_recover_min=settings.source_health_drift_recover_min,
                        drift_min_stories=settings.source_health_min_stories)


def feeds(settings: Settings) -> list[tuple[str, str]]:
    """(id, name) of every enabled feed of the registry."""
    registry, _problems = load_registry(settings.feeds_file)
    return [(f.id, f.name) for f in registry if f.enabled]


def poll_states(settings: Settings) -> dict[str, FeedState]:
    """Every feed's latest poll state, read from the compacted ``feeds.state`` topic."""
    with producer_session(settings) as producer:  # the store's writer; unused here
        return KafkaStateStore(settings, settings.topic(FEED_STATE), producer, decode=FeedState.from_bytes,
                               new=FeedState).load()


def _no_publish(alerts: Sequence[Alert]) -> None:
    raise ConfigError("a source health overview announces nothing")


@contextmanager
def health_context(settings: Settings) -> Iterator[tuple[HealthContext, dict[str, FeedState]]]:
    """The evaluation's clients (one Kafka producer, closed after) and every feed's poll state."""
    es = elasticsearch(settings)
    polls = poll_states(settings)
    with producer_session(settings) as producer:
        topic = settings.topic(ALERTS)

        def publish(alerts: Sequence[Alert]) -> None:
            try:
                futures = [producer.send(topic, key=a.subscription_id.encode(), value=a.to_bytes()) for a in alerts]
                for future in futures:
                    future.get(timeout=ACK_TIMEOUT_S)
            except KafkaError as exc:  # the message stays pending in the state: the next evaluation produces it
                raise TransientError(f"could not produce the source health alert: {exc}") from exc

        ops_id = settings.source_health_subscription
        ops = SubscriptionStore(es, settings.index("subscriptions")).get(ops_id) if ops_id else None
        yield HealthContext(es, settings.index("stories"), HealthStates(es, settings.index("source-health")),
                            AlertLedger(es, settings.index("alert-ledger")), publish, ops,
                            settings.source_health_web_base, policy(settings),
                            timeout_s=settings.spike_search_timeout_s), polls


def run_source_health(settings: Settings, now: datetime | None = None) -> str:
    """Evaluate every enabled feed at ``now`` (default: the clock); the run's summary."""
    with health_context(settings) as (ctx, polls):
        return evaluate_all(ctx, feeds(settings), polls, now or utcnow()).render()


def overviews(settings: Settings, now: datetime | None = None, only: str | None = None,
              es: Elasticsearch | None = None) -> list[dict[str, Any]]:
    """Each enabled feed's state (or only the feed ``only``): poll, stories, extraction, open incidents."""
    at = now or utcnow()
    client = es or elasticsearch(settings)
    ctx = HealthContext(client, settings.index("stories"), HealthStates(client, settings.index("source-health")),
                        AlertLedger(client, settings.index("alert-ledger")), _no_publish, None,
                        settings.source_health_web_base, policy(settings), timeout_s=settings.spike_search_timeout_s)
    chosen = [(f, n) for f, n in feeds(settings) if only is None or f == only]
    if not chosen:
        return []
    polls = poll_states(settings)
    stored = ctx.states.many([f for f, _ in chosen])
    measured = measure_many(ctx, chosen, polls, at)
    out = []
    for feed_id, _ in chosen:
        facts = measured[feed_id]
        if isinstance(facts, GovwatchError):  # the page or the CLI says what failed
            raise facts
        out.append(overview(facts, stored.get(feed_id, {}), ctx.policy))
    return out
