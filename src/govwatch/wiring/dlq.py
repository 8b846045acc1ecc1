"""``govwatch dlq replay``: dead letters produced again to their topics; a replayed alert's ledger entry reopened."""

from __future__ import annotations

from collections.abc import Sequence

from govwatch.adapters.dead_letters import ReplaySummary, replay
from govwatch.alerts.ledger import AlertLedger
from govwatch.models import DeadLetter, utcnow
from govwatch.settings import Settings
from govwatch.wiring.clients import elasticsearch, producer_session


def replay_letters(settings: Settings, letters: Sequence[DeadLetter]) -> ReplaySummary:
    """Produce ``letters`` again (the alert ledger reopens each replayed alert); the replay's summary."""
    ledger = AlertLedger(elasticsearch(settings), settings.index("alert-ledger"))
    with producer_session(settings) as producer:
        return replay(letters, producer, lambda aid: ledger.reopen(aid, utcnow()))
