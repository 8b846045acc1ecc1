"""Panel specifications: one small declarative description per dashboard panel.

A :class:`Panel` says *what* a chart aggregates (its bucket columns, its metrics, an optional metric filter)
in terms of mapped fields. Two things are derived from the same spec, so they cannot disagree:

* :func:`govwatch.kibana.lens.lens_attributes` turns it into Kibana Lens state (what Kibana renders);
* :func:`govwatch.kibana.queries.panel_search` turns it into the equivalent Elasticsearch aggregation
  (what the tests run against the real index and the preview draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BucketKind = Literal["date_histogram", "terms", "range"]
MetricKind = Literal["count", "unique_count", "max", "sum"]
Chart = Literal["bar_stacked", "bar_percentage", "line", "bar_horizontal", "donut", "metric", "table"]
DataView = Literal["stories", "ledger", "events", "health"]

RELEVANCE_RANGES: tuple[tuple[float, float], ...] = tuple((i / 10, (i + 1) / 10) for i in range(10))
# relevance is a score in [0, 1]; the last range is closed at 1.0001 so a perfect 1.0 is counted
RELEVANCE_RANGES = (*RELEVANCE_RANGES[:-1], (0.9, 1.0001))


@dataclass(frozen=True)
class Bucket:
    """A bucketed column: the x axis, a breakdown or a table's row split."""

    kind: BucketKind
    field: str
    size: int = 10  # terms: how many top values
    ranges: tuple[tuple[float, float], ...] = ()  # range: [from, to) pairs
    label: str = ""


@dataclass(frozen=True)
class Metric:
    """A metric column (``count`` needs no field).

    ``filter`` is a Lucene query only this column counts (Lens's "Filter by"); ``last`` narrows it to the end of
    the time range (Lens's "Reduced time range", e.g. ``"1d"``: the last 24 h of whatever range is picked).
    """

    kind: MetricKind
    field: str | None = None
    label: str = ""
    filter: str | None = None
    last: str | None = None


@dataclass(frozen=True)
class Panel:
    """One dashboard panel. ``key`` is stable: every Kibana id of the panel is derived from it."""

    key: str
    title: str
    chart: Chart
    metrics: tuple[Metric, ...]
    buckets: tuple[Bucket, ...] = ()
    query: str | None = None  # a Lucene query for the whole panel (Lens state.query), e.g. status:dead_lettered
    width: int = 24
    height: int = 12

    @property
    def x(self) -> Bucket | None:
        """The first bucket (x axis of a chart, slices of a donut, first row split of a table)."""
        return self.buckets[0] if self.buckets else None

    @property
    def breakdown(self) -> Bucket | None:
        """The second bucket (stacked series), if any."""
        return self.buckets[1] if len(self.buckets) > 1 else None


COUNT = Metric("count", label="Stories")


def top(field_name: str, label: str, size: int = 10) -> tuple[Bucket, ...]:
    """Buckets of the top ``size`` values of a keyword field."""
    return (Bucket("terms", field_name, size=size, label=label),)


@dataclass(frozen=True)
class SavedSearch:
    """A Discover saved search embedded in a dashboard (latest stories with chosen columns); ``data_view``, when
    set, is its own (a table of another index beside the dashboard's panels)."""

    key: str
    title: str
    columns: tuple[str, ...]
    query: str
    sort: tuple[tuple[str, str], ...] = (("@timestamp", "desc"),)
    width: int = 48
    height: int = 15
    data_view: DataView | None = None


@dataclass(frozen=True)
class Pill:
    """A filter pill stored with a dashboard (``field: value``; ``disabled`` pills are one click away)."""

    field: str
    value: bool | str
    disabled: bool = False


@dataclass(frozen=True)
class Control:
    """An options-list control (a drop-down of a field's values) at the top of a dashboard."""

    key: str
    title: str
    field: str


@dataclass(frozen=True)
class Dashboard:
    """A dashboard over one data view: panels in order, then the saved searches, pills and controls."""

    key: str
    title: str
    description: str
    data_view: DataView
    panels: tuple[Panel, ...]
    searches: tuple[SavedSearch, ...] = ()
    pills: tuple[Pill, ...] = ()
    controls: tuple[Control, ...] = ()
    time_from: str = "now-30d"
