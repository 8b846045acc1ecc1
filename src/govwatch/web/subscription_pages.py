"""The subscription pages: list, new, view/edit, pause/resume/delete/test, and the preview/check used by app.js.

Every operation is one call of the service layer the CLI uses (govwatch.alerts.subscription_service). Everything
also works with plain form posts; ``/subscriptions/preview`` and ``/subscriptions/check`` are what the small script
calls to preview and check the query without reloading (same session and CSRF checks as any form).
"""

from __future__ import annotations

import re
from math import gcd
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from govwatch.alerts.channel_destination import other_destination
from govwatch.alerts.spike import SpikeRule
from govwatch.alerts.store import SubscriptionExists, SubscriptionNotFound
from govwatch.alerts.subscription_service import Actor, merge_destination
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.errors import DeliveryRejected, InvalidQuery, TransientError
from govwatch.web.context import WebContext, actor_of, ctx_of, secret_text
from govwatch.web.forms import SubscriptionForm, first
from govwatch.web.pages import not_found, page
from govwatch.web.render import render

router = APIRouter(include_in_schema=False)
COLUMN = re.compile(r"at column (\d+)")


def validation_message(exc: ValidationError) -> str:
    """The first error as "invalid <field>: <reason>" (never the input, which may be a secret)."""
    err = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "subscription"
    return f"invalid {where}: {err.get('msg', 'invalid value')}"


def error_column(message: str) -> int | None:
    found = COLUMN.search(message)
    return int(found.group(1)) if found else None


def destination_of(ctx: WebContext, f: SubscriptionForm, base: Destination | None) -> Destination:
    """The form's destination; parts left empty keep the saved one's, else the settings' default Slack webhook."""
    if f.channel_kind in ("teams", "json", "email"):
        parts = {"teams": (f.teams_url, None, None), "json": (None, f.json_url, f.signing_secret),
                 "email": (None, None, None)}[f.channel_kind]
        other = other_destination(*parts, email_to=f.email_to if f.channel_kind == "email" else None)
        if other is not None:
            return other
        if base is not None and base.kind == f.channel_kind:
            return base
        raise InvalidQuery(f"the {f.channel_kind} channel needs its field filled in (URL or recipients)")
    if f.webhook_url or f.bot_token or f.channel:
        token = f.bot_token or None
        if not token and f.channel and (base is None or base.kind != "bot") and ctx.settings.slack_bot_token:
            token = secret_text(ctx.settings.slack_bot_token)
        return merge_destination(base, f.webhook_url or None, token, f.channel or None)
    if base is not None:
        return base
    default = secret_text(ctx.settings.slack_webhook_url)
    if default:
        return Destination(kind="webhook", webhook_url=default)
    raise InvalidQuery("a destination is required: a Slack webhook URL, or a bot token and a channel")


def _preview(ctx: WebContext, f: SubscriptionForm, actor: Actor) -> dict[str, Any]:
    """Template values of a preview: the result, or the query error in plain words."""
    try:
        result = ctx.service.preview(f.query, f.to_filters(), f.allow_expensive, f.preview_days(), actor=actor)
    except InvalidQuery as exc:
        return {"query_error": str(exc)}
    except (ValueError, ValidationError) as exc:
        return {"query_error": validation_message(exc) if isinstance(exc, ValidationError) else str(exc)}
    peak = max((c for _, c in result.per_day), default=0)
    return {"preview": result, "peak": peak or 1}


def spike_state(ctx: WebContext, sub: Subscription | None) -> dict[str, Any] | None:
    """The subscription's spike rule state as stored by the evaluate-spikes flow (``{}``: never evaluated; None: no
    rule). Elasticsearch being unreachable leaves the page up, saying so, rather than failing it."""
    if sub is None or sub.spike is None:
        return None
    from govwatch.alerts.spike_state import SpikeStates

    try:
        state = SpikeStates(ctx.es, ctx.settings.index("spike-state")).get(sub.id)
    except TransientError as exc:
        return {"unavailable": str(exc)}
    return dict(state.doc) if state.seq_no is not None else {}


BACKTEST_DAYS = (7, 30, 90)  # the choices the subscription page offers (the API and CLI take 1 to 365)


def backtest_step(rule: SpikeRule, days: int, interval_minutes: int) -> int:
    """The finest replay step, from the evaluation interval up, whose buckets stay within one aggregation's limit
    (a 90-day backtest of a 5-minute interval would need more buckets than Elasticsearch allows)."""
    from govwatch.alerts.spike_search import MAX_BACKTEST_BUCKETS

    span_minutes = days * 1440 + rule.window_minutes * (rule.baseline_windows + 1)
    for step in (interval_minutes, 15, 30, 60, 180, rule.window_minutes):
        if step >= interval_minutes and span_minutes / gcd(rule.window_minutes, step) <= MAX_BACKTEST_BUCKETS:
            return step
    return rule.window_minutes


def spike_backtest(ctx: WebContext, sub: Subscription, days: int) -> dict[str, Any]:
    """When the subscription's spike rule would have fired over the last ``days`` days, evaluated every spike
    interval (what ``govwatch spikes test`` prints): the firings, or the reason there are none to show."""
    from govwatch.alerts.spike_run import backtest

    if sub.spike is None:
        raise InvalidQuery("this subscription has no spike rule: tick 'Spike alert' and save one first")
    if not 1 <= days <= 365:
        raise InvalidQuery("days must be between 1 and 365")
    step = backtest_step(sub.spike, days, max(1, ctx.settings.spike_interval_s // 60))
    fired = backtest(ctx.es, ctx.alias, sub, sub.spike, days, step, ctx.clock(), ctx.settings.alert_preview_timeout_s)
    return {"days": days, "step_minutes": gcd(sub.spike.window_minutes, step), "fired": [
        {"at": f.at.isoformat(), "count": f.series.current, "baseline_mean": round(f.series.mean, 2)}
        for f in fired]}


def _form_page(request: Request, f: SubscriptionForm, sub: Subscription | None = None, status: int = 200,
               **extra: Any) -> HTMLResponse:  # noqa: ANN401
    ctx = ctx_of(request)
    template = "subscription.html" if sub is not None else "subscription_new.html"
    extra.setdefault("backtest_days", BACKTEST_DAYS)
    return page(request, template, status, form=f.without_secrets(), sub=sub, spike_state=spike_state(ctx, sub),
                kibana=ctx.kibana_url(f.query) if f.query else None, may_allow_expensive=actor_of(request).admin,
                **extra)


@router.get("/subscriptions")
def list_page(request: Request) -> HTMLResponse:
    ctx = ctx_of(request)
    subs = sorted(ctx.service.list(actor_of(request)), key=lambda s: (s.name.lower(), s.id))
    counts = ctx.service.alerts_last_days([s.id for s in subs])
    return page(request, "subscriptions.html", subs=subs, counts=counts,
                kibana={s.id: ctx.kibana_url(s.query) for s in subs})


@router.get("/subscriptions/new")
def new_page(request: Request) -> HTMLResponse:
    return _form_page(request, SubscriptionForm())


@router.post("/subscriptions/preview")
def preview_fragment(request: Request) -> HTMLResponse:
    """The preview block alone (HTML rendered here, escaped like every page), for app.js to put in place."""
    ctx = ctx_of(request)
    values = _preview(ctx, SubscriptionForm.parse(request.state.form), actor_of(request))
    return HTMLResponse(render(ctx.env, "_preview.html", **values),
                        status_code=422 if "query_error" in values else 200)


@router.post("/subscriptions/check")
def check_query(request: Request) -> JSONResponse:
    """The query checked as you type: ok, or the reason (with its column) in plain words."""
    ctx = ctx_of(request)
    f = SubscriptionForm.parse(request.state.form)
    try:
        ctx.service.check(f.query, f.to_filters(), f.allow_expensive, actor=actor_of(request))
    except InvalidQuery as exc:
        return JSONResponse({"ok": False, "error": str(exc), "column": error_column(str(exc))})
    except (ValueError, ValidationError) as exc:
        message = validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
        return JSONResponse({"ok": False, "error": message, "column": None})
    return JSONResponse({"ok": True, "error": None, "column": None})


@router.post("/subscriptions/new")
def create(request: Request) -> Response:
    ctx = ctx_of(request)
    actor = actor_of(request)
    f = SubscriptionForm.parse(request.state.form)
    if first(request.state.form, "action") == "preview":
        return _form_page(request, f, **_preview(ctx, f, actor_of(request)))
    try:
        sub = Subscription(name=f.name, query=f.query, filters=f.to_filters(), mode=f.mode,
                           granularity=f.granularity, spike=f.to_spike(),
                           destination=destination_of(ctx, f, None), allow_expensive=f.allow_expensive,
                           owner=f.owner if actor.admin and f.owner else actor.owner)
        sub = ctx.service.create(actor, sub)
    except InvalidQuery as exc:  # at the top of the form: the preview block, where query errors go, is out of view
        return _form_page(request, f, status=422, form_error=str(exc))
    except ValidationError as exc:
        return _form_page(request, f, status=422, form_error=validation_message(exc))
    except (ValueError, SubscriptionExists) as exc:
        return _form_page(request, f, status=422, form_error=str(exc))
    return RedirectResponse(f"/subscriptions/{sub.id}?done=created", status_code=303)


@router.get("/subscriptions/{key}")
def view(request: Request, key: str) -> HTMLResponse:
    ctx = ctx_of(request)
    try:
        sub = ctx.service.get(actor_of(request), key)
    except SubscriptionNotFound:
        return not_found(request, "subscription")
    return _form_page(request, SubscriptionForm.of(sub), sub)


@router.get("/subscriptions/{key}/spike-backtest")
def backtest_page(request: Request, key: str, days: int = 30) -> HTMLResponse:
    """The subscription's page with its spike rule's backtest over the last ``days`` days."""
    ctx = ctx_of(request)
    try:
        sub = ctx.service.get(actor_of(request), key)
    except SubscriptionNotFound:
        return not_found(request, "subscription")
    try:
        result: dict[str, Any] = {"backtest": spike_backtest(ctx, sub, days)}
    except (InvalidQuery, TransientError) as exc:
        result = {"backtest_error": str(exc)}
    return _form_page(request, SubscriptionForm.of(sub), sub, 422 if "backtest_error" in result else 200,
                      backtest_days=BACKTEST_DAYS, **result)


@router.post("/subscriptions/{key}")
def edit(request: Request, key: str) -> Response:
    ctx = ctx_of(request)
    actor = actor_of(request)
    try:
        sub = ctx.service.get(actor, key)
    except SubscriptionNotFound:
        return not_found(request, "subscription")
    f = SubscriptionForm.parse(request.state.form)
    if first(request.state.form, "action") == "preview":
        return _form_page(request, f, sub, **_preview(ctx, f, actor_of(request)))
    try:
        changes = {"name": f.name, "query": f.query, "mode": f.mode, "granularity": f.granularity,
                   "filters": f.to_filters(),
                   "allow_expensive": f.allow_expensive, "owner": f.owner or None, "spike": f.to_spike()}
        sub = ctx.service.update(actor, sub.id, changes, destination_of(ctx, f, sub.destination))
    except InvalidQuery as exc:  # at the top of the form, as in create()
        return _form_page(request, f, sub, 422, form_error=str(exc))
    except ValidationError as exc:
        return _form_page(request, f, sub, 422, form_error=validation_message(exc))
    except ValueError as exc:
        return _form_page(request, f, sub, 422, form_error=str(exc))
    return RedirectResponse(f"/subscriptions/{sub.id}?done=saved", status_code=303)


@router.post("/subscriptions/{key}/{action}")
def act(request: Request, key: str, action: str) -> Response:
    """Pause, resume, delete, or send a test message."""
    ctx = ctx_of(request)
    actor = actor_of(request)
    if action not in ("pause", "resume", "delete", "test"):
        return not_found(request)
    try:
        sub = ctx.service.get(actor, key)
        if action == "pause":
            ctx.service.pause(actor, sub.id)
            return RedirectResponse(f"/subscriptions/{sub.id}?done=paused", status_code=303)
        if action == "delete":
            ctx.service.delete(actor, sub.id)
            return RedirectResponse("/subscriptions?done=deleted", status_code=303)
        if action == "resume":
            done = ctx.service.resume(actor, sub.id)
            if done.error is None and not done.released:
                return RedirectResponse(f"/subscriptions/{sub.id}?done=resumed", status_code=303)
            message = (f"Resumed; {done.released} alert(s) held while paused were sent as one catch-up message."
                       if done.error is None else
                       f"Resumed, but the alerts held while paused could not be sent ({done.error}); they stay "
                       "held: fix the destination, then resume again.")
            return _form_page(request, SubscriptionForm.of(done.subscription), done.subscription,
                              notice=message)
        where = ctx.service.send_test(actor, sub.id)
        return _form_page(request, SubscriptionForm.of(sub), sub, notice=f"Test message sent to {where}.")
    except SubscriptionNotFound:
        return not_found(request, "subscription")
    except (DeliveryRejected, TransientError) as exc:
        return _form_page(request, SubscriptionForm.of(sub), sub, 502, form_error=f"Not sent: {exc}")
