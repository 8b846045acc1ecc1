"""Shared loader for the enrichment golden stories (tests/golden/enrich)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "enrich"


def load_story(name: str) -> dict[str, Any]:
    """One golden story by file stem."""
    return json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))


def all_stories() -> list[dict[str, Any]]:
    """Every golden story, sorted by file name."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(GOLDEN.glob("*.json"))]
