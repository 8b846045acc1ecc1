"""The source pages: ``/sources`` (every enabled feed's health) and ``/sources/{feed_id}`` (one feed: its poll
state, typical interval, extraction share, open incidents and recent stories; the link of a source health alert).

Any signed-in person may read them (feeds hold no one's subscriptions). A feed id from the URL is checked against the
registry's id pattern before any lookup; Elasticsearch or Kafka being down gives a 503 page, never a stack trace.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from govwatch.alerts.source_health_run import recent_stories
from govwatch.feeds.registry import ID_RE
from govwatch.web.context import ctx_of
from govwatch.web.event_pages import ReadFailed, read
from govwatch.web.pages import not_found, page
from govwatch.wiring.source_health import overviews

router = APIRouter(include_in_schema=False)
RECENT = 50


def _failed(request: Request, exc: ReadFailed) -> HTMLResponse:
    return page(request, "error.html", exc.status, title="Sources unavailable", message=str(exc))


@router.get("/sources")
def sources_list(request: Request) -> HTMLResponse:
    ctx = ctx_of(request)
    try:
        rows = read(lambda: overviews(ctx.settings, ctx.clock(), es=ctx.es))
    except ReadFailed as exc:
        return _failed(request, exc)
    rows.sort(key=lambda r: (not r["incidents"], r["feed_id"]))
    return page(request, "sources.html", rows=rows)


@router.get("/sources/{feed_id}")
def source(request: Request, feed_id: str) -> HTMLResponse:
    ctx = ctx_of(request)
    if not ID_RE.match(feed_id):
        return not_found(request, "feed")
    try:
        views = read(lambda: overviews(ctx.settings, ctx.clock(), only=feed_id, es=ctx.es))
        if not views:
            return not_found(request, "feed")
        stories = read(lambda: recent_stories(ctx.es, ctx.alias, feed_id, RECENT,
                                              ctx.settings.spike_search_timeout_s))
    except ReadFailed as exc:
        return _failed(request, exc)
    return page(request, "source.html", feed=views[0], stories=stories)
