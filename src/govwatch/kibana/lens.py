"""Panel spec -> Kibana Lens attributes (the by-value form embedded in a dashboard's ``panelsJSON``).

The shapes are those of Lens at Kibana 8.8 (datasource ``formBased``, pie ``metrics`` as a list, the
``lnsMetric`` visualization), the oldest 8.x these objects are stamped for: Kibana migrates older Lens
state forward on import, never backward. Every id is a UUID derived from the panel key, so regenerating
gives the same objects byte for byte.
"""

from __future__ import annotations

import uuid
from typing import Any

from govwatch.kibana.panels import Bucket, Metric, Panel

ID_NAMESPACE = uuid.UUID("3f1c1d1e-6b5a-4c1e-9f43-676f76776174")  # fixed: ids must never change
RECORDS = "___records___"  # Lens's pseudo-field of the count operation

_XY = {"bar_stacked": "bar_stacked", "bar_percentage": "bar_percentage_stacked", "line": "line",
       "bar_horizontal": "bar_horizontal"}
_VIS_TYPE = {"bar_stacked": "lnsXY", "bar_percentage": "lnsXY", "line": "lnsXY", "bar_horizontal": "lnsXY",
             "donut": "lnsPie", "metric": "lnsMetric", "table": "lnsDatatable"}


def stable_id(*parts: str) -> str:
    """A UUID derived from ``parts`` (the same parts always give the same id)."""
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(parts)))


def layer_id(panel: Panel) -> str:
    return stable_id(panel.key, "layer")


def layer_ref_name(layer: str) -> str:
    """The reference name Lens uses for a layer's data view."""
    return f"indexpattern-datasource-layer-{layer}"


def _bucket_column(bucket: Bucket, order_by: str, field_type: str) -> dict[str, Any]:
    label = bucket.label or bucket.field
    if bucket.kind == "date_histogram":
        return {"label": label, "customLabel": bool(bucket.label), "dataType": "date",
                "operationType": "date_histogram", "sourceField": bucket.field, "isBucketed": True,
                "scale": "interval", "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}
    if bucket.kind == "terms":
        return {"label": label, "customLabel": bool(bucket.label),
                "dataType": "boolean" if field_type == "boolean" else "string",
                "operationType": "terms", "sourceField": bucket.field, "isBucketed": True, "scale": "ordinal",
                "params": {"size": bucket.size, "orderBy": {"type": "column", "columnId": order_by},
                           "orderDirection": "desc", "otherBucket": False, "missingBucket": False,
                           "parentFormat": {"id": "terms"}, "include": [], "exclude": [],
                           "includeIsRegex": False, "excludeIsRegex": False}}
    return {"label": label, "customLabel": bool(bucket.label), "dataType": "number", "operationType": "range",
            "sourceField": bucket.field, "isBucketed": True, "scale": "ordinal",
            "params": {"type": "range", "maxBars": "auto", "includeEmptyRows": True,
                       "ranges": [{"from": lo, "to": hi, "label": ""} for lo, hi in bucket.ranges],
                       "parentFormat": {"id": "range", "params": {"template": "arrow_right", "replaceInfinity": True}}}}


def _metric_column(metric: Metric) -> dict[str, Any]:
    if metric.kind == "count":
        column = {"label": metric.label or "Count of records", "customLabel": bool(metric.label),
                  "dataType": "number", "operationType": "count", "sourceField": RECORDS, "isBucketed": False,
                  "scale": "ratio", "params": {"emptyAsNull": True}}
    else:
        label = metric.label or f"{metric.kind.replace('_', ' ').title()} of {metric.field}"
        column = {"label": label, "customLabel": bool(metric.label), "dataType": "number",
                  "operationType": metric.kind, "sourceField": metric.field, "isBucketed": False, "scale": "ratio",
                  "params": {"emptyAsNull": True}}
    if metric.filter:
        column["filter"] = {"query": metric.filter, "language": "lucene"}
        column["params"] = {"emptyAsNull": False}  # a feed with none of these shows 0, not an empty cell
    if metric.last:
        column["reducedTimeRange"] = metric.last
    return column


def _visualization(panel: Panel, layer: str, buckets: list[str], metrics: list[str]) -> dict[str, Any]:
    chart = panel.chart
    if chart in _XY:
        xy_layer: dict[str, Any] = {"layerId": layer, "layerType": "data", "seriesType": _XY[chart],
                                    "xAccessor": buckets[0], "accessors": metrics, "position": "top",
                                    "showGridlines": False}
        if len(buckets) > 1:
            xy_layer["splitAccessor"] = buckets[1]
        return {"legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide",
                "fittingFunction": "None", "preferredSeriesType": _XY[chart], "layers": [xy_layer]}
    if chart == "donut":
        return {"shape": "donut", "layers": [{"layerId": layer, "layerType": "data", "primaryGroups": buckets,
                                              "metrics": metrics, "numberDisplay": "percent",
                                              "categoryDisplay": "default", "legendDisplay": "default",
                                              "nestedLegend": False}]}
    if chart == "metric":
        return {"layerId": layer, "layerType": "data", "metricAccessor": metrics[0]}
    return {"layerId": layer, "layerType": "data",
            "columns": [{"columnId": c, "isTransposed": False} for c in [*buckets, *metrics]]}


def lens_attributes(panel: Panel, data_view_id: str, field_types: dict[str, str]) -> dict[str, Any]:
    """The Lens saved-object attributes of ``panel`` over the data view ``data_view_id``.

    Column order decides how Lens nests aggregations: for a chart broken down by top values the
    breakdown comes first, so its top values are taken over the whole time range (as Lens does).
    """
    layer = layer_id(panel)
    metric_ids = [stable_id(panel.key, "metric", str(i)) for i in range(len(panel.metrics))]
    bucket_ids = [stable_id(panel.key, "bucket", str(i)) for i in range(len(panel.buckets))]
    columns: dict[str, Any] = {}
    for cid, bucket in zip(bucket_ids, panel.buckets, strict=True):
        columns[cid] = _bucket_column(bucket, metric_ids[0], field_types.get(bucket.field, "keyword"))
    for cid, metric in zip(metric_ids, panel.metrics, strict=True):
        columns[cid] = _metric_column(metric)
    nest = bucket_ids[::-1] if panel.chart in _XY and len(bucket_ids) > 1 else bucket_ids
    return {
        "title": panel.title, "description": "", "visualizationType": _VIS_TYPE[panel.chart], "type": "lens",
        "references": [{"type": "index-pattern", "id": data_view_id, "name": layer_ref_name(layer)}],
        "state": {
            "visualization": _visualization(panel, layer, bucket_ids, metric_ids),
            "query": {"query": panel.query or "", "language": "lucene"},
            "filters": [],
            "datasourceStates": {"formBased": {"layers": {layer: {
                "columns": columns, "columnOrder": [*nest, *metric_ids], "incompleteColumns": {}}}}},
            "internalReferences": [], "adHocDataViews": {},
        },
    }
