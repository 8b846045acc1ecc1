"""The fields a data view sees, read from the mappings in schemas/elasticsearch (never a second copy).

Every field a panel, control, pill or saved search names is checked here when the objects are
generated, so a mapping change that removes or retypes a field fails generation instead of shipping
a panel that breaks only when Kibana renders it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from govwatch.adapters import es_io
from govwatch.errors import ConfigError

AGGREGATABLE = frozenset({"keyword", "date", "boolean", "integer", "long", "float", "double", "short", "byte"})
MAPPINGS = {"stories": "stories.template.json", "ledger": "alert-ledger.index.json", "events": "events.template.json",
            "health": "source-health.index.json"}


def _walk(properties: dict[str, Any], prefix: str, out: dict[str, dict[str, Any]]) -> None:
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            _walk(spec["properties"], f"{path}.", out)
            continue
        kind = spec.get("type", "object")
        out[path] = {"type": kind, "aggregatable": kind in AGGREGATABLE and spec.get("doc_values", True)
                     and spec.get("enabled", True)}
        for sub, sub_spec in spec.get("fields", {}).items():
            out[f"{path}.{sub}"] = {"type": sub_spec["type"], "aggregatable": sub_spec["type"] in AGGREGATABLE}


@cache
def mapped_fields(data_view: str) -> dict[str, dict[str, Any]]:
    """``{field path: {"type", "aggregatable"}}`` of the stories or events template, the ledger or source-health
    mapping."""
    body = es_io.load_schema(MAPPINGS[data_view], "govwatch")
    mappings = body["template"]["mappings"] if "template" in body else body["mappings"]
    out: dict[str, dict[str, Any]] = {}
    _walk(mappings["properties"], "", out)
    return out


def field_types(data_view: str) -> dict[str, str]:
    return {name: spec["type"] for name, spec in mapped_fields(data_view).items()}


def require(data_view: str, name: str, *, aggregatable: bool, used_by: str) -> None:
    """Raise ConfigError unless ``name`` is mapped in ``data_view`` (and aggregatable when asked)."""
    spec = mapped_fields(data_view).get(name)
    if spec is None:
        raise ConfigError(f"{used_by} uses field {name!r}, which the {data_view} mapping does not have: "
                          f"add it to schemas/elasticsearch/{MAPPINGS[data_view]} or change the panel")
    if aggregatable and not spec["aggregatable"]:
        raise ConfigError(f"{used_by} aggregates field {name!r} of type {spec['type']}, which Kibana cannot "
                          "aggregate: use its keyword sub-field or a keyword/date/numeric/boolean field")
