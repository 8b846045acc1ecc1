"""The JSON API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``): the same operations as the pages.

Only ``Authorization: Bearer <token>`` authenticates here (checked by govwatch.web.gate before any route);
cookies are ignored, so a page on another site cannot make a logged-in browser call this API. Secrets go in
(``webhook_url``, ``bot_token``) and never come out: destinations are returned masked, and validation errors are
reported without the rejected input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from govwatch.adapters.event_index import ORDERS, is_event_id
from govwatch.adapters.story_index import entities_with_roles
from govwatch.alerts import history
from govwatch.alerts.channel_destination import other_destination
from govwatch.alerts.spike import SpikeRule
from govwatch.alerts.store import SubscriptionExists, SubscriptionNotFound
from govwatch.alerts.subscription_service import merge_destination
from govwatch.alerts.subscriptions import (
    DEFAULT_GRANULARITY,
    Destination,
    Filters,
    Granularity,
    Mode,
    Problem,
    Subscription,
)
from govwatch.errors import DeliveryRejected, InvalidQuery, TransientError
from govwatch.web import events
from govwatch.web.context import actor_of, ctx_of, principal_of
from govwatch.web.event_pages import DAYS, ReadFailed, read, window
from govwatch.web.render import plain, safe_href
from govwatch.web.subscription_pages import error_column, spike_backtest, validation_message


def _revealed(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


class DestinationIn(BaseModel):
    """A Slack incoming-webhook URL, or a bot token and a channel; or a Teams URL, a JSON webhook URL (with an
    optional signing secret) or e-mail recipients (secrets are write-only)."""

    model_config = ConfigDict(extra="forbid")
    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    channel: str | None = None
    teams_url: SecretStr | None = None
    json_url: SecretStr | None = None
    signing_secret: SecretStr | None = None
    email_to: list[str] | None = Field(None, max_length=20)

    def merged(self, base: Destination | None) -> Destination:
        other = other_destination(_revealed(self.teams_url), _revealed(self.json_url),
                                  _revealed(self.signing_secret), ", ".join(self.email_to) if self.email_to else None)
        if other is not None:
            return other
        return merge_destination(base, self.webhook_url.get_secret_value() if self.webhook_url else None,
                                 self.bot_token.get_secret_value() if self.bot_token else None, self.channel)


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1, max_length=4000, description="Lucene query string, as typed in Kibana")
    filters: Filters = Field(default_factory=Filters)
    destination: DestinationIn
    mode: Mode = "immediate"
    granularity: Granularity = Field(DEFAULT_GRANULARITY, description="Announce each event (default), cluster or "
                                     "story once")
    owner: str | None = Field(None, description="Only an admin may file a subscription under another owner")
    allow_expensive: bool = Field(False, description="Allow leading wildcards / regexes: counts for admins only")
    spike: SpikeRule | None = Field(None, description="Spike rule: alert once when coverage surges (README)")


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    query: str | None = Field(None, min_length=1, max_length=4000)
    filters: Filters | None = None
    destination: DestinationIn | None = None
    mode: Mode | None = None
    granularity: Granularity | None = None
    owner: str | None = None
    allow_expensive: bool | None = None
    spike: SpikeRule | None = Field(None, description="Set or replace the spike rule (`govwatch spikes rm` removes it)")


class SubscriptionOut(BaseModel):
    id: str
    name: str
    query: str
    filters: Filters
    destination: str = Field(description="Masked: the webhook host or the channel, never the secret")
    mode: Mode
    granularity: Granularity = "cluster"
    paused: bool
    owner: str
    allow_expensive: bool
    problem: Problem | None = Field(None, description="Why the alert stage skips this subscription (None: it does not)")
    spike: SpikeRule | None = None
    created_at: datetime
    updated_at: datetime
    alerts_last_7_days: int = 0

    @classmethod
    def of(cls, sub: Subscription, alerts: int = 0) -> SubscriptionOut:
        return cls(**sub.public_view(), alerts_last_7_days=alerts)


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(max_length=4000)
    filters: Filters = Field(default_factory=Filters)
    allow_expensive: bool = False


class PreviewIn(QueryIn):
    days: int = Field(7, ge=1, le=365)
    top: int = Field(5, ge=1, le=50)


class QueryCheck(BaseModel):
    ok: bool
    error: str | None = None
    column: int | None = Field(None, description="1-based column Elasticsearch or the cost check pointed at")


class DayCount(BaseModel):
    day: str
    count: int


class PreviewMatch(BaseModel):
    story_id: str
    title: str
    source: str
    date: str
    snippet: str = Field(description="Plain text around the matching terms (feed text: escape it before display)")
    snippet_marked: str = Field(description="The same with <em>…</em> around matching terms; the rest is NOT escaped")


class PreviewOut(BaseModel):
    days: int
    total: int
    per_day: list[DayCount]
    top: list[PreviewMatch]


class AlertOut(BaseModel):
    alert_id: str
    subscription_id: str
    subscription_name: str
    story_id: str
    title: str
    url: str | None = Field(description="The story's link when it is an http(s) URL, else null")
    source: str
    matched_at: str
    status: Literal["pending", "digest_pending", "sending", "delivered", "failed", "held", "dead_lettered"] | str
    last_error: str | None
    attempts: int
    also_in_count: int
    possible_duplicate: bool
    event_id: str | None = Field(None, description="The story's event (GET /api/v1/events/{event_id}); null before "
                                                   "events or when unknown")


def _alert_out(row: history.AlertRow) -> AlertOut:
    return AlertOut(**{**row.__dict__, "url": safe_href(row.url)})


def _error(status: int, message: str, **extra: Any) -> JSONResponse:  # noqa: ANN401
    return JSONResponse({"detail": message, **extra}, status_code=status)


def build_api() -> FastAPI:
    api = FastAPI(title="govwatch web API", version="1", openapi_url="/openapi.json", docs_url=None, redoc_url=None,
                  description="Alert subscriptions, previews, alerts, story explanations and events. "
                              "Authenticate with `Authorization: Bearer <token>` (`govwatch web token create`).")

    @api.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the rejected input, which may be a webhook URL or a token: never do that.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @api.exception_handler(SubscriptionNotFound)
    async def _missing(_: Request, exc: SubscriptionNotFound) -> JSONResponse:
        return _error(404, "no such subscription")

    @api.exception_handler(InvalidQuery)
    async def _invalid(_: Request, exc: InvalidQuery) -> JSONResponse:
        return _error(422, str(exc), column=error_column(str(exc)))

    @api.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        return _error(422, validation_message(exc))

    @api.exception_handler(SubscriptionExists)
    async def _exists(_: Request, exc: SubscriptionExists) -> JSONResponse:
        return _error(409, str(exc))

    @api.get("/whoami")
    def whoami(request: Request) -> dict[str, Any]:
        p = principal_of(request)
        return {"owner": p.owner, "admin": p.admin}

    @api.get("/subscriptions")
    def list_subscriptions(request: Request) -> list[SubscriptionOut]:
        ctx = ctx_of(request)
        subs = ctx.service.list(actor_of(request))
        counts = ctx.service.alerts_last_days([s.id for s in subs])
        return [SubscriptionOut.of(s, counts.get(s.id, 0)) for s in subs]

    @api.post("/subscriptions", status_code=201)
    def create_subscription(request: Request, body: SubscriptionIn) -> SubscriptionOut:
        ctx = ctx_of(request)
        actor = actor_of(request)
        sub = Subscription(name=body.name, query=body.query, filters=body.filters, mode=body.mode,
                           granularity=body.granularity, spike=body.spike,
                           destination=body.destination.merged(None), allow_expensive=body.allow_expensive,
                           owner=body.owner if actor.admin and body.owner else actor.owner)
        return SubscriptionOut.of(ctx.service.create(actor, sub))

    @api.get("/subscriptions/{key}")
    def get_subscription(request: Request, key: str) -> SubscriptionOut:
        ctx = ctx_of(request)
        sub = ctx.service.get(actor_of(request), key)
        return SubscriptionOut.of(sub, ctx.service.alerts_last_days([sub.id]).get(sub.id, 0))

    @api.patch("/subscriptions/{key}")
    def edit_subscription(request: Request, key: str, body: SubscriptionPatch) -> SubscriptionOut:
        ctx = ctx_of(request)
        actor = actor_of(request)
        old = ctx.service.get(actor, key)
        changes = body.model_dump(exclude={"destination", "filters"}, exclude_none=True)
        if body.filters is not None:
            changes["filters"] = body.filters
        dest = body.destination.merged(old.destination) if body.destination is not None else None
        return SubscriptionOut.of(ctx.service.update(actor, old.id, changes, dest))

    @api.post("/subscriptions/{key}/pause")
    def pause(request: Request, key: str) -> SubscriptionOut:
        return SubscriptionOut.of(ctx_of(request).service.pause(actor_of(request), key))

    @api.post("/subscriptions/{key}/resume")
    def resume(request: Request, key: str) -> dict[str, Any]:
        done = ctx_of(request).service.resume(actor_of(request), key)
        return {"subscription": SubscriptionOut.of(done.subscription).model_dump(mode="json"),
                "released": done.released, "error": done.error}

    @api.delete("/subscriptions/{key}", status_code=204)
    def delete(request: Request, key: str) -> Response:
        ctx_of(request).service.delete(actor_of(request), key)
        return Response(status_code=204)

    @api.post("/subscriptions/{key}/test")
    def send_test(request: Request, key: str) -> JSONResponse:
        try:
            where = ctx_of(request).service.send_test(actor_of(request), key)
        except (DeliveryRejected, TransientError) as exc:
            return _error(502, f"not sent: {exc}")
        return JSONResponse({"sent": True, "destination": where})

    @api.get("/subscriptions/{key}/spike-backtest")
    def spike_backtest_api(request: Request, key: str,
                           days: int = Query(30, ge=1, le=365, description="how many days back")) -> JSONResponse:
        """When the subscription's spike rule would have fired (at, stories in the window, baseline mean)."""
        ctx = ctx_of(request)
        sub = ctx.service.get(actor_of(request), key)
        try:
            return JSONResponse(spike_backtest(ctx, sub, days))
        except TransientError as exc:
            return _error(503, f"backtest not run, try again shortly: {exc}")

    @api.post("/query/check")
    def check(request: Request, body: QueryIn) -> QueryCheck:
        try:
            ctx_of(request).service.check(body.query, body.filters, body.allow_expensive, actor=actor_of(request))
        except InvalidQuery as exc:
            return QueryCheck(ok=False, error=str(exc), column=error_column(str(exc)))
        return QueryCheck(ok=True)

    @api.post("/preview")
    def preview(request: Request, body: PreviewIn) -> PreviewOut:
        result = ctx_of(request).service.preview(body.query, body.filters, body.allow_expensive, body.days, body.top,
                                                 actor=actor_of(request))
        return PreviewOut(days=result.days, total=result.total,
                          per_day=[DayCount(day=d, count=c) for d, c in result.per_day],
                          top=[PreviewMatch(story_id=m.story_id, title=m.title, source=m.source, date=m.date,
                                            snippet=plain(m.snippet), snippet_marked=m.snippet) for m in result.top])

    @api.get("/alerts")
    def alerts(request: Request, subscription: str | None = None, status: str | None = None,
               limit: int = Query(100, ge=1, le=1000)) -> list[AlertOut]:
        ctx = ctx_of(request)
        actor = actor_of(request)
        ids = [ctx.service.get(actor, subscription).id] if subscription else ctx.visible_ids(actor)
        return [_alert_out(r) for r in history.list_alerts(ctx.es, ctx.ledger_index, ids, status=status, limit=limit)]

    @api.post("/alerts/{alert_id}/retry")
    def retry(request: Request, alert_id: str) -> JSONResponse:
        try:
            outcome = ctx_of(request).retry(actor_of(request), alert_id)
        except (KeyError, SubscriptionNotFound):
            return _error(404, "no such alert")
        except ValueError as exc:
            return _error(409, str(exc))
        return JSONResponse({"alert_id": alert_id, "outcome": outcome})

    @api.get("/stories/{story_id}")
    def story(request: Request, story_id: str) -> JSONResponse:
        ctx = ctx_of(request)
        doc = history.get_story(ctx.es, ctx.alias, story_id) if len(story_id) == 64 else None
        if doc is None:
            return _error(404, "no such story")
        actor = actor_of(request)
        rows = history.entries_for_story(ctx.es, ctx.ledger_index, doc, ctx.visible_ids(actor))
        subs = ctx.story_subscriptions(actor, rows)
        explained = history.explain(ctx.es, ctx.alias, story_id, subs)
        copies = history.cluster_copies(ctx.es, ctx.alias, doc)
        return JSONResponse({
            "story_id": doc["story_id"], "title": doc.get("title", ""), "url": safe_href(doc.get("url")),
            "source": doc.get("source", ""), "published_at": doc.get("published_at"),
            "relevance": doc.get("relevance"), "entities": entities_with_roles(doc),
            "topics": doc.get("topics", []), "topic_labels": doc.get("topic_labels", []),
            "cluster_id": doc.get("cluster_id"),
            "cluster_copies": [{"story_id": c.get("story_id"), "title": c.get("title", ""),
                                "source": c.get("source", ""), "url": safe_href(c.get("url"))} for c in copies],
            "alerts": [_alert_out(r).model_dump() for r in rows],
            "matched_subscriptions": [{"id": e.subscription.id, "name": e.subscription.name,
                                       "highlights": e.fragments} for e in explained],
        })

    @api.get("/events")
    def list_events(request: Request, days: int = Query(30, description=f"one of {list(DAYS)}"),
                    order: Literal["outlets", "stories", "recent"] = "outlets",
                    limit: int = Query(50, ge=1, le=200)) -> JSONResponse:
        ctx = ctx_of(request)
        if days not in DAYS:
            return _error(422, f"days must be one of {list(DAYS)}")
        _, since = window(ctx, days)
        try:
            rows = read(lambda: events.list_events(ctx.es, ctx.settings.index_prefix, ctx.alias, since=since,
                                                   limit=limit, order=order if order in ORDERS else "outlets"))
        except ReadFailed as exc:
            return _error(exc.status, str(exc))
        return JSONResponse({"days": days, "order": order, "events": [e.as_json() for e in rows]})

    @api.get("/events/{event_id}")
    def event(request: Request, event_id: str) -> JSONResponse:
        ctx = ctx_of(request)
        if not is_event_id(event_id):
            return _error(404, "no such event")
        try:
            view = read(lambda: events.event_view(ctx.es, ctx.settings.index_prefix, ctx.alias, event_id))
        except ReadFailed as exc:
            return _error(exc.status, str(exc))
        if view is None:
            return _error(404, "no such event")
        return JSONResponse(view.as_json())

    return api
