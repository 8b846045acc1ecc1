"""Static checks of the generated Kibana saved objects: references, fields, columns, ids, stamps, drift."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from govwatch.errors import ConfigError
from govwatch.kibana import fields
from govwatch.kibana.dashboards import DASHBOARDS
from govwatch.kibana.lens import RECORDS, layer_ref_name
from govwatch.kibana.objects import KIBANA_MIN_VERSION, TIME_FIELDS, ndjson, panels_of, saved_objects
from govwatch.kibana.panels import Bucket, Dashboard, Panel
from govwatch.kibana.queries import layer_of

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "deploy" / "kibana" / "govwatch.ndjson"
REGENERATE = "govwatch kibana export --out deploy/kibana/govwatch.ndjson"
OBJECTS = saved_objects()
BY_KEY = {(o["type"], o["id"]): o for o in OBJECTS}
DATA_VIEW_OF = {o["attributes"]["title"]: o["id"] for o in OBJECTS if o["type"] == "index-pattern"}
VIEW_NAME = {"govwatch-stories": "stories", "govwatch-alert-ledger": "ledger", "govwatch-events": "events",
             "govwatch-source-health": "health"}


def _dashboards() -> list[dict]:
    return [o for o in OBJECTS if o["type"] == "dashboard"]


def _lens_panels() -> list[tuple[dict, dict]]:
    return [(d, p) for d in _dashboards() for p in panels_of(d) if p["type"] == "lens"]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def test_committed_ndjson_is_the_generator_output() -> None:
    """deploy/kibana/govwatch.ndjson equals a fresh generation; on drift the failure names the command to run."""
    assert COMMITTED.read_text(encoding="utf-8") == ndjson(), f"deploy/kibana is stale: run `{REGENERATE}`"


def test_ids_are_fixed_and_regeneration_is_byte_identical() -> None:
    """Object ids are the documented fixed names and two generations give the same bytes."""
    assert [(o["type"], o["id"]) for o in OBJECTS] == [
        ("index-pattern", "govwatch-stories"), ("index-pattern", "govwatch-alert-ledger"),
        ("index-pattern", "govwatch-events"), ("index-pattern", "govwatch-source-health"),
        ("search", "govwatch-latest-relevant"), ("search", "govwatch-latest-stories"),
        ("search", "govwatch-source-health-open"), ("search", "govwatch-source-health-incidents"),
        ("dashboard", "govwatch-coverage"), ("dashboard", "govwatch-alerts"), ("dashboard", "govwatch-entity"),
        ("dashboard", "govwatch-events"), ("dashboard", "govwatch-source-health")]
    assert ndjson() == ndjson()
    assert [o["id"] for o in saved_objects("acme")][:4] == ["acme-stories", "acme-alert-ledger", "acme-events",
                                                            "acme-source-health"]


def test_data_views_cover_the_monthly_indices_and_the_ledger_with_their_time_fields() -> None:
    """The stories data view matches every <prefix>-stories-YYYY.MM index on @timestamp; the ledger on matched_at."""
    stories = BY_KEY[("index-pattern", "govwatch-stories")]["attributes"]
    ledger = BY_KEY[("index-pattern", "govwatch-alert-ledger")]["attributes"]
    assert (stories["title"], stories["timeFieldName"]) == ("govwatch-stories*", "@timestamp")
    assert (ledger["title"], ledger["timeFieldName"]) == ("govwatch-alert-ledger", "matched_at")
    assert fields.mapped_fields("stories")["@timestamp"]["type"] == "date"
    assert fields.mapped_fields("ledger")[TIME_FIELDS["ledger"]]["type"] == "date"


def test_events_data_view_reads_the_events_template_on_first_seen() -> None:
    """The events data view is the {prefix}-events index on first_seen, and its fields come from events.template.json
    (the events dashboard's panels and controls aggregate only keyword, numeric and date fields of it)."""
    events = BY_KEY[("index-pattern", "govwatch-events")]["attributes"]
    assert (events["title"], events["timeFieldName"]) == ("govwatch-events", "first_seen")
    mapped = fields.mapped_fields("events")
    assert mapped["first_seen"]["type"] == "date"
    assert not mapped["members"]["aggregatable"] and not mapped["title"]["aggregatable"]
    spec = next(d for d in DASHBOARDS if d.key == "events")
    used = {b.field for p in spec.panels for b in p.buckets} | {m.field for p in spec.panels for m in p.metrics
                                                                 if m.field} | {c.field for c in spec.controls}
    assert used == {"first_seen", "title.keyword", "outlets", "main_topics", "outlet_count", "story_count"}
    assert all(mapped[f]["aggregatable"] for f in used)
    titles = {p.title for p in spec.panels}
    assert {"Top events (by outlets)", "Events over time (by first report)"} <= titles


def test_every_reference_resolves_to_an_object_in_the_file() -> None:
    """Each reference of each object names an object of the right type and id that the NDJSON itself holds."""
    for obj in OBJECTS:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in BY_KEY, (obj["id"], ref)
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), f"duplicate reference names in {obj['id']}"


def test_each_lens_layer_has_its_data_view_reference_at_panel_and_dashboard_level() -> None:
    """A Lens layer's reference indexpattern-datasource-layer-<id> exists in the panel and, prefixed, in the
    dashboard."""
    assert _lens_panels()
    for dashboard, panel in _lens_panels():
        attrs = panel["embeddableConfig"]["attributes"]
        dashboard_refs = {r["name"]: r for r in dashboard["references"]}
        for layer_id in attrs["state"]["datasourceStates"]["formBased"]["layers"]:
            inner = [r for r in attrs["references"] if r["name"] == layer_ref_name(layer_id)]
            outer = dashboard_refs.get(f"{panel['panelIndex']}:{layer_ref_name(layer_id)}")
            assert len(inner) == 1 and outer is not None, (dashboard["id"], attrs["title"])
            assert inner[0]["id"] == outer["id"] and outer["type"] == "index-pattern"


def test_saved_search_panels_and_pills_and_controls_are_referenced() -> None:
    """Search panels carry panelRefName with a matching dashboard reference; every pill and control has its data
    view."""
    for dashboard in _dashboards():
        refs = {r["name"]: r for r in dashboard["references"]}
        for panel in panels_of(dashboard):
            if panel["type"] == "search":
                assert refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]["type"] == "search"
        source = json.loads(dashboard["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        for pill in source["filter"]:
            assert refs[pill["meta"]["indexRefName"]]["type"] == "index-pattern"
        controls = json.loads(dashboard["attributes"].get("controlGroupInput", {}).get("panelsJSON", "{}"))
        for cid in controls:
            assert refs[f"controlGroup_{cid}:optionsListDataView"]["type"] == "index-pattern"


def test_every_field_a_panel_uses_is_mapped_and_aggregatable_with_its_type() -> None:
    """Each Lens column's sourceField exists in its data view's mapping, is aggregatable, and has a matching
    dataType."""
    expected = {"keyword": "string", "boolean": "boolean", "date": "date", "float": "number", "integer": "number"}
    for dashboard, panel in _lens_panels():
        view = VIEW_NAME[panel["embeddableConfig"]["attributes"]["references"][0]["id"]]
        for column in layer_of(panel["embeddableConfig"]["attributes"])["columns"].values():
            if column["sourceField"] == RECORDS:
                assert column["operationType"] == "count"
                continue
            spec = fields.mapped_fields(view)[column["sourceField"]]
            assert spec["aggregatable"], (dashboard["id"], column)
            if column["isBucketed"] or column["operationType"] in ("max", "sum"):
                assert column["dataType"] == expected[spec["type"]], (dashboard["id"], column)


def test_controls_pills_and_search_columns_use_mapped_fields() -> None:
    """Controls and pills name aggregatable fields; saved-search columns name mapped fields; pills are booleans."""
    for spec in DASHBOARDS:
        for control in spec.controls:
            assert fields.mapped_fields(spec.data_view)[control.field]["aggregatable"]
        for pill in spec.pills:
            assert fields.mapped_fields(spec.data_view)[pill.field]["type"] == "boolean"
        for search in spec.searches:
            assert set(search.columns) <= set(fields.mapped_fields(search.data_view or spec.data_view))
    coverage = next(d for d in DASHBOARDS if d.key == "coverage")
    assert {(p.field, p.value) for p in coverage.pills} == {("is_relevant", True), ("is_cluster_representative", True)}


def test_column_orders_match_columns_and_visualizations_point_at_existing_columns() -> None:
    """columnOrder lists exactly the layer's columns, buckets before metrics, and every accessor is one of them."""
    for _dashboard, panel in _lens_panels():
        attrs = panel["embeddableConfig"]["attributes"]
        layer = layer_of(attrs)
        order = layer["columnOrder"]
        assert sorted(order) == sorted(layer["columns"]), attrs["title"]
        bucketed = [layer["columns"][c]["isBucketed"] for c in order]
        assert bucketed == sorted(bucketed, reverse=True), f"metrics before buckets in {attrs['title']}"
        vis = json.dumps(attrs["state"]["visualization"])
        accessors = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", vis))
        layer_ids = set(attrs["state"]["datasourceStates"]["formBased"]["layers"])
        assert accessors - layer_ids <= set(layer["columns"]), attrs["title"]
        assert set(layer["columns"]) <= accessors, f"a column no chart shows in {attrs['title']}"
        for column in layer["columns"].values():
            if column["operationType"] == "terms":
                assert column["params"]["orderBy"]["columnId"] in layer["columns"]


def test_objects_are_stamped_at_the_oldest_supported_kibana() -> None:
    """Every object and panel is stamped at 8.8.0 or older, so any Kibana 8.8+ migrates rather than refuses it."""
    for obj in OBJECTS:
        assert obj["coreMigrationVersion"] == KIBANA_MIN_VERSION
        assert _version(obj["typeMigrationVersion"]) <= _version(KIBANA_MIN_VERSION)
    for dashboard in _dashboards():
        assert all(p["version"] == KIBANA_MIN_VERSION for p in panels_of(dashboard))
        assert len({p["panelIndex"] for p in panels_of(dashboard)}) == len(panels_of(dashboard))


def test_panels_do_not_overlap_on_the_grid() -> None:
    """No two panels of a dashboard share a grid cell and none is wider than the 48-unit row."""
    for dashboard in _dashboards():
        cells: set[tuple[int, int]] = set()
        for panel in panels_of(dashboard):
            g = panel["gridData"]
            assert g["x"] + g["w"] <= 48
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & mine, (dashboard["id"], panel["title"] if "title" in panel else panel["type"])
            cells |= mine


def test_a_panel_on_an_unmapped_or_text_field_is_refused_at_generation() -> None:
    """Generating a panel on a missing field, or aggregating a text field, fails with the field and the fix named."""
    from govwatch.kibana.objects import _dashboard

    for field_name, words in (("no_such_field", "does not have"), ("title", "keyword sub-field")):
        bad = Dashboard("bad", "bad", "", "stories", (Panel("bad-p", "bad", "donut", (),
                                                            (Bucket("terms", field_name),)),))
        with pytest.raises(ConfigError, match=words):
            _dashboard("govwatch", bad)


def _health_spec() -> Dashboard:
    return next(d for d in DASHBOARDS if d.key == "source-health")


def test_source_health_data_view_has_no_time_field_so_old_open_incidents_stay_visible() -> None:
    """The {prefix}-source-health data view reads source-health.index.json and has no time field (an incident opened
    before the picked range is still open); its two saved searches use it, sorted by opened_at."""
    view = BY_KEY[("index-pattern", "govwatch-source-health")]["attributes"]
    assert view["title"] == "govwatch-source-health" and "timeFieldName" not in view
    assert fields.mapped_fields("health")["opened_at"]["type"] == "date"
    for key, query in (("govwatch-source-health-open", "open:true"),
                       ("govwatch-source-health-incidents", "_exists_:opened_at")):
        search = BY_KEY[("search", key)]
        assert search["references"][0]["id"] == "govwatch-source-health"
        assert json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"] == query
        assert search["attributes"]["sort"] == [["opened_at", "desc"]]
    open_columns = BY_KEY[("search", "govwatch-source-health-open")]["attributes"]["columns"]
    assert open_columns == ["feed_id", "kind", "reason", "opened_at"]
    dashboard = BY_KEY[("dashboard", "govwatch-source-health")]
    assert dashboard["attributes"]["timeFrom"] == "now-8d"
    assert [p["type"] for p in panels_of(dashboard)] == ["lens", "lens", "lens", "search", "search"]


def test_source_health_panels_split_extraction_as_source_health_does() -> None:
    """The page/feed filters of the per-feed table cover every extraction status exactly once, with the page side
    equal to source health's PAGE_STATUSES; the last-24 h columns carry Lens's reduced time range "1d"; the share
    chart is a percentage-stacked bar."""
    from typing import get_args

    from govwatch.alerts.source_health import PAGE_STATUSES
    from govwatch.kibana.dashboards import FROM_FEED, FROM_PAGE
    from govwatch.models import ExtractionStatus

    def statuses(query: str) -> set[str]:
        return set(query.removeprefix("extraction_status:(").removesuffix(")").split(" OR "))

    assert statuses(FROM_PAGE) == PAGE_STATUSES
    assert statuses(FROM_PAGE) | statuses(FROM_FEED) == set(get_args(ExtractionStatus))
    assert not statuses(FROM_PAGE) & statuses(FROM_FEED)
    panels = {p["embeddableConfig"]["attributes"]["title"]: p["embeddableConfig"]["attributes"]
              for p in panels_of(BY_KEY[("dashboard", "govwatch-source-health")]) if p["type"] == "lens"}
    share = panels["Where the text came from (share of stories)"]["state"]["visualization"]
    assert share["layers"][0]["seriesType"] == "bar_percentage_stacked"
    table = layer_of(panels["Text from the page vs fell back to the feed, per feed"])
    narrowed = [(c["label"], c["filter"]["query"], c.get("reducedTimeRange"))
                for c in (table["columns"][cid] for cid in table["columnOrder"]) if "filter" in c]
    assert narrowed == [("From the page", FROM_PAGE, None), ("Fell back to the feed", FROM_FEED, None),
                        ("From the page (last 24 h)", FROM_PAGE, "1d"), ("Fell back (last 24 h)", FROM_FEED, "1d")]
    assert {c.field for c in _health_spec().controls} == {"source", "feed_id"}


def test_a_reduced_time_range_lens_would_refuse_is_refused_at_generation() -> None:
    """A metric narrowed to a span Lens does not offer, or beside a date histogram, fails generation with the fix."""
    from govwatch.kibana.objects import _dashboard
    from govwatch.kibana.panels import COUNT, Metric

    odd = Panel("p", "p", "table", (Metric("count", last="2d"),), (Bucket("terms", "source"),))
    timed = Panel("p", "p", "bar_stacked", (COUNT, Metric("count", last="1d")),
                  (Bucket("date_histogram", "@timestamp"),))
    for panel, words in ((odd, "does not offer"), (timed, "date histogram")):
        with pytest.raises(ConfigError, match=words):
            _dashboard("govwatch", Dashboard("bad", "bad", "", "stories", (panel,)))
