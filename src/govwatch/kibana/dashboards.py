"""The five dashboards govwatch ships: what each panel shows, in the order it appears."""

from __future__ import annotations

from typing import get_args

from govwatch.alerts.source_health import PAGE_STATUSES
from govwatch.kibana.panels import (
    COUNT,
    RELEVANCE_RANGES,
    Bucket,
    Control,
    Dashboard,
    Metric,
    Panel,
    Pill,
    SavedSearch,
    top,
)
from govwatch.models import ExtractionStatus

TIME = Bucket("date_histogram", "@timestamp", label="Published")
MATCHED = Bucket("date_histogram", "matched_at", label="Matched")
CLUSTERS = Metric("unique_count", "cluster_id", label="Events (unique clusters)")
OUTLETS = Metric("unique_count", "source", label="Outlets")

LATEST_RELEVANT = SavedSearch(
    key="latest-relevant", title="govwatch: latest relevant stories",
    columns=("title", "source", "topics", "url"), query="is_relevant:true")
LATEST_ALL = SavedSearch(
    key="latest-stories", title="govwatch: latest stories",
    columns=("title", "source", "primary_topic", "entity_names", "url"), query="")

COVERAGE = Dashboard(
    key="coverage", title="govwatch: Coverage", data_view="stories",
    description="AI-governance coverage over time: topics, events, entities (the stories' subjects), outlets, "
                "the sources they cite, countries, languages.",
    panels=(
        Panel("coverage-stories", "Stories", "metric", (COUNT,), width=12, height=6),
        Panel("coverage-events", "Events (unique clusters)", "metric", (CLUSTERS,), width=12, height=6),
        Panel("coverage-outlets", "Outlets", "metric", (OUTLETS,), width=12, height=6),
        Panel("coverage-languages", "Language split", "donut", (COUNT,), top("language", "Language", 10),
              width=12, height=6),
        Panel("coverage-topics", "Stories over time by primary topic", "bar_stacked", (COUNT,),
              (TIME, Bucket("terms", "primary_topic", 10, label="Primary topic")), width=48, height=14),
        Panel("coverage-clusters", "Events over time (unique clusters, not copies)", "line", (CLUSTERS,),
              (TIME,), width=24, height=12),
        Panel("coverage-sources-time", "Coverage over time by source", "bar_stacked", (COUNT,),
              (TIME, Bucket("terms", "source", 10, label="Source")), width=24, height=12),
        Panel("coverage-people", "Top people", "bar_horizontal", (COUNT,), top("entities.person.name", "Person")),
        Panel("coverage-orgs", "Top organisations (governments, regulators, labs, courts)", "bar_horizontal",
              (COUNT,), top("entities.org.name", "Organisation")),
        Panel("coverage-laws", "Top laws", "bar_horizontal", (COUNT,), top("entities.law.name", "Law")),
        Panel("coverage-event-entities", "Events that drew coverage across outlets", "table",
              (COUNT, OUTLETS, CLUSTERS), top("entities.event.name", "Event")),
        Panel("coverage-sources", "Top sources", "bar_horizontal", (COUNT,), top("source", "Source")),
        Panel("coverage-cited-sources", "Most cited sources (outlets and wires quoted, not subjects)",
              "bar_horizontal", (COUNT,), top("source_names", "Cited source")),
        Panel("coverage-source-countries", "Source countries (share)", "donut", (COUNT,),
              top("source_country", "Source country")),
        Panel("coverage-countries", "Countries mentioned", "bar_horizontal", (COUNT,),
              top("countries", "Country mentioned", 15)),
        Panel("coverage-relevance", "Relevance distribution", "bar_stacked", (COUNT,),
              (Bucket("range", "relevance", ranges=RELEVANCE_RANGES, label="Relevance"),), width=48),
        Panel("coverage-events-per-day", "Events per day (distinct events, issue 27)", "line",
              (Metric("unique_count", "event_id", label="Events"),), (TIME,), width=48, height=10),
    ),
    searches=(LATEST_RELEVANT,),
    pills=(Pill("is_relevant", True), Pill("is_cluster_representative", True, disabled=True)),
    controls=(Control("coverage-topic", "Primary topic", "primary_topic"),
              Control("coverage-source", "Source", "source"),
              Control("coverage-source-country", "Source country", "source_country"),
              Control("coverage-language", "Language", "language")),
)

ENTITY = Dashboard(
    key="entity", title="govwatch: Entity drill-down", data_view="stories",
    description="Pick one entity (Entity id control, or a filter entity_ids: <id>): its coverage, events, "
                "outlets, countries, topics and the entities named with it.",
    panels=(
        Panel("entity-stories", "Stories", "metric", (COUNT,), width=16, height=6),
        Panel("entity-events", "Events (unique clusters)", "metric", (CLUSTERS,), width=16, height=6),
        Panel("entity-outlets", "Outlets", "metric", (OUTLETS,), width=16, height=6),
        Panel("entity-time", "Coverage over time by source", "bar_stacked", (COUNT,),
              (TIME, Bucket("terms", "source", 10, label="Source")), width=48, height=12),
        Panel("entity-co-mentions", "Named together with", "bar_horizontal", (COUNT,),
              top("entity_names.keyword", "Entity", 15)),
        Panel("entity-topics", "Topics", "donut", (COUNT,), top("topics", "Topic")),
        Panel("entity-sources", "Sources", "bar_horizontal", (COUNT,), top("source", "Source")),
        Panel("entity-countries", "Countries mentioned", "bar_horizontal", (COUNT,), top("countries", "Country")),
    ),
    searches=(LATEST_ALL,),
    controls=(Control("entity-id", "Entity id", "entity_ids"),
              Control("entity-name", "Entity name", "entity_names.keyword"),
              Control("entity-topic", "Primary topic", "primary_topic")),
)

ALERTS = Dashboard(
    key="alerts", title="govwatch: Alerts", data_view="ledger",
    description="What the alert subscriptions fired: per subscription over time, delivery status, "
                "dead letters and the stories matched most.",
    panels=(
        Panel("alerts-total", "Alerts", "metric", (Metric("count", label="Alerts"),), width=16, height=6),
        Panel("alerts-delivered", "Delivered", "metric", (Metric("count", label="Delivered"),),
              query="status:delivered", width=16, height=6),
        Panel("alerts-dead", "Dead-lettered", "metric", (Metric("count", label="Dead-lettered"),),
              query="status:dead_lettered", width=16, height=6),
        Panel("alerts-per-subscription", "Alerts per subscription over time", "bar_stacked",
              (Metric("count", label="Alerts"),),
              (MATCHED, Bucket("terms", "subscription_id", 20, label="Subscription")), width=48, height=12),
        Panel("alerts-status", "Delivery status", "donut", (Metric("count", label="Alerts"),),
              top("status", "Status")),
        Panel("alerts-dead-errors", "Dead-lettered alerts by subscription and error", "table",
              (Metric("count", label="Alerts"),),
              (Bucket("terms", "subscription_id", 20, label="Subscription"),
               Bucket("terms", "last_error", 10, label="Last error")), query="status:dead_lettered"),
        Panel("alerts-top-stories", "Top matched stories", "table",
              (Metric("count", label="Subscriptions matched"), Metric("max", "also_in_count", label="Copies seen")),
              top("story_id", "Story id", 10), width=48),
    ),
)

FIRST_SEEN = Bucket("date_histogram", "first_seen", label="First reported")
EVENT_COUNT = Metric("count", label="Events")

EVENTS = Dashboard(
    key="events", title="govwatch: Events", data_view="events",
    description="Events (stories about the same happening, across outlets and languages; issue 27): the ones "
                "most outlets covered, how many begin each day, the outlets and topics behind them. An event "
                "is placed in time by its first report.",
    panels=(
        Panel("events-count", "Events", "metric", (EVENT_COUNT,), width=16, height=6),
        Panel("events-multi-outlet", "Events covered by 3 or more outlets", "metric", (EVENT_COUNT,),
              query="outlet_count:>=3", width=16, height=6),
        Panel("events-widest", "Widest coverage (outlets)", "metric",
              (Metric("max", "outlet_count", label="Outlets"),), width=16, height=6),
        Panel("events-top", "Top events (by outlets)", "table",
              (Metric("max", "outlet_count", label="Outlets"), Metric("max", "story_count", label="Stories")),
              top("title.keyword", "Event", 20), width=48, height=14),
        Panel("events-over-time", "Events over time (by first report)", "bar_stacked", (EVENT_COUNT,),
              (FIRST_SEEN,), width=48, height=12),
        Panel("events-outlets", "Outlets in the most events", "bar_horizontal", (EVENT_COUNT,),
              top("outlets", "Outlet", 15)),
        Panel("events-topics", "Main topics of events", "donut", (EVENT_COUNT,), top("main_topics", "Topic")),
    ),
    controls=(Control("events-outlet", "Outlet", "outlets"), Control("events-topic", "Topic", "main_topics")),
)

# Where a story's text came from, split as source health splits it (an extraction drift is a fall in the first)
FROM_PAGE = "extraction_status:(" + " OR ".join(sorted(PAGE_STATUSES)) + ")"
FROM_FEED = "extraction_status:(" + " OR ".join(sorted(set(get_args(ExtractionStatus)) - PAGE_STATUSES)) + ")"
HEALTH_DAYS = "now-8d"  # source health compares the last 24 h with the 7 days before them

OPEN_INCIDENTS = SavedSearch(
    key="source-health-open", title="govwatch: open source health incidents",
    columns=("feed_id", "kind", "reason", "opened_at"), query="open:true", sort=(("opened_at", "desc"),),
    height=10, data_view="health")
LAST_INCIDENTS = SavedSearch(
    key="source-health-incidents", title="govwatch: source health incidents (the latest per feed and kind)",
    columns=("feed_id", "kind", "open", "opened_at", "recovered_at", "incidents"), query="_exists_:opened_at",
    sort=(("opened_at", "desc"),), height=12, data_view="health")

SOURCE_HEALTH = Dashboard(
    key="source-health", title="govwatch: Source health", data_view="stories",
    description="Is every feed still delivering, and is its text still extracted from the page? Stories per "
                "source over time, where their text came from, per feed the last 24 h beside the whole range "
                "(8 days: the 7 days before are the difference), and the open incidents of source health.",
    panels=(
        Panel("health-sources-time", "Stories per source over time (top 10 sources)", "line", (COUNT,),
              (TIME, Bucket("terms", "source", 10, label="Source")), width=48, height=12),
        Panel("health-extraction-share", "Where the text came from (share of stories)", "bar_percentage",
              (COUNT,), (TIME, Bucket("terms", "extraction_status", 5, label="Extraction status")),
              width=48, height=12),
        Panel("health-extraction-feeds", "Text from the page vs fell back to the feed, per feed", "table",
              (COUNT, Metric("count", label="From the page", filter=FROM_PAGE),
               Metric("count", label="Fell back to the feed", filter=FROM_FEED),
               Metric("count", label="From the page (last 24 h)", filter=FROM_PAGE, last="1d"),
               Metric("count", label="Fell back (last 24 h)", filter=FROM_FEED, last="1d")),
              (Bucket("terms", "feed_id", 50, label="Feed"), Bucket("terms", "source", 1, label="Source")),
              width=48, height=14),
    ),
    searches=(OPEN_INCIDENTS, LAST_INCIDENTS),
    controls=(Control("health-source", "Source", "source"), Control("health-feed", "Feed id", "feed_id")),
    time_from=HEALTH_DAYS,
)

DASHBOARDS = (COVERAGE, ALERTS, ENTITY, EVENTS, SOURCE_HEALTH)
