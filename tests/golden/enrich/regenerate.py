"""Rewrite the `expected` part of every golden story from the current enrichment code.

Run after an intended change to the gazetteer, taxonomy or rules, then review the diff:
    .venv/bin/python tests/golden/enrich/regenerate.py && git diff tests/golden/enrich
The story inputs (`source`, `title`, `text`) are never touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from govwatch.enrich.entities import extract_entities
from govwatch.enrich.gazetteer import load_gazetteer
from govwatch.enrich.language import detect_language
from govwatch.enrich.topics import classify, load_taxonomy

HERE = Path(__file__).parent


def expected_for(story: dict[str, Any]) -> dict[str, Any]:
    """The expected block for one story, as the current code computes it."""
    title, text = story["title"], story["text"]
    ents = extract_entities(title, text, load_gazetteer())
    res = classify(title, text, load_taxonomy())
    return {
        "language": detect_language(f"{title}\n{text}"),
        "entities": [{"id": e.id, "name": e.name, "type": e.type, "qid": e.qid, "mentions": e.mentions,
                      "source": e.source, "role": e.role} for e in ents],
        "topics": [t.id for t in res.topics],
        "relevance": round(res.relevance, 2),
        "is_relevant": res.is_relevant,
    }


def story_files() -> list[Path]:
    """Golden story files (the near-duplicate pairs file has its own shape)."""
    return sorted(p for p in HERE.glob("*.json") if p.name != "neardup-pairs.json")


def main() -> None:
    for path in story_files():
        story = json.loads(path.read_text(encoding="utf-8"))
        story["expected"] = expected_for(story)
        path.write_text(json.dumps(story, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"rewrote {path.name}")


if __name__ == "__main__":
    main()
