"""Each dashboard panel's aggregation, translated from its generated Lens state, run on the real index.

Stories go through the real indexing path (story_index.bulk_index) into a private prefix, on both sides
of a month boundary (two monthly indices behind the data view's pattern), and alerts through the real
ledger. The assertions are the buckets the data implies. The Source health dashboard gets its own feeds'
stories and incidents opened and recovered by the real source health evaluation on a fixed clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from govwatch.adapters import es_io, event_index, story_index
from govwatch.adapters.es_io import make_client
from govwatch.alerts.ledger import AlertLedger, alert_id
from govwatch.alerts.source_health_run import HealthContext, evaluate_all
from govwatch.alerts.source_health_state import HealthStates
from govwatch.enrich.event_assign import EventAssigner, member_of
from govwatch.enrich.events import Event, decide
from govwatch.feeds.state import FeedState
from govwatch.kibana.dashboards import LAST_INCIDENTS, OPEN_INCIDENTS
from govwatch.kibana.objects import TIME_FIELDS, data_view_pattern, lens_panels, saved_objects, search_id
from govwatch.kibana.queries import dashboard_filters, panel_search, rows, search_request, search_rows
from govwatch.models import Alert, EnrichedStory, EntityRef, TopicRef, Trace
from tests import event_seed
from tests.factories import enriched_story, raw_story, sid

RANGE = ("2026-10-25T00:00:00Z", "2026-11-08T00:00:00Z")
MATCHED_AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)

SUMMIT = EntityRef(id="event.paris_ai_action_summit", name="AI Action Summit", type="event")
EU = EntityRef(id="Q458", name="European Union", type="org", qid="Q458")
MACRON = EntityRef(id="Q3052772", name="Emmanuel Macron", type="person", qid="Q3052772")
AI_ACT = EntityRef(id="Q109290883", name="AI Act", type="law", qid="Q109290883")
FR = EntityRef(id="FR", name="France", type="country")
IN = EntityRef(id="IN", name="India", type="country")
REUTERS = EntityRef(id="org.reuters", name="Reuters", type="org", role="source")  # quoted, not what it is about
SUMMITS = TopicRef(id="summits_events", label="Summits and events", score=0.9)
LAW = TopicRef(id="legislation_rulemaking", label="AI legislation and rule-making", score=0.8)


def _story(n: str, when: datetime, source: str, country: str, entities: list[EntityRef], topic: TopicRef,
           cluster: str, representative: bool, *, language: str = "en", relevance: float = 0.9) -> EnrichedStory:
    raw = raw_story(n, source=source, country=country, published_at=when, trace=Trace(first_seen_at=when))
    return enriched_story(n, raw=raw, entities=entities, topics=[topic], relevance=relevance,
                          is_relevant=relevance >= 0.45, cluster_id=cluster, is_cluster_representative=representative,
                          language=language)


SUMMIT_CLUSTER = sid("summit")
STORIES = [
    # the Paris summit story on 31 October (October index) and two wire copies on 1 November (November index)
    _story("summit", datetime(2026, 10, 31, 22, 0, tzinfo=UTC), "Le Monde", "FR", [SUMMIT, MACRON, FR, IN],
           SUMMITS, SUMMIT_CLUSTER, True, language="fr"),
    _story("summit-wire", datetime(2026, 11, 1, 8, 0, tzinfo=UTC), "Wire Daily", "US", [SUMMIT, MACRON, FR, IN],
           SUMMITS, SUMMIT_CLUSTER, False),
    _story("summit-guardian", datetime(2026, 11, 1, 9, 30, tzinfo=UTC), "The Guardian", "GB", [SUMMIT, FR, REUTERS],
           SUMMITS, SUMMIT_CLUSTER, False),
    _story("ai-act", datetime(2026, 11, 2, 7, 0, tzinfo=UTC), "Le Monde", "FR", [EU, AI_ACT, FR, REUTERS], LAW,
           sid("ai-act"), True, relevance=0.72),
    # not AI governance: indexed with is_relevant false, hidden by the dashboard's relevance pill
    _story("gadget", datetime(2026, 11, 2, 12, 0, tzinfo=UTC), "The Verge", "US", [EU], LAW, sid("gadget"), True,
           relevance=0.1),
]


def _event_ids(stories: list[EnrichedStory]) -> dict[str, str]:
    """Each story's event by the pure decision in publication order (these five all become one event: the wire
    copies by their cluster, the rest by shared words, EU entity and topics within 72 hours)."""
    events: list[Event] = []
    out = {}
    for story in stories:
        event = decide(member_of(story), events).event
        events = [e for e in events if e.event_id != event.event_id] + [event]
        out[story.story_id] = event.event_id
    return out


@pytest.fixture
def indexed(initialized):  # noqa: ANN001, ANN201
    """The stories above, a few ledger entries and the three events of tests/event_seed.py (assigned by the real
    EventAssigner; their stories are not indexed here) in the test's private indices."""
    es = make_client(initialized.es_url)
    assert story_index.bulk_index(es, initialized.index_prefix, STORIES, event_ids=_event_ids(STORIES)) == {}
    EventAssigner(es, initialized.index_prefix).assign([member_of(s) for s in event_seed.stories()])
    es.indices.refresh(index=event_index.index_name(initialized.index_prefix))
    ledger = AlertLedger(es, initialized.index("alert-ledger"))

    def alert(sub: str, story) -> Alert:  # noqa: ANN001
        return Alert(alert_id=alert_id(sub, story.cluster_id), subscription_id=sub, subscription_name=sub,
                     story_id=story.story_id, cluster_id=story.cluster_id, title=story.title, url=story.raw.url,
                     source=story.raw.source, trace=story.trace)

    summit, wire, _, act, _ = STORIES
    ledger.record([alert("sub-summits", summit), alert("sub-eu", act), alert("sub-france", summit)], MATCHED_AT)
    ledger.record([alert("sub-summits", wire)], MATCHED_AT)  # a wire copy: same cluster, no second alert
    ledger.mark_delivered(alert_id("sub-summits", SUMMIT_CLUSTER), MATCHED_AT)
    ledger.mark_failed(alert_id("sub-eu", act.cluster_id), "webhook revoked (404)", 8, permanent=True, at=MATCHED_AT)
    es.indices.refresh(index=initialized.index("alert-ledger"))
    return initialized, es


def _run(indexed, key: str, *, pills: bool = True, extra: list | None = None) -> list[dict]:  # noqa: ANN001
    """The rows of panel ``key`` over RANGE, with its dashboard's enabled filter pills (as Kibana opens it)."""
    settings, es = indexed
    spec, dashboard, attrs = lens_panels(settings.index_prefix)[key]
    filters = (dashboard_filters(dashboard) if pills else []) + (extra or [])
    body = panel_search(attrs, TIME_FIELDS[spec.data_view], RANGE, filters)
    resp = es.search(index=data_view_pattern(settings.index_prefix, spec.data_view), body=body)
    return rows(attrs, resp.body)


def _by(rows_: list[dict], key: str, value: str = "count") -> dict:
    return {r[key]: r[value] for r in rows_}


def test_every_panel_aggregation_runs_on_the_real_index_and_finds_data(indexed) -> None:  # noqa: ANN001
    """All Lens panels of all five dashboards translate to a search Elasticsearch accepts and each yields rows."""
    for key in lens_panels(indexed[0].index_prefix):
        result = _run(indexed, key)
        assert result and any(v for r in result for v in r.values() if isinstance(v, (int, float))), key


def test_headline_metrics_count_stories_events_and_outlets_across_the_month_boundary(indexed) -> None:  # noqa: ANN001
    """Relevant stories in two monthly indices count 4; wire copies add no event (2 clusters); 3 outlets."""
    assert _run(indexed, "coverage-stories") == [{"count": 4}]
    assert _run(indexed, "coverage-stories", pills=False) == [{"count": 5}]  # the pattern never double-counts
    assert _run(indexed, "coverage-events") == [{"unique_count(cluster_id)": 2}]
    assert _run(indexed, "coverage-outlets") == [{"unique_count(source)": 3}]
    representative_only = [{"match_phrase": {"is_cluster_representative": True}}]
    assert _run(indexed, "coverage-stories", extra=representative_only) == [{"count": 2}]


def test_stories_over_time_are_stacked_by_primary_topic_per_day(indexed) -> None:  # noqa: ANN001
    """The topic chart has one bar per day split by primary topic: summit 1 then 2, legislation 1 on 2 November."""
    got = {(r["@timestamp"][:10], r["primary_topic"]): r["count"] for r in _run(indexed, "coverage-topics")}
    assert got == {("2026-10-31", "summits_events"): 1, ("2026-11-01", "summits_events"): 2,
                   ("2026-11-02", "legislation_rulemaking"): 1}


def test_unique_clusters_over_time_count_events_not_copies(indexed) -> None:  # noqa: ANN001
    """Two wire copies on 1 November are one event that day, not two."""
    got = {r["@timestamp"][:10]: r["unique_count(cluster_id)"] for r in _run(indexed, "coverage-clusters")}
    assert got == {"2026-10-31": 1, "2026-11-01": 1, "2026-11-02": 1}


def test_the_summit_shows_under_its_event_with_its_outlets_and_one_cluster(indexed) -> None:  # noqa: ANN001
    """The events table lists the AI Action Summit with 3 stories from 3 outlets forming 1 cluster."""
    assert _run(indexed, "coverage-event-entities") == [
        {"entities.event.name": "AI Action Summit", "count": 3, "unique_count(source)": 3,
         "unique_count(cluster_id)": 1}]


def test_top_entities_sources_and_countries(indexed) -> None:  # noqa: ANN001
    """People, organisations, laws, sources, source countries and countries mentioned rank as indexed.

    Reuters, an organisation cited as a source by two relevant stories, is counted among the cited sources and
    not among the top organisations (those are the stories' subjects).
    """
    assert _by(_run(indexed, "coverage-people"), "entities.person.name") == {"Emmanuel Macron": 2}
    assert _by(_run(indexed, "coverage-orgs"), "entities.org.name") == {"European Union": 1}
    assert _by(_run(indexed, "coverage-cited-sources"), "source_names") == {"Reuters": 2}
    assert _by(_run(indexed, "coverage-laws"), "entities.law.name") == {"AI Act": 1}
    assert _run(indexed, "coverage-sources")[0] == {"source": "Le Monde", "count": 2}
    assert _by(_run(indexed, "coverage-sources"), "source") == {"Le Monde": 2, "The Guardian": 1, "Wire Daily": 1}
    assert _by(_run(indexed, "coverage-source-countries"), "source_country") == {"FR": 2, "GB": 1, "US": 1}
    assert _by(_run(indexed, "coverage-countries"), "countries") == {"FR": 4, "IN": 2}
    assert _by(_run(indexed, "coverage-languages"), "language") == {"en": 3, "fr": 1}
    per_source_day = {(r["@timestamp"][:10], r["source"]): r["count"] for r in _run(indexed, "coverage-sources-time")}
    assert per_source_day[("2026-11-01", "Wire Daily")] == 1 and len(per_source_day) == 4


def test_relevance_distribution_puts_each_story_in_its_tenth(indexed) -> None:  # noqa: ANN001
    """Without the relevance pill, scores 0.9 x3, 0.72 and 0.1 land in the 0.9, 0.7 and 0.1 ranges."""
    got = _by(_run(indexed, "coverage-relevance", pills=False), "relevance")
    assert {k: v for k, v in got.items() if v} == {"0.9-1.0001": 3, "0.7-0.8": 1, "0.1-0.2": 1}


def test_entity_drill_down_with_a_filter_on_one_entity_id(indexed) -> None:  # noqa: ANN001
    """Filtered to entity_ids Q458, the Entity dashboard shows its two stories, co-mentions and sources only."""
    only_eu = [{"match_phrase": {"entity_ids": "Q458"}}]
    assert _run(indexed, "entity-stories", extra=only_eu) == [{"count": 2}]
    assert _by(_run(indexed, "entity-co-mentions", extra=only_eu), "entity_names.keyword") == {
        "European Union": 2, "AI Act": 1, "France": 1}
    assert _by(_run(indexed, "entity-sources", extra=only_eu), "source") == {"Le Monde": 1, "The Verge": 1}
    summit = [{"match_phrase": {"entity_ids": SUMMIT.id}}]
    assert _run(indexed, "entity-events", extra=summit) == [{"unique_count(cluster_id)": 1}]
    assert _by(_run(indexed, "entity-topics", extra=summit), "topics") == {"summits_events": 3}


def test_alerts_dashboard_shows_subscriptions_statuses_dead_letters_and_top_stories(indexed) -> None:  # noqa: ANN001
    """Three alerts (the wire copy adds none), one delivered, one dead-lettered with its error, summit matched twice."""
    assert _run(indexed, "alerts-total") == [{"count": 3}]
    assert _run(indexed, "alerts-delivered") == [{"count": 1}]
    assert _run(indexed, "alerts-dead") == [{"count": 1}]
    per_sub = {(r["matched_at"][:10], r["subscription_id"]): r["count"]
               for r in _run(indexed, "alerts-per-subscription")}
    assert per_sub == {("2026-11-02", "sub-summits"): 1, ("2026-11-02", "sub-eu"): 1,
                       ("2026-11-02", "sub-france"): 1}
    assert _by(_run(indexed, "alerts-status"), "status") == {"delivered": 1, "dead_lettered": 1, "pending": 1}
    assert _run(indexed, "alerts-dead-errors") == [
        {"subscription_id": "sub-eu", "last_error": "webhook revoked (404)", "count": 1}]
    top = _run(indexed, "alerts-top-stories")
    assert top[0] == {"story_id": sid("summit"), "count": 2, "max(also_in_count)": 1}
    assert {r["story_id"] for r in top} == {sid("summit"), sid("ai-act")}


def test_events_dashboard_counts_events_by_first_report_outlets_and_topics(indexed) -> None:  # noqa: ANN001
    """The events dashboard over {prefix}-events: 3 events, the summit first in "Top events (by outlets)" with 3
    outlets, one event begun on 2 November and two on 3 November, Le Monde in two events."""
    settings, es = indexed
    summit = event_index.get_event(es, settings.index_prefix, event_seed.stories()[0].story_id)
    assert summit is not None and summit["outlet_count"] == 3
    assert _run(indexed, "events-count") == [{"count": 3}]
    assert _run(indexed, "events-multi-outlet") == [{"count": 1}]
    assert _run(indexed, "events-widest") == [{"max(outlet_count)": 3.0}]
    top_rows = _run(indexed, "events-top")
    assert top_rows[0] == {"title.keyword": summit["title"], "max(outlet_count)": 3.0, "max(story_count)": 3.0}
    assert sorted((r["max(outlet_count)"], r["max(story_count)"]) for r in top_rows) == [(1, 1), (2, 2), (3, 3)]
    per_day = {r["first_seen"][:10]: r["count"] for r in _run(indexed, "events-over-time")}
    assert per_day == {"2026-11-02": 1, "2026-11-03": 2}
    assert _by(_run(indexed, "events-outlets"), "outlets") == {
        "Le Monde": 2, "Reuters": 1, "Wire Daily": 1, "Der Standard": 1, "The Verge": 1}
    assert _by(_run(indexed, "events-topics"), "main_topics") == {
        "summits_events": 1, "legislation_rulemaking": 1, "compute_export_controls": 1}


def test_events_per_day_on_the_stories_index_count_distinct_event_ids(indexed) -> None:  # noqa: ANN001
    """The coverage dashboard's events-per-day line counts distinct event_id of relevant stories: one event a day,
    however many outlets carried it (2 stories on 1 November, 1 event)."""
    got = {r["@timestamp"][:10]: r["unique_count(event_id)"] for r in _run(indexed, "coverage-events-per-day")}
    assert got == {"2026-10-31": 1, "2026-11-01": 1, "2026-11-02": 1}
    stories_per_day = {r["@timestamp"][:10]: r["count"] for r in _run(indexed, "coverage-topics")}
    assert stories_per_day["2026-11-01"] == 2


# Source health: 8 days ending at midnight of 1/2 November, so the last 24 h (1 November) sit in the November index
# and the 7 days before them in the October one; the evaluation's clock is that midnight, never today.
HEALTH_RANGE = ("2026-10-25T00:00:00Z", "2026-11-02T00:00:00Z")
HEALTH_NOW = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
HEALTH_LATER = HEALTH_NOW + timedelta(minutes=10)  # the broken feed's next poll succeeds
OCT25 = datetime(2026, 10, 25, tzinfo=UTC)
FEEDS = [("lemonde", "Le Monde"), ("guardian", "The Guardian"), ("wire", "Wire Daily"), ("broken", "Broken Feed")]


def _feed_story(feed: str, n: int, when: datetime, status: str) -> EnrichedStory:
    source = dict(FEEDS)[feed]
    raw = raw_story(f"{feed}-{n}", feed_id=feed, source=source, published_at=when, trace=Trace(first_seen_at=when))
    return enriched_story(f"{feed}-{n}", raw=raw, extraction_status=status)


def _daily(feed: str, days: int, hour: int, status: str) -> list[EnrichedStory]:
    return [_feed_story(feed, d, OCT25 + timedelta(days=d, hours=hour), status) for d in range(days)]


NOV1 = datetime(2026, 11, 1, tzinfo=UTC)
HEALTH_STORIES = [
    # Le Monde: extracted every day for a week, then a redesign: six stories on 1 November fall back to the summary
    *_daily("lemonde", 7, 10, "extracted"),
    *[_feed_story("lemonde", 100 + h, NOV1 + timedelta(hours=h), "feed_summary") for h in (8, 10, 12, 14, 16, 18)],
    # The Guardian: its fallback extractor every day, one extracted and one fallen back on 1 November
    *_daily("guardian", 7, 12, "extracted_fallback"),
    _feed_story("guardian", 100, NOV1 + timedelta(hours=12), "extracted"),
    _feed_story("guardian", 101, NOV1 + timedelta(hours=13), "feed_content"),
    # Wire Daily: always ships its text in the feed, and went quiet after 28 October
    *_daily("wire", 4, 9, "feed_content"),
    # Broken Feed: fine until its polls began failing on 30 October
    *_daily("broken", 6, 6, "extracted"),
]


def _polls(broken_ok: bool) -> dict[str, FeedState]:
    polls = {f: FeedState(f, last_success_at=HEALTH_NOW - timedelta(minutes=5), last_attempt_at=HEALTH_NOW)
             for f, _ in FEEDS}
    if not broken_ok:
        polls["broken"] = FeedState("broken", last_success_at=datetime(2026, 10, 30, 7, 0, tzinfo=UTC),
                                    last_attempt_at=HEALTH_NOW, consecutive_failures=5, last_error="HTTP 503")
    return polls


@pytest.fixture
def health_indexed(initialized):  # noqa: ANN001, ANN201
    """The four feeds' stories in the October and November indices, and two real source health evaluations: at
    midnight (Broken Feed failing, Wire Daily silent, Le Monde's extraction dropped) and ten minutes later, when
    Broken Feed polls again successfully (its incident recovers)."""
    es = make_client(initialized.es_url)
    prefix = initialized.index_prefix
    assert story_index.bulk_index(es, prefix, HEALTH_STORIES) == {}
    months = {es_io.stories_index_for(prefix, s.published_at) for s in HEALTH_STORIES}
    assert len(months) == 2  # both sides of the month boundary
    ctx = HealthContext(es, initialized.index("stories"), HealthStates(es, initialized.index("source-health")),
                        AlertLedger(es, initialized.index("alert-ledger")), lambda alerts: None, None,
                        "https://govwatch.example.org")
    first = evaluate_all(ctx, FEEDS, _polls(broken_ok=False), HEALTH_NOW)
    assert sorted(first.changed) == ["open: broken failing", "open: lemonde extraction", "open: wire silent"]
    second = evaluate_all(ctx, FEEDS, _polls(broken_ok=True), HEALTH_LATER)
    assert second.changed == ["recover: broken failing"]
    es.indices.refresh(index=initialized.index("source-health"))
    return initialized, es


def _health_run(indexed, key: str, extra: list | None = None) -> list[dict]:  # noqa: ANN001
    settings, es = indexed
    spec, _dashboard, attrs = lens_panels(settings.index_prefix)[key]
    body = panel_search(attrs, TIME_FIELDS[spec.data_view], HEALTH_RANGE, extra or [])
    resp = es.search(index=data_view_pattern(settings.index_prefix, spec.data_view), body=body)
    return rows(attrs, resp.body)


def _search_run(indexed, search, extra: list | None = None) -> list[dict]:  # noqa: ANN001
    """The saved search's table as Discover shows it on the dashboard (its data view has no time field)."""
    settings, es = indexed
    obj = next(o for o in saved_objects(settings.index_prefix)
               if o["type"] == "search" and o["id"] == search_id(settings.index_prefix, search))
    body = search_request(obj, TIME_FIELDS.get(search.data_view), HEALTH_RANGE, extra or [])
    resp = es.search(index=data_view_pattern(settings.index_prefix, search.data_view), body=body)
    return search_rows(obj, resp.body)


def test_stories_per_source_over_time_show_the_feed_that_went_quiet(health_indexed) -> None:  # noqa: ANN001
    """Per day and source: Wire Daily has stories on 25-28 October only, Le Monde 6 on 1 November (November
    index) and 1 a day before; every one of the 32 stories is counted once across the two monthly indices."""
    got = {(r["@timestamp"][:10], r["source"]): r["count"] for r in _health_run(health_indexed, "health-sources-time")}
    assert sum(got.values()) == len(HEALTH_STORIES) == 32
    assert sorted(day for day, source in got if source == "Wire Daily") == [
        "2026-10-25", "2026-10-26", "2026-10-27", "2026-10-28"]
    assert {day: n for (day, source), n in got.items() if source == "Le Monde"} == {
        **{f"2026-10-{d}": 1 for d in range(25, 32)}, "2026-11-01": 6}
    assert "2026-10-31" not in {day for day, source in got if source == "Broken Feed"}


def test_extraction_share_per_day_shows_the_drift_overall_and_for_one_source(health_indexed) -> None:  # noqa: ANN001
    """The percentage chart's counts per day and status: on 1 November 1 of 8 stories came from the page (all 2
    on 31 October); filtered to Le Monde (the Source control) it falls from 100 % to 0 %."""
    def page_share(extra: list | None = None) -> dict[str, float]:
        per_day: dict[str, dict[str, int]] = {}
        for r in _health_run(health_indexed, "health-extraction-share", extra):
            per_day.setdefault(r["@timestamp"][:10], {})[r["extraction_status"]] = r["count"]
        return {day: sum(n for s, n in counts.items() if s.startswith("extracted")) / sum(counts.values())
                for day, counts in per_day.items()}

    overall = page_share()
    assert overall["2026-11-01"] == 1 / 8 and overall["2026-10-31"] == 1.0 and overall["2026-10-25"] == 3 / 4
    by_day = {(r["@timestamp"][:10], r["extraction_status"]): r["count"]
              for r in _health_run(health_indexed, "health-extraction-share")}
    assert {s: n for (day, s), n in by_day.items() if day == "2026-11-01"} == {
        "feed_summary": 6, "extracted": 1, "feed_content": 1}
    le_monde = page_share([{"match_phrase": {"source": "Le Monde"}}])
    assert le_monde == {**{f"2026-10-{d}": 1.0 for d in range(25, 32)}, "2026-11-01": 0.0}


def test_per_feed_table_counts_page_and_feed_text_over_the_range_and_its_last_24_hours(health_indexed) -> None:  # noqa: ANN001
    """Per feed: stories, from the page, fell back, and the same two over the last 24 h of the range (1 November,
    Lens's reduced time range), ordered by stories; Le Monde 7 from the page before, 6 fallen back in the last day."""
    got = _health_run(health_indexed, "health-extraction-feeds")
    page, feed = "From the page", "Fell back to the feed"
    page_24, feed_24 = "From the page (last 24 h)", "Fell back (last 24 h)"
    assert [(r["feed_id"], r["source"], r["count"], r[page], r[feed], r[page_24], r[feed_24]) for r in got] == [
        ("lemonde", "Le Monde", 13, 7, 6, 0, 6),
        ("guardian", "The Guardian", 9, 8, 1, 1, 1),
        ("broken", "Broken Feed", 6, 6, 0, 0, 0),
        ("wire", "Wire Daily", 4, 0, 4, 0, 0)]


def test_open_incidents_and_incident_history_come_from_the_source_health_index(health_indexed) -> None:  # noqa: ANN001
    """The open-incidents table lists Le Monde's extraction drop and Wire Daily's silence with their reasons and
    opening time; the history adds Broken Feed's failure, recovered ten minutes later; a Feed id control narrows
    both, while a Source filter (a stories-only field) leaves them empty."""
    opened = {(r["feed_id"], r["kind"]): r for r in _search_run(health_indexed, OPEN_INCIDENTS)}
    assert set(opened) == {("lemonde", "extraction"), ("wire", "silent")}
    assert all(datetime.fromisoformat(r["opened_at"]) == HEALTH_NOW for r in opened.values())
    assert "no new story" in opened[("wire", "silent")]["reason"]
    assert "extracted" in opened[("lemonde", "extraction")]["reason"]
    history = {(r["feed_id"], r["kind"]): r for r in _search_run(health_indexed, LAST_INCIDENTS)}
    assert set(history) == {("lemonde", "extraction"), ("wire", "silent"), ("broken", "failing")}
    broken = history[("broken", "failing")]
    assert broken["open"] is False and broken["incidents"] == 1
    assert datetime.fromisoformat(broken["opened_at"]) == HEALTH_NOW
    assert datetime.fromisoformat(broken["recovered_at"]) == HEALTH_LATER
    assert history[("wire", "silent")]["recovered_at"] is None
    wire_only = [{"match_phrase": {"feed_id": "wire"}}]
    assert [(r["feed_id"], r["kind"]) for r in _search_run(health_indexed, OPEN_INCIDENTS, wire_only)] == [
        ("wire", "silent")]
    assert _search_run(health_indexed, OPEN_INCIDENTS, [{"match_phrase": {"source": "Le Monde"}}]) == []
