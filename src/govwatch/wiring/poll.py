"""The poll process: Settings -> a ready Poller (registry loaded, state rebuilt from Kafka, published ids,
publisher, and the parser pool whose worker processes end with the runtime).

Used by the Prefect flow (govwatch_flows.poll_feeds) and the benchmark so that each of them stays a few lines long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from govwatch.adapters import kafka_io
from govwatch.adapters.feed_stores import EsPublishedIds, KafkaPublisher, KafkaStateStore
from govwatch.adapters.fetch import Fetcher
from govwatch.adapters.kafka_partition import KeyHashPartitioner
from govwatch.adapters.kafka_topics import FEED_STATE, RAW
from govwatch.adapters.ssrf import Resolver, system_resolver
from govwatch.feeds.parser_pool import ParserPool
from govwatch.feeds.poller import HostLimiter, Poller
from govwatch.feeds.registry import Feed, RegistryProblem, load_registry
from govwatch.feeds.state import FeedState
from govwatch.log import get_logger
from govwatch.settings import Settings
from govwatch.wiring.clients import elasticsearch

log = get_logger("govwatch.poll")


@dataclass
class PollRuntime:
    poller: Poller
    feeds: list[Feed]
    problems: list[RegistryProblem]
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


def build_runtime(settings: Settings, resolver: Resolver = system_resolver,
                  limiter: HostLimiter | None = None) -> PollRuntime:
    """Load the registry (reporting bad entries), rebuild feed state from Kafka, connect the sinks."""
    feeds, problems = load_registry(settings.feeds_file)
    for problem in problems:
        log.warning("feed_registry_problem", position=problem.position, feed_id=problem.feed_id,
                    reason=problem.reason)
    # Same partitions as kafka-python's default partitioner, with a cheaper hash (20 records per feed).
    producer = kafka_io.make_producer(settings, partitioner=KeyHashPartitioner())
    fetcher = Fetcher(settings, resolver=resolver, max_connections=max(settings.poll_concurrency * 2, 10))
    es = elasticsearch(settings)
    states = KafkaStateStore(settings, settings.topic(FEED_STATE), producer, decode=FeedState.from_bytes, new=FeedState)
    states.load()
    parser = ParserPool()
    poller = Poller(settings, fetcher, states, EsPublishedIds(es, settings.index("published")),
                    KafkaPublisher(producer, settings.topic(RAW)), parser, limiter=limiter)
    return PollRuntime(poller, feeds, problems, [parser.close, producer.close, es.close, fetcher.close])
