"""Lens panel state -> the equivalent Elasticsearch search, and its response -> table rows.

Translated from the generated Lens attributes themselves (columns, ``columnOrder``, ``state.query``),
not from a second description, so what the tests run against the real index is what the panel asks
for: bucket columns nest in column order (terms / date_histogram / range), metrics sit at the deepest
level (count = doc_count, unique_count = cardinality, max, sum), a metric with its own filter or reduced
time range sits under a ``filter`` aggregation (Lens's "Filter by" and "Reduced time range": the last
``1d`` of the range is ``[end-1d, end)``), a terms column ordered by a metric gets that metric beside it,
and the panel's Lucene query joins the dashboard's filters and time range. Lens picks an "auto" date
interval from the time range; here the caller names it. A saved search (a Discover table) becomes the
search Discover sends: its query, the filters, the time range when its data view has a time field, its
sort and columns.
"""

from __future__ import annotations

import json
from typing import Any

from govwatch.kibana.lens import RECORDS

_METRIC_AGG = {"unique_count": "cardinality", "max": "max", "sum": "sum"}
DISCOVER_SAMPLE_SIZE = 500  # Discover's default sample size (advanced setting discover:sampleSize)


def layer_of(attributes: dict[str, Any]) -> dict[str, Any]:
    """The single data layer of a govwatch Lens panel."""
    layers: dict[str, dict[str, Any]] = attributes["state"]["datasourceStates"]["formBased"]["layers"]
    (layer,) = layers.values()
    return layer


def column_name(column: dict[str, Any]) -> str:
    """A readable key for a column in rows: the field of a bucket, ``op`` or ``op(field)`` of a metric."""
    if column["isBucketed"]:
        field: str = column["sourceField"]
        return field
    if _narrowed(column):
        label: str = column["label"]
        return label
    if column["operationType"] == "count":
        return "count"
    return f"{column['operationType']}({column['sourceField']})"


def _narrowed(column: dict[str, Any]) -> bool:
    """Whether a metric column counts only part of the panel's documents (its own filter or reduced time range)."""
    return bool(column.get("filter") or column.get("reducedTimeRange"))


def _metric(column: dict[str, Any]) -> dict[str, Any]:
    return {_METRIC_AGG[column["operationType"]]: {"field": column["sourceField"]}}


def _leaf(column: dict[str, Any], time_field: str, end: str) -> dict[str, Any] | None:
    """A metric column's aggregation (None for a plain count: the bucket's doc_count is the value)."""
    plain = None if column["operationType"] == "count" else _metric(column)
    if not _narrowed(column):
        return plain
    conditions: list[dict[str, Any]] = []
    if column.get("filter"):
        conditions.append({"query_string": {"query": column["filter"]["query"], "analyze_wildcard": True}})
    if column.get("reducedTimeRange"):
        conditions.append({"range": {time_field: {"gte": f"{end}||-{column['reducedTimeRange']}", "lt": end}}})
    node: dict[str, Any] = {"filter": {"bool": {"filter": conditions}}}
    if plain:
        node["aggs"] = {"value": plain}
    return node


def _order_path(column: dict[str, Any]) -> str:
    if not _narrowed(column):
        return "order_metric"
    return "order_metric>_count" if column["operationType"] == "count" else "order_metric>value"


def _bucket(column: dict[str, Any], columns: dict[str, Any], interval: str) -> dict[str, Any]:
    op, field = column["operationType"], column["sourceField"]
    params = column.get("params", {})
    if op == "date_histogram":
        return {"date_histogram": {"field": field, "calendar_interval": interval, "min_doc_count": 1}}
    if op == "range":
        return {"range": {"field": field, "ranges": [{"from": r["from"], "to": r["to"]} for r in params["ranges"]]}}
    order_col = columns[params["orderBy"]["columnId"]]
    plain_count = order_col["operationType"] == "count" and not _narrowed(order_col)
    order = {"_count" if plain_count else _order_path(order_col): params["orderDirection"]}
    return {"terms": {"field": field, "size": params["size"], "order": [order, {"_key": "asc"}]}}


def panel_search(attributes: dict[str, Any], time_field: str, time_range: tuple[str, str],
                 filters: list[dict[str, Any]] | None = None, interval: str = "day") -> dict[str, Any]:
    """The search body (``size: 0``) equivalent to the Lens panel, for ``_search`` on the data view's pattern."""
    layer = layer_of(attributes)
    columns = layer["columns"]
    bucket_ids = [c for c in layer["columnOrder"] if columns[c]["isBucketed"]]
    metric_ids = [c for c in layer["columnOrder"] if not columns[c]["isBucketed"]]
    leaves = {cid: _leaf(columns[cid], time_field, time_range[1]) for cid in metric_ids}
    aggs: dict[str, Any] = {cid: leaf for cid, leaf in leaves.items() if leaf is not None}
    for cid in reversed(bucket_ids):
        node = _bucket(columns[cid], columns, interval)
        children = dict(aggs)
        if "terms" in node and "_count" not in node["terms"]["order"][0]:
            children["order_metric"] = _leaf(columns[columns[cid]["params"]["orderBy"]["columnId"]], time_field,
                                             time_range[1])
        if children:
            node["aggs"] = children
        aggs = {cid: node}
    must: list[dict[str, Any]] = [{"range": {time_field: {"gte": time_range[0], "lt": time_range[1]}}},
                                  *(filters or [])]
    query = attributes["state"].get("query", {}).get("query")
    if query:
        must.append({"query_string": {"query": query, "analyze_wildcard": True}})
    return {"size": 0, "track_total_hits": True, "query": {"bool": {"filter": must}}, "aggs": aggs}


def rows(attributes: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
    """The response as Lens's table: one row per leaf bucket, keyed by :func:`column_name`."""
    layer = layer_of(attributes)
    columns = layer["columns"]
    bucket_ids = [c for c in layer["columnOrder"] if columns[c]["isBucketed"]]
    metric_ids = [c for c in layer["columnOrder"] if not columns[c]["isBucketed"]]

    def metrics(node: dict[str, Any], doc_count: int) -> dict[str, Any]:
        out = {}
        for cid in metric_ids:
            col = columns[cid]
            if col["operationType"] == "count":
                value = node[cid]["doc_count"] if _narrowed(col) else doc_count
            else:
                value = node[cid]["value"]["value"] if _narrowed(col) else node[cid]["value"]
            out[column_name(col)] = value
        return out

    def walk(node: dict[str, Any], depth: int, key: dict[str, Any]) -> list[dict[str, Any]]:
        if depth == len(bucket_ids):
            return [{**key, **metrics(node, node.get("doc_count", 0))}]
        out: list[dict[str, Any]] = []
        col = columns[bucket_ids[depth]]
        for bucket in node[bucket_ids[depth]]["buckets"]:
            if bucket["doc_count"] == 0:
                continue
            value = bucket.get("key_as_string") if col["operationType"] == "date_histogram" else bucket["key"]
            if col["dataType"] == "boolean":
                value = bool(bucket["key"])
            out.extend(walk(bucket, depth + 1, {**key, column_name(col): value}))
        return out

    aggs = response.get("aggregations", {})
    if not bucket_ids:
        return [metrics(aggs, response["hits"]["total"]["value"])]
    return walk(aggs, 0, {})


def dashboard_filters(dashboard_obj: dict[str, Any], *, include_disabled: bool = False) -> list[dict[str, Any]]:
    """The Elasticsearch queries of a dashboard's stored filter pills (the enabled ones unless asked)."""
    source = json.loads(dashboard_obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    return [pill["query"] for pill in source["filter"] if include_disabled or not pill["meta"]["disabled"]]


def search_request(search_obj: dict[str, Any], time_field: str | None, time_range: tuple[str, str],
                   filters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The search Discover sends for a saved search: its Lucene query, the filters, the time range only when its
    data view has a time field, its sort, its columns as ``_source``, Discover's sample size."""
    attrs = search_obj["attributes"]
    source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
    must: list[dict[str, Any]] = [*(filters or [])]
    if time_field:
        must.append({"range": {time_field: {"gte": time_range[0], "lt": time_range[1]}}})
    if source["query"]["query"]:
        must.append({"query_string": {"query": source["query"]["query"], "analyze_wildcard": True}})
    return {"size": DISCOVER_SAMPLE_SIZE, "track_total_hits": True, "query": {"bool": {"filter": must}},
            "sort": [{name: {"order": direction}} for name, direction in attrs["sort"]],
            "_source": list(attrs["columns"])}


def search_rows(search_obj: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
    """A saved search's table as Discover shows it: one row per hit, its columns in order (None when absent)."""
    columns = search_obj["attributes"]["columns"]
    return [{c: hit["_source"].get(c) for c in columns} for hit in response["hits"]["hits"]]


__all__ = ["RECORDS", "column_name", "dashboard_filters", "layer_of", "panel_search", "rows", "search_request",
           "search_rows"]
