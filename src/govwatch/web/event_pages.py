"""The events pages: ``/events`` (recent events by outlets, stories or time) and ``/events/{id}`` (its coverage).

Same access rule as a story page: any signed-in person may read any event (events hold no one's subscriptions).
An id from the URL is checked against the event-id pattern before any lookup; Elasticsearch being down or busy
gives a 503 page saying so, a refused read a 502, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from govwatch.adapters.event_index import ORDERS, is_event_id
from govwatch.errors import TransientError
from govwatch.web import events
from govwatch.web.context import WebContext, ctx_of
from govwatch.web.pages import not_found, page

router = APIRouter(include_in_schema=False)
DAYS = (1, 3, 7, 30, 90, 365)
DEFAULT_DAYS = 30
LIST_LIMIT = 100
T = TypeVar("T")


class ReadFailed(Exception):
    """An Elasticsearch read failed: ``status`` and a message a person can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read(fn: Callable[[], T]) -> T:
    """Run one read; turn Elasticsearch failures into :class:`ReadFailed` (503 transient, 502 refused)."""
    try:
        return fn()
    except TransientError as exc:
        raise ReadFailed(503, f"Elasticsearch is unavailable or busy; try again shortly. ({exc})") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("elasticsearch"):
            raise ReadFailed(502, f"Elasticsearch refused the read ({type(exc).__name__}).") from exc
        raise


def window(ctx: WebContext, days: int) -> tuple[int, datetime]:
    """The chosen number of days (one of DAYS, else the default) and the time it starts."""
    days = days if days in DAYS else DEFAULT_DAYS
    return days, ctx.clock() - timedelta(days=days)


def _failed(request: Request, exc: ReadFailed) -> HTMLResponse:
    return page(request, "error.html", exc.status, title="Events unavailable", message=str(exc))


@router.get("/events")
def events_list(request: Request, days: int = DEFAULT_DAYS, order: str = "outlets") -> HTMLResponse:
    ctx = ctx_of(request)
    days, since = window(ctx, days)
    order = order if order in ORDERS else "outlets"
    try:
        rows = read(lambda: events.list_events(ctx.es, ctx.settings.index_prefix, ctx.alias, since=since,
                                               limit=LIST_LIMIT, order=order))
    except ReadFailed as exc:
        return _failed(request, exc)
    return page(request, "events.html", rows=rows, days=days, day_choices=DAYS, order=order,
                orders=sorted(ORDERS))


@router.get("/events/{event_id}")
def event(request: Request, event_id: str) -> HTMLResponse:
    ctx = ctx_of(request)
    if not is_event_id(event_id):
        return not_found(request, "event")
    try:
        view = read(lambda: events.event_view(ctx.es, ctx.settings.index_prefix, ctx.alias, event_id))
    except ReadFailed as exc:
        return _failed(request, exc)
    if view is None:
        return not_found(request, "event")
    return page(request, "event.html", event=view)
