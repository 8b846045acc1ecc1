"""The source health state index (``{prefix}-source-health``): one document per (feed, kind), written
compare-and-set like the spike state, so two overlapping evaluations never open (or close) an incident twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from govwatch.adapters import es_io
from govwatch.alerts.source_health import KINDS
from govwatch.alerts.spike_state import State


def state_key(feed_id: str, kind: str) -> str:
    """The document id of a feed's incident state of one kind."""
    return f"{feed_id}:{kind}"


class HealthStates:
    """The source health state index adapter (client injected)."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    def get(self, feed_id: str, kind: str) -> State:
        """The (feed, kind) state (real-time GET); never evaluated: no incident open."""
        key = state_key(feed_id, kind)
        try:
            resp = self.es.options(ignore_status=404).get(index=self.index, id=key)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "source health state get") from exc
        if not resp.get("found"):
            return State({"key": key, "feed_id": feed_id, "kind": kind, "open": False})
        return State(dict(resp["_source"]), resp["_seq_no"], resp["_primary_term"])

    def put(self, state: State, doc: dict[str, Any]) -> State | None:
        """Write ``doc`` over ``state`` unless someone changed it since it was read (create-only when it had no
        document); the new state, or None when another evaluation wrote first."""
        try:
            if state.seq_no is None:
                resp = self.es.create(index=self.index, id=doc["key"], document=doc)
            else:
                resp = self.es.index(index=self.index, id=doc["key"], document=doc,
                                     if_seq_no=state.seq_no, if_primary_term=state.primary_term)
        except ConflictError:
            return None
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "source health state write") from exc
        return State(doc, resp["_seq_no"], resp["_primary_term"])

    def get_many(self, feed_ids: Sequence[str]) -> dict[tuple[str, str], State]:
        """Every (feed, kind) state of these feeds with its version, as ``get`` gives it, in one real-time
        multi-get."""
        keys = [(f, kind) for f in feed_ids for kind in KINDS]
        if not keys:
            return {}
        try:
            resp = self.es.options(ignore_status=404).mget(index=self.index, ids=[state_key(*k) for k in keys])
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "source health state read") from exc
        out: dict[tuple[str, str], State] = {}
        for (feed_id, kind), doc in zip(keys, resp.get("docs", []), strict=True):
            if doc.get("found"):
                out[(feed_id, kind)] = State(dict(doc["_source"]), doc["_seq_no"], doc["_primary_term"])
            else:
                out[(feed_id, kind)] = State({"key": state_key(feed_id, kind), "feed_id": feed_id, "kind": kind,
                                              "open": False})
        return out

    def many(self, feed_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """The stored states of these feeds by feed id and kind (one real-time multi-get: no refresh needed)."""
        keys = [state_key(f, kind) for f in feed_ids for kind in KINDS]
        if not keys:
            return {}
        try:
            resp = self.es.options(ignore_status=404).mget(index=self.index, ids=keys)
        except Exception as exc:  # translated at the edge
            raise es_io.translate(exc, "source health state read") from exc
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for doc in resp.get("docs", []):
            if doc.get("found"):
                out.setdefault(doc["_source"]["feed_id"], {})[doc["_source"]["kind"]] = doc["_source"]
        return out
