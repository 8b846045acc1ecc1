"""Generate ``schemas/*.schema.json`` from the message models: ``python -m govwatch_dev.schemas_gen``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from govwatch.models import MESSAGES

REGENERATE = "python -m govwatch_dev.schemas_gen"


def render() -> dict[str, str]:
    """File name -> JSON text for every message schema."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in MESSAGES.items()
    }


def main(argv: list[str] | None = None) -> int:
    target = Path(argv[0] if argv else "schemas")
    target.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {target / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
