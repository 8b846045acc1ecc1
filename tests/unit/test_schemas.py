"""Message contracts: committed JSON Schemas match the models; messages round-trip and validate."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError
from tests.factories import enriched_story, raw_story

from govwatch.models import MESSAGES, RawStory
from govwatch_dev.schemas_gen import REGENERATE, render

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize("name", sorted(render()))
def test_committed_schema_matches_model(name: str) -> None:
    """The schema file in schemas/ equals what the model generates (else: run the regenerate command)."""
    committed = (SCHEMAS / name).read_text(encoding="utf-8") if (SCHEMAS / name).exists() else ""
    assert committed == render()[name], f"schemas/{name} is stale; regenerate with: {REGENERATE}"


def test_messages_validate_against_their_schema() -> None:
    """A serialised raw and enriched story validate against the committed JSON Schemas (what other systems read)."""
    for name, msg in (("raw_story", raw_story(1)), ("enriched_story", enriched_story(2))):
        schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        jsonschema.validate(json.loads(msg.to_bytes()), schema)


def test_roundtrip_and_trace_fields() -> None:
    """Every message carries schema_version, story id and trace timestamps, and survives bytes round-trips."""
    msg = enriched_story(3)
    again = type(msg).from_bytes(msg.to_bytes())
    assert again == msg
    assert again.schema_version == 1 and again.story_id == msg.raw.story_id
    assert set(again.trace.model_dump()) >= {"first_seen_at", "enriched_at", "indexed_at", "alerted_at"}
    assert set(MESSAGES) == {"raw_story", "enriched_story", "indexed_batch", "alert", "dead_letter"}


def test_bad_story_id_is_rejected() -> None:
    """A raw story whose id is not a sha256 hex digest violates the contract."""
    with pytest.raises(ValidationError, match="story_id"):
        RawStory.from_bytes(raw_story(1).to_bytes().replace(raw_story(1).story_id.encode(), b"not-a-hash"))
