"""Render a preview of the Kibana dashboards from the real index (our drawing, not Kibana's).

    python deploy/kibana/preview.py     # -> docs/images/kibana-coverage.png, kibana-entity.png, kibana-events.png
    python deploy/kibana/preview.py --dashboards source-health   # -> docs/images/kibana-source-health.png

Needs the local stack (`govwatch stack up`) and matplotlib (not a govwatch dependency; e.g.
`pip install --target /tmp/mpl matplotlib` and `PYTHONPATH=/tmp/mpl`). It runs the bundled demo sample
(deploy/demo) through the real enrichment, clustering, event assignment and indexing code into a private index
prefix, with the sample's real dates (``govwatch demo`` rebases them to end yesterday), runs every Lens panel's
aggregation (govwatch.kibana.queries, the same translation the tests check) over
the sample's own time span, draws each panel where the dashboard's grid puts it, and deletes the indices.
Saved searches (the latest stories, the source health incidents) are not drawn.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "deploy" / "demo"
DEMO_BASE = "http://127.0.0.1:8765"  # the demo's fixed port, so story ids are the ones `govwatch demo` indexes


def demo_stories(knowledge: Any) -> list[Any]:  # noqa: ANN401
    """The demo sample's entries as enriched stories (pages from deploy/demo/articles)."""
    from datetime import datetime

    from govwatch.enrich.pipeline import enrich
    from govwatch.identity import canonical_url, story_id
    from govwatch.models import RawStory, Trace

    feeds = {f["url"].split("/")[-1].removesuffix(".xml"): f
             for f in yaml.safe_load((DEMO / "registry.yaml").read_text())["feeds"]}
    out = []
    for entry in json.loads((DEMO / "sample.json").read_text()):
        feed = feeds[entry["outlet"]]  # sample.json's outlet is the feed file's name
        url = canonical_url(f"{DEMO_BASE}/articles/{entry['slug']}.html")
        published = datetime.fromisoformat(entry["published"])
        raw = RawStory(story_id=story_id(url), url=url, feed_id=feed["id"], feed_url=feed["url"],
                       source=feed["name"], country=feed.get("country"), language=feed.get("language"),
                       needs_relevance_filter=feed["needs_relevance_filter"], title=entry["title"],
                       published_at=published, trace=Trace(first_seen_at=published + timedelta(minutes=5)))
        html = (DEMO / "articles" / f"{entry['slug']}.html").read_bytes()
        out.append(enrich(raw, html, None, knowledge))
    return out


def panel_rows(es: Any, prefix: str, time_range: tuple[str, str], interval: str) -> dict[str, Any]:  # noqa: ANN401
    from govwatch.kibana.objects import TIME_FIELDS, data_view_pattern, lens_panels
    from govwatch.kibana.queries import dashboard_filters, panel_search, rows

    out = {}
    for key, (spec, dashboard, attrs) in lens_panels(prefix).items():
        body = panel_search(attrs, TIME_FIELDS[spec.data_view], time_range, dashboard_filters(dashboard), interval)
        resp = es.search(index=data_view_pattern(prefix, spec.data_view), body=body)
        out[key] = rows(attrs, resp.body)
    return out


def draw(dashboard_key: str, results: dict[str, Any], out: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from govwatch.kibana.dashboards import DASHBOARDS
    from govwatch.kibana.objects import _layout

    spec = next(d for d in DASHBOARDS if d.key == dashboard_key)
    grid = _layout([(p.width, p.height) for p in spec.panels])
    rows_total = max(g["y"] + g["h"] for g in grid)
    unit = 0.27  # inches per grid unit
    fig = plt.figure(figsize=(48 * unit, (rows_total + 3) * unit), dpi=90)
    fig.suptitle(f"{spec.title}   ({subtitle}; preview drawn by deploy/kibana/preview.py, not by Kibana)", x=0.01,
                 y=0.995, ha="left", fontsize=12, fontweight="bold")
    height = rows_total + 3  # two grid units above for the title
    for panel, g in zip(spec.panels, grid, strict=True):
        # margins in grid units: room for the panel title, tick labels, bar labels and legends
        left = g["x"] + (g["w"] * 0.35 if panel.chart == "bar_horizontal" else 1.5)
        right = g["x"] + g["w"] - (g["w"] * 0.25 if panel.breakdown is not None else 0.6)
        charts_with_dates = ("bar_stacked", "bar_percentage", "line")
        top, bottom = g["y"] + 2 + 1.3, g["y"] + 2 + g["h"] - (2.2 if panel.chart in charts_with_dates else 0.6)
        ax = fig.add_axes([left / 48, 1 - bottom / height, (right - left) / 48, (bottom - top) / height])
        ax.set_title(panel.title, fontsize=9, loc="left")
        _draw_panel(ax, panel, results[panel.key])
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def _draw_panel(ax: Any, panel: Any, data: list[dict[str, Any]]) -> None:  # noqa: ANN401
    from govwatch.kibana.queries import column_name

    metric = "count" if panel.metrics[0].kind == "count" else f"{panel.metrics[0].kind}({panel.metrics[0].field})"
    if panel.chart == "metric":
        ax.axis("off")
        ax.text(0.5, 0.4, _number(data[0][metric] if data else 0), ha="center", va="center", fontsize=26)
        return
    if not data:
        ax.axis("off")
        ax.text(0.5, 0.5, "no data", ha="center", va="center", color="grey")
        return
    x = panel.buckets[0].field
    if panel.chart == "donut":
        ax.pie([r[metric] for r in data], labels=[str(r[x]) for r in data], autopct="%1.0f%%",
               wedgeprops={"width": 0.45}, textprops={"fontsize": 7})
        return
    if panel.chart == "bar_horizontal":
        data = data[::-1]
        ax.barh([_label(r[x]) for r in data], [r[metric] for r in data], color="#54b399")
        ax.tick_params(labelsize=7)
        return
    if panel.chart == "table":
        ax.axis("off")
        cols = [b.field for b in panel.buckets] + [column_name({"isBucketed": False, "operationType": m.kind,
                                                                "sourceField": m.field, "label": m.label,
                                                                "filter": m.filter, "reducedTimeRange": m.last})
                                                   for m in panel.metrics]
        labels = [b.label for b in panel.buckets] + [m.label for m in panel.metrics]
        table = ax.table(cellText=[[_number(r.get(c, ""))[:40] for c in cols] for r in data[:8]], colLabels=labels,
                         loc="upper center")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        return
    data = [{**r, x: _label(r[x])} for r in data]
    xs = sorted({r[x] for r in data})
    if panel.breakdown is None:
        values = {r[x]: r[metric] for r in data}
        if panel.chart == "line":
            ax.plot(xs, [values[v] for v in xs], marker="o", color="#6092c0")
        else:
            ax.bar(xs, [values[v] for v in xs], color="#54b399")
    else:
        split = panel.breakdown.field
        bottom = [0.0] * len(xs)
        totals = {v: sum(r[metric] for r in data if r[x] == v) for v in xs}
        for series in sorted({r[split] for r in data}):
            heights = [sum(r[metric] for r in data if r[x] == v and r[split] == series) for v in xs]
            if panel.chart == "line":  # one line per series, not stacked
                ax.plot(xs, heights, marker="o", markersize=3, label=str(series)[:30])
                continue
            if panel.chart == "bar_percentage":  # each bar is 100 % of its x value
                heights = [100 * h / totals[v] for h, v in zip(heights, xs, strict=True)]
            ax.bar(xs, heights, bottom=bottom, label=str(series)[:30])
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.tick_params(labelsize=7)
    for label in ax.get_xticklabels():
        label.set_rotation(30)


def _number(value: Any) -> str:  # noqa: ANN401
    """A cell or metric as Kibana shows it: a whole float (a max, an average) without its ".0"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def _label(value: Any) -> str:  # noqa: ANN401
    """A bucket key as Kibana would print it: a date's day, a range as 'from - to', text cut at 40."""
    text = str(value)
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return text[:10]
    if text.endswith("-1.0001"):  # the last relevance range is closed at 1 (see panels.RELEVANCE_RANGES)
        text = text.removesuffix("-1.0001") + "-1.0"
    return text.replace("-", " - ") if text[:1].isdigit() else text[:40]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--interval", default="day", help="date histogram interval (calendar: day, week, month ...)")
    parser.add_argument("--keep", action="store_true", help="keep the private indices afterwards")
    parser.add_argument("--dashboards", nargs="+", default=["coverage", "entity", "events"],
                        choices=["coverage", "entity", "events", "source-health"], help="which previews to draw")
    args = parser.parse_args(argv)

    from govwatch.adapters import story_index
    from govwatch.adapters.bootstrap import bootstrap, teardown
    from govwatch.adapters.es_io import make_client
    from govwatch.enrich.clusters import ClusterIndex
    from govwatch.enrich.event_assign import EventAssigner, member_of
    from govwatch.enrich.pipeline import Knowledge
    from govwatch.settings import Settings

    prefix = f"preview{uuid.uuid4().hex[:8]}"
    settings = Settings(index_prefix=prefix, topic_prefix=prefix)
    bootstrap(settings)
    try:
        es = make_client(settings.es_url)
        enriched = demo_stories(Knowledge.load(settings.relevance_threshold))
        stories = ClusterIndex(es, prefix).assign_all(sorted(enriched, key=story_index.timestamp_of))
        decisions = EventAssigner(es, prefix).assign([member_of(s) for s in stories])  # as the index stage does
        event_ids = {s.story_id: d.event.event_id for s, d in zip(stories, decisions, strict=True)}
        rejected = story_index.bulk_index(es, prefix, stories, event_ids)
        if rejected:
            print(f"preview: Elasticsearch refused {len(rejected)} stories: {next(iter(rejected.values()))}")
            return 1
        es.indices.refresh(index=f"{prefix}-*")
        times = sorted(story_index.timestamp_of(s) for s in stories)
        time_range = ((times[0] - timedelta(days=1)).isoformat(), (times[-1] + timedelta(days=1)).isoformat())
        results = panel_rows(es, prefix, time_range, args.interval)
        subtitle = f"demo sample, {len(stories)} stories, {times[0]:%Y-%m-%d} to {times[-1]:%Y-%m-%d}"
        for key in args.dashboards:
            path = args.out_dir / f"kibana-{key}.png"
            draw(key, results, path, subtitle)
            print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    finally:
        if not args.keep:
            teardown(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
