"""The spike state index (``{prefix}-spike-state``): one document per rule, written compare-and-set.

Two evaluations that overlap (a slow flow run and the next one) both read the state with its ``_seq_no``; only one
write wins, the other is told (``False``) and leaves the rule to the winner, so a spike is never decided twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from govwatch.adapters import es_io


@dataclass(frozen=True)
class State:
    """A rule's stored state and the version it was read at (``seq_no`` None: no document yet)."""

    doc: dict[str, Any]
    seq_no: int | None = None
    primary_term: int | None = None

    @property
    def armed(self) -> bool:
        return bool(self.doc.get("armed", True))


class SpikeStates:
    """The spike state index adapter (client injected)."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    def get(self, rule_id: str) -> State:
        """The rule's state (real-time GET); a rule never evaluated is armed."""
        try:
            resp = self.es.options(ignore_status=404).get(index=self.index, id=rule_id)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "spike state get") from exc
        if not resp.get("found"):
            return State({"rule_id": rule_id, "armed": True})
        return State(dict(resp["_source"]), resp["_seq_no"], resp["_primary_term"])

    def put(self, state: State, doc: dict[str, Any]) -> State | None:
        """Write ``doc`` over ``state`` if nobody changed it since it was read (create-only when it had no
        document); the new state, or None when another evaluation wrote first."""
        try:
            if state.seq_no is None:
                resp = self.es.create(index=self.index, id=doc["rule_id"], document=doc)
            else:
                resp = self.es.index(index=self.index, id=doc["rule_id"], document=doc,
                                     if_seq_no=state.seq_no, if_primary_term=state.primary_term)
        except ConflictError:
            return None
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "spike state write") from exc
        return State(doc, resp["_seq_no"], resp["_primary_term"])

    def all(self, limit: int = 1000) -> dict[str, dict[str, Any]]:
        """Every rule's state by rule id (for ``govwatch spikes list``)."""
        try:
            resp = self.es.options(ignore_status=404).search(index=self.index, size=limit,
                                                             query={"match_all": {}})
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "spike state list") from exc
        return {h["_id"]: h["_source"] for h in resp.get("hits", {}).get("hits", [])}
