"""Saved objects (data views, saved searches, dashboards) generated from the specs, and their NDJSON.

Import format: one object per line with ``type``, ``id``, ``attributes``, ``references`` and the
migration stamps. Objects are stamped at the oldest Kibana they are written for (8.8.0, the first 8.x
with ``coreMigrationVersion``/``typeMigrationVersion``): Kibana migrates older objects forward and
refuses objects newer than itself. Lens panels are stored by value inside the dashboard (as Elastic's
own integrations do), each layer's data view repeated as a dashboard reference
``<panelIndex>:indexpattern-datasource-layer-<layerId>``.
"""

from __future__ import annotations

import json
from typing import Any

from govwatch.errors import ConfigError
from govwatch.kibana import fields
from govwatch.kibana.dashboards import DASHBOARDS
from govwatch.kibana.lens import layer_id, layer_ref_name, lens_attributes, stable_id
from govwatch.kibana.panels import Control, Dashboard, Panel, Pill, SavedSearch

KIBANA_MIN_VERSION = "8.8.0"  # coreMigrationVersion of every object: the oldest Kibana that imports them
TYPE_MIGRATION = {"index-pattern": "8.0.0", "search": "8.0.0", "dashboard": "8.7.0"}
GRID_COLUMNS = 48  # a Kibana dashboard row is 48 grid units wide
# The source-health view has no time field on purpose: its documents are current state (one per feed and
# kind), and an incident opened before the picked time range is still open; a time field would hide it.
TIME_FIELDS = {"stories": "@timestamp", "ledger": "matched_at", "events": "first_seen"}
DATA_VIEWS = ("stories", "ledger", "events", "health")
_ID_SUFFIX = {"stories": "stories", "ledger": "alert-ledger", "events": "events", "health": "source-health"}
_NAMES = {"stories": "govwatch stories", "ledger": "govwatch alert ledger", "events": "govwatch events",
          "health": "govwatch source health"}
_REDUCED_TIME_RANGES = ("30s", "1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "7d", "30d")  # Lens's


def data_view_id(prefix: str, data_view: str) -> str:
    """Fixed data-view ids (``<prefix>-stories``, ``<prefix>-alert-ledger``, ``<prefix>-events``,
    ``<prefix>-source-health``): links and imports stay stable."""
    return f"{prefix}-{_ID_SUFFIX[data_view]}"


def data_view_pattern(prefix: str, data_view: str) -> str:
    """The index pattern: every monthly stories index, or the ledger, events or source-health index."""
    return f"{prefix}-stories*" if data_view == "stories" else f"{prefix}-{_ID_SUFFIX[data_view]}"


def dashboard_id(prefix: str, dashboard: Dashboard) -> str:
    return f"{prefix}-{dashboard.key}"


def search_id(prefix: str, search: SavedSearch) -> str:
    return f"{prefix}-{search.key}"


def _stamp(obj: dict[str, Any]) -> dict[str, Any]:
    obj["coreMigrationVersion"] = KIBANA_MIN_VERSION
    obj["typeMigrationVersion"] = TYPE_MIGRATION[obj["type"]]
    obj["managed"] = False
    return obj


def _data_view(prefix: str, data_view: str) -> dict[str, Any]:
    formats = {"url": {"id": "url"}} if data_view == "stories" else {}
    attributes = {"title": data_view_pattern(prefix, data_view), "name": _NAMES[data_view], "allowNoIndex": True,
                  "fields": "[]", "fieldFormatMap": json.dumps(formats), "runtimeFieldMap": "{}", "typeMeta": "{}"}
    if data_view in TIME_FIELDS:
        attributes["timeFieldName"] = TIME_FIELDS[data_view]
    return _stamp({"type": "index-pattern", "id": data_view_id(prefix, data_view), "attributes": attributes,
                   "references": []})


def _search(prefix: str, search: SavedSearch, data_view: str) -> dict[str, Any]:
    for column in search.columns:
        fields.require(data_view, column, aggregatable=False, used_by=f"saved search {search.key!r}")
    source = {"query": {"query": search.query, "language": "lucene"}, "filter": [],
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return _stamp({
        "type": "search", "id": search_id(prefix, search),
        "attributes": {"title": search.title, "description": "", "columns": list(search.columns),
                       "sort": [list(pair) for pair in search.sort], "hits": 0, "version": 1, "grid": {},
                       "hideChart": False, "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}},
        "references": [{"type": "index-pattern", "id": data_view_id(prefix, data_view),
                        "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}],
    })


def _check_panel(panel: Panel, data_view: str) -> None:
    for bucket in panel.buckets:
        fields.require(data_view, bucket.field, aggregatable=True, used_by=f"panel {panel.key!r}")
    for metric in panel.metrics:
        if metric.field:
            fields.require(data_view, metric.field, aggregatable=True, used_by=f"panel {panel.key!r}")
        if metric.last and metric.last not in _REDUCED_TIME_RANGES:
            raise ConfigError(f"panel {panel.key!r} narrows a metric to the last {metric.last!r}, which Lens does "
                              f"not offer: use one of {', '.join(_REDUCED_TIME_RANGES)}")
        if metric.last and any(b.kind == "date_histogram" for b in panel.buckets):
            raise ConfigError(f"panel {panel.key!r} has a reduced time range beside a date histogram, which Lens "
                              "refuses: drop the date histogram or the metric's `last`")
        if metric.last and data_view not in TIME_FIELDS:
            raise ConfigError(f"panel {panel.key!r} has a reduced time range on the {data_view} data view, which "
                              "has no time field: drop the metric's `last`")


def _layout(sizes: list[tuple[int, int]]) -> list[dict[str, int]]:
    """Left-to-right, top-to-bottom packing on the 48-unit grid."""
    out, x, y, row_h = [], 0, 0, 0
    for w, h in sizes:
        if x + w > GRID_COLUMNS:
            x, y, row_h = 0, y + row_h, 0
        out.append({"x": x, "y": y, "w": w, "h": h})
        x, row_h = x + w, max(row_h, h)
    return out


def _pill(pill: Pill, index: int) -> dict[str, Any]:
    return {"meta": {"alias": None, "negate": False, "disabled": pill.disabled, "type": "phrase",
                     "key": pill.field, "params": {"query": pill.value},
                     "indexRefName": f"kibanaSavedObjectMeta.searchSourceJSON.filter[{index}].meta.index"},
            "query": {"match_phrase": {pill.field: pill.value}}, "$state": {"store": "appState"}}


def _controls(controls: tuple[Control, ...], dv: str) -> dict[str, Any]:
    panels = {}
    for order, control in enumerate(controls):
        cid = stable_id(control.key, "control")
        panels[cid] = {"order": order, "width": "medium", "grow": True, "type": "optionsListControl",
                       "explicitInput": {"id": cid, "title": control.title, "fieldName": control.field,
                                         "dataViewId": dv, "selectedOptions": [], "enhancements": {}}}
    return {"controlStyle": "oneLine", "chainingSystem": "HIERARCHICAL", "panelsJSON": json.dumps(panels),
            "ignoreParentSettingsJSON": json.dumps({"ignoreFilters": False, "ignoreQuery": False,
                                                    "ignoreTimerange": False, "ignoreValidations": False})}


def _dashboard(prefix: str, dashboard: Dashboard) -> dict[str, Any]:
    dv = data_view_id(prefix, dashboard.data_view)
    types = fields.field_types(dashboard.data_view)
    grid = _layout([(p.width, p.height) for p in dashboard.panels] + [(s.width, s.height) for s in dashboard.searches])
    panels: list[dict[str, Any]] = []
    references: list[dict[str, str]] = []
    for n, panel in enumerate(dashboard.panels):
        _check_panel(panel, dashboard.data_view)
        index = stable_id(dashboard.key, panel.key, "panel")
        panels.append({"version": KIBANA_MIN_VERSION, "type": "lens", "gridData": {**grid[n], "i": index},
                       "panelIndex": index, "title": panel.title,
                       "embeddableConfig": {"attributes": lens_attributes(panel, dv, types), "enhancements": {}}})
        references.append({"type": "index-pattern", "id": dv,
                           "name": f"{index}:{layer_ref_name(layer_id(panel))}"})
    for n, search in enumerate(dashboard.searches, start=len(dashboard.panels)):
        index = stable_id(dashboard.key, search.key, "panel")
        panels.append({"version": KIBANA_MIN_VERSION, "type": "search", "gridData": {**grid[n], "i": index},
                       "panelIndex": index, "panelRefName": f"panel_{index}", "embeddableConfig": {}})
        references.append({"type": "search", "id": search_id(prefix, search), "name": f"{index}:panel_{index}"})
    for i, pill in enumerate(dashboard.pills):
        fields.require(dashboard.data_view, pill.field, aggregatable=True, used_by=f"filter pill {pill.field!r}")
        references.append({"type": "index-pattern", "id": dv,
                           "name": f"kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"})
    for control in dashboard.controls:
        fields.require(dashboard.data_view, control.field, aggregatable=True, used_by=f"control {control.key!r}")
        references.append({"type": "index-pattern", "id": dv,
                           "name": f"controlGroup_{stable_id(control.key, 'control')}:optionsListDataView"})
    source = {"query": {"query": "", "language": "lucene"},
              "filter": [_pill(p, i) for i, p in enumerate(dashboard.pills)]}
    attributes = {
        "title": dashboard.title, "description": dashboard.description, "version": 1,
        "panelsJSON": json.dumps(panels),
        "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "syncCursor": True,
                                   "syncTooltips": False, "hidePanelTitles": False}),
        "timeRestore": True, "timeFrom": dashboard.time_from, "timeTo": "now",
        "refreshInterval": {"pause": True, "value": 60000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
    }
    if dashboard.controls:
        attributes["controlGroupInput"] = _controls(dashboard.controls, dv)
    return _stamp({"type": "dashboard", "id": dashboard_id(prefix, dashboard), "attributes": attributes,
                   "references": references})


def saved_objects(prefix: str = "govwatch") -> list[dict[str, Any]]:
    """Every object, referenced ones first (data views, saved searches, then dashboards)."""
    out = [_data_view(prefix, view) for view in DATA_VIEWS]
    seen: set[str] = set()
    for dashboard in DASHBOARDS:
        for search in dashboard.searches:
            if search.key not in seen:
                seen.add(search.key)
                out.append(_search(prefix, search, search.data_view or dashboard.data_view))
    out.extend(_dashboard(prefix, d) for d in DASHBOARDS)
    return out


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    """One compact JSON object per line, keys sorted (stable diffs), newline-terminated."""
    return "".join(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
                   for obj in objects)


def ndjson(prefix: str = "govwatch") -> str:
    """The import file for an index prefix (the committed deploy/kibana/govwatch.ndjson is ``ndjson()``)."""
    return to_ndjson(saved_objects(prefix))


def panels_of(dashboard_obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The decoded ``panelsJSON`` of a dashboard saved object."""
    panels: list[dict[str, Any]] = json.loads(dashboard_obj["attributes"]["panelsJSON"])
    return panels


def lens_panels(prefix: str = "govwatch") -> dict[str, tuple[Dashboard, dict[str, Any], dict[str, Any]]]:
    """``{panel key: (dashboard spec, dashboard object, Lens attributes)}`` of every generated Lens panel."""
    out: dict[str, tuple[Dashboard, dict[str, Any], dict[str, Any]]] = {}
    objects = {o["id"]: o for o in saved_objects(prefix) if o["type"] == "dashboard"}
    for spec in DASHBOARDS:
        obj = objects[dashboard_id(prefix, spec)]
        lens = [p for p in panels_of(obj) if p["type"] == "lens"]
        for panel, embedded in zip(spec.panels, lens, strict=True):
            out[panel.key] = (spec, obj, embedded["embeddableConfig"]["attributes"])
    return out
