"""The spike evaluation (``govwatch spikes run`` and the scheduled ``spikes`` flow): every rule measured and decided,
fired spikes recorded in the alert ledger and produced to the alerts topic for the notifier."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from kafka.errors import KafkaError

from govwatch.adapters import event_index
from govwatch.adapters.kafka_io import ACK_TIMEOUT_S
from govwatch.adapters.kafka_topics import ALERTS
from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.spike_run import SpikeContext, evaluate_all
from govwatch.alerts.spike_state import SpikeStates
from govwatch.alerts.store import SubscriptionStore
from govwatch.errors import TransientError
from govwatch.models import Alert, utcnow
from govwatch.settings import Settings
from govwatch.wiring.clients import elasticsearch, producer_session


@contextmanager
def spike_context(settings: Settings) -> Iterator[SpikeContext]:
    """The evaluation's clients (one Kafka producer, closed after)."""
    es = elasticsearch(settings)
    with producer_session(settings) as producer:
        topic = settings.topic(ALERTS)

        def publish(alerts: Sequence[Alert]) -> None:
            try:
                futures = [producer.send(topic, key=a.subscription_id.encode(), value=a.to_bytes()) for a in alerts]
                for future in futures:
                    future.get(timeout=ACK_TIMEOUT_S)
            except KafkaError as exc:  # the spike stays recorded unannounced: the next evaluation produces it
                raise TransientError(f"could not produce the spike alert: {exc}") from exc

        yield SpikeContext(es, settings.index("stories"), event_index.index_name(settings.index_prefix),
                           SpikeStates(es, settings.index("spike-state")),
                           AlertLedger(es, settings.index("alert-ledger")), publish,
                           top=settings.spike_top_stories, timeout_s=settings.spike_search_timeout_s)


def run_spikes(settings: Settings, now: datetime | None = None) -> str:
    """Evaluate every active subscription's spike rule at ``now`` (default: the clock); the run's summary."""
    with spike_context(settings) as ctx:
        subs = SubscriptionStore(ctx.es, settings.index("subscriptions")).with_spike()
        return evaluate_all(ctx, subs, now or utcnow()).render()
