"""Re-drive deferred alerts: ledger entries whose ``next_attempt_at`` has come go back to the alerts topic.

The notifier defers an alert whose destination is rate-limited or failing (see ``govwatch.stages.notifier`` for
why the ledger and not a delay topic). Every notify process runs one :class:`RedriveThread`; each round it

1. reads the due entries (``AlertLedger.due``: ``failed`` with ``next_attempt_at`` <= now, soonest first),
2. claims each with a compare-and-set that moves ``next_attempt_at`` one lease ahead (``AlertLedger.claim``): another
   process that read the same entry loses the race and skips it,
3. produces the stored alert to the alerts topic with its usual key (the subscription id) and waits for the ack.

If the process dies between 2 and 3, the lease expires and some re-drive takes the entry again: nothing is lost.
A copy produced twice (a lease that expired while the first copy waited in the topic) is absorbed by the
notifier's status checks: the two copies share a partition, so one notifier handles them one after the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import ValidationError

from govwatch.alerts.ledger import AlertLedger
from govwatch.errors import GovwatchError
from govwatch.log import get_logger
from govwatch.models import Alert, utcnow

log = get_logger("govwatch.redrive")

REDRIVE_EVERY_S = 1.0  # how often due entries are looked for: adds at most this to a recovered alert's delay
CLAIM_LEASE_S = 120.0  # a claimed entry is left alone this long: far longer than producing it takes
REDRIVE_BATCH = 500  # entries per round; more wait for the next round (a second later)

Produce = Callable[[Alert], None]  # sends one alert to the alerts topic and waits for the ack


class Redriver:
    """One round of re-driving; ``produce`` and the clock injected."""

    def __init__(self, ledger: AlertLedger, produce: Produce, *, lease_s: float = CLAIM_LEASE_S,
                 batch: int = REDRIVE_BATCH, clock: Callable[[], datetime] = utcnow) -> None:
        self.ledger = ledger
        self.produce = produce
        self.lease_s = lease_s
        self.batch = batch
        self.clock = clock

    def run_once(self) -> int:
        """Re-drive what is due now; returns how many alerts were produced."""
        now = self.clock()
        produced = 0
        for hit in self.ledger.due(now, self.batch):
            if not self.ledger.claim(hit, now + timedelta(seconds=self.lease_s)):
                continue  # another notifier process took it, or it changed meanwhile
            source = hit["_source"]
            try:
                alert = Alert.model_validate(source.get("alert"))
            except ValidationError as exc:  # one unreadable entry must not stop the re-drive of all the others
                reason = f"stored alert unreadable, cannot be re-driven: {exc.errors()[0].get('msg', exc)}"
                self.ledger.mark_failed(hit["_id"], reason, int(source.get("attempts") or 0), True, now)
                log.error("redrive_unreadable", alert_id=str(hit["_id"])[:16], reason=reason[:300])
                continue
            self.produce(alert)  # a failure ends the round: claimed entries come back when their lease expires
            produced += 1
            log.info("redriven", alert_id=alert.alert_id[:16], subscription=alert.subscription_id,
                     attempts=hit["_source"].get("attempts"), last_error=str(hit["_source"].get("last_error"))[:200])
        return produced


class RedriveThread:
    """Runs :meth:`Redriver.run_once` every ``every_s`` seconds in a daemon thread until :meth:`stop`."""

    def __init__(self, redriver: Redriver, every_s: float = REDRIVE_EVERY_S) -> None:
        self.redriver = redriver
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-redrive", daemon=True)

    def start(self) -> RedriveThread:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:  # a daemon: a round stuck on Kafka must not hold the exit
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.redriver.run_once()
            except GovwatchError as exc:  # Elasticsearch or Kafka away: the entries wait for the next round
                log.warning("redrive_retry", error=f"{type(exc).__name__}: {exc}"[:300])
            except Exception as exc:  # a bug must not end re-driving for the process's lifetime
                log.error("redrive_failed", error=f"{type(exc).__name__}: {exc}"[:300], exc_info=True)


def kafka_produce(producer: object, topic: str, timeout_s: float = 30.0) -> Produce:
    """A ``Produce`` over a KafkaProducer: key = subscription id (the alert's partition), waits for the ack."""

    def produce(alert: Alert) -> None:
        send = producer.send  # type: ignore[attr-defined]
        send(topic, key=alert.subscription_id.encode(), value=alert.to_bytes()).get(timeout=timeout_s)

    return produce
