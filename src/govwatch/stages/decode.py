"""Decoding Kafka records into message models; a bad payload is a permanent, per-record error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from govwatch.errors import InvalidMessage, PermanentError

M = TypeVar("M")


def decode_all(records: Sequence[Any], model: type[M]) -> tuple[list[tuple[int, M]], dict[int, PermanentError]]:
    """Parse every record's value as ``model``; returns (position, message) pairs and rejections."""
    good: list[tuple[int, M]] = []
    bad: dict[int, PermanentError] = {}
    for i, rec in enumerate(records):
        try:
            good.append((i, model.from_bytes(rec.value)))  # type: ignore[attr-defined]
        except (ValidationError, ValueError, TypeError) as exc:
            first = exc.errors()[0] if isinstance(exc, ValidationError) else {"msg": str(exc), "loc": ()}
            where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
            bad[i] = InvalidMessage(f"not a valid {model.__name__}: {where}: {first.get('msg')}")
    return good, bad
