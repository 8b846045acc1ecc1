"""Entity roles in the message contract and the index document: subjects apart from cited sources."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from tests.factories import enriched_story

from govwatch.adapters.story_index import entities_with_roles, story_document
from govwatch.models import EnrichedStory, EntityRef

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
META = EntityRef(id="Q380", name="Meta Platforms", type="org", qid="Q380")
TECHCRUNCH = EntityRef(id="org.techcrunch", name="TechCrunch", type="org", role="source")
CALIFORNIA_AG = EntityRef(id="person.bonta", name="Rob Bonta", type="person")


def test_an_entity_is_a_subject_unless_said_otherwise() -> None:
    """EntityRef.role defaults to subject, accepts source, and refuses anything else."""
    assert META.role == "subject" and TECHCRUNCH.role == "source"
    with pytest.raises(ValueError, match="role"):
        EntityRef(id="x", name="X", type="org", role="quoted")  # type: ignore[arg-type]


def test_a_message_written_before_roles_still_validates_and_reads_as_subjects() -> None:
    """An enriched story whose entities carry no role (an older producer) passes the model and the committed
    JSON Schema, and its entities read as subjects."""
    data = json.loads(enriched_story("old").to_bytes())
    for entity in data["entities"]:
        del entity["role"]
    jsonschema.validate(data, json.loads((SCHEMAS / "enriched_story.schema.json").read_text()))
    story = EnrichedStory.model_validate(data)
    assert story.entities and {e.role for e in story.entities} == {"subject"}


def test_the_committed_schema_names_the_two_roles() -> None:
    """Other systems read the role's values and default from schemas/enriched_story.schema.json."""
    role = json.loads((SCHEMAS / "enriched_story.schema.json").read_text())["$defs"]["EntityRef"]["properties"]["role"]
    assert role["enum"] == ["subject", "source"] and role["default"] == "subject"
    bad = json.loads(enriched_story("bad").to_bytes())
    bad["entities"][0]["role"] = "quoted"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json.loads((SCHEMAS / "enriched_story.schema.json").read_text()))


def test_index_entity_fields_hold_subjects_and_cited_sources_go_apart() -> None:
    """entities.<type>, entity_ids, entity_names and countries hold subjects; source_ids/source_names the outlet;
    entities_detail keeps every entity with its role."""
    doc = story_document(enriched_story("meta", entities=[META, TECHCRUNCH, CALIFORNIA_AG]))
    assert doc["entities"] == {"org": {"id": ["Q380"], "name": ["Meta Platforms"]},
                               "person": {"id": ["person.bonta"], "name": ["Rob Bonta"]}}
    assert doc["entity_ids"] == ["Q380", "person.bonta"] and doc["entity_names"] == ["Meta Platforms", "Rob Bonta"]
    assert doc["source_ids"] == ["org.techcrunch"] and doc["source_names"] == ["TechCrunch"]
    assert [(e["name"], e["role"]) for e in doc["entities_detail"]] == [
        ("Meta Platforms", "subject"), ("TechCrunch", "source"), ("Rob Bonta", "subject")]


def test_a_story_citing_nobody_has_empty_source_fields() -> None:
    """Without cited sources the source fields are empty lists (the mapping is strict; the keys always exist)."""
    doc = story_document(enriched_story("plain", entities=[META]))
    assert doc["source_ids"] == [] and doc["source_names"] == [] and doc["entity_ids"] == ["Q380"]


@pytest.mark.parametrize("detail", [[{"id": "FR", "name": "France", "type": "country", "mentions": 1}], []])
def test_documents_indexed_before_roles_read_as_subjects(detail: list[dict]) -> None:
    """A stored document whose entities_detail has no role (indexed before roles) reads as all subjects."""
    assert entities_with_roles({"entities_detail": detail}) == [{**e, "role": "subject"} for e in detail]
    assert entities_with_roles({}) == []
