"""Pages outside the subscription forms: login/logout, health, alerts, a story and why it matched.

Authentication and CSRF are checked before any of these run (govwatch.web.gate); handlers that read
Elasticsearch are plain functions, which FastAPI runs in its thread pool.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from govwatch.adapters.story_index import entities_with_roles
from govwatch.alerts import history
from govwatch.alerts.store import SubscriptionNotFound
from govwatch.web.auth import BadToken
from govwatch.web.context import actor_of, ctx_of, principal_of
from govwatch.web.forms import first
from govwatch.web.gate import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from govwatch.web.render import render

router = APIRouter(include_in_schema=False)
STORY_ID = re.compile(r"^[0-9a-f]{64}$")
ALERT_ID = STORY_ID
# Messages after a redirect are chosen from this table by code, so nothing a URL carries is ever reflected.
DONE = {"paused": "Paused: new alerts are held until you resume.", "resumed": "Resumed.",
        "deleted": "Subscription deleted.", "saved": "Saved.", "retried": "The alert was queued for delivery again.",
        "created": "Subscription saved."}


def page(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:  # noqa: ANN401
    """A full page: the template gets the principal, the session's CSRF token and a message from ``?done=``."""
    ctx = ctx_of(request)
    principal = getattr(request.state, "principal", None)
    done = DONE.get(request.query_params.get("done", ""))
    html = render(ctx.env, template, principal=principal, csrf=getattr(request.state, "csrf", ""), done=done,
                  kibana_configured=bool(ctx.settings.kibana_public_url), **context)
    return HTMLResponse(html, status_code=code)


def not_found(request: Request, what: str = "page") -> HTMLResponse:
    return page(request, "error.html", 404, title="Not found", message=f"No such {what} (or it is not yours).")


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int, path: str = "/") -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


@router.get("/healthz")
def healthz() -> JSONResponse:
    """Liveness only: says nothing about data or configuration."""
    return JSONResponse({"status": "ok"})


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/subscriptions", status_code=303)


def _login_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    # Keep the login cookie a browser already has: a second GET (another tab, a redirected favicon request) must
    # not invalidate the form the user is about to submit.
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token = current if re.fullmatch(r"[A-Za-z0-9_-]{32}", current) else secrets.token_urlsafe(24)
    response = page(request, "login.html", status, login_csrf=token, error=error)
    _cookie(response, request, LOGIN_CSRF_COOKIE, token, 3600, path="/login")
    return response


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = ctx_of(request)
    token = first(request.state.form, "token")
    try:
        principal = await anyio.to_thread.run_sync(ctx.auth.authenticate, token)
    except BadToken:
        return _login_page(request, 401, "That token is not valid.")
    cookie, _ = ctx.signer.issue(principal)
    response = RedirectResponse("/subscriptions", status_code=303)
    _cookie(response, request, SESSION_COOKIE, cookie, ctx.signer.ttl_s)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/alerts")
def alerts(request: Request, subscription: str | None = None, status: str | None = None) -> HTMLResponse:
    ctx = ctx_of(request)
    actor = actor_of(request)
    chosen = None
    if subscription:
        try:
            chosen = ctx.service.get(actor, subscription)
        except SubscriptionNotFound:
            return not_found(request, "subscription")
        ids: list[str] | None = [chosen.id]
    else:
        ids = ctx.visible_ids(actor)
    rows = history.list_alerts(ctx.es, ctx.ledger_index, ids, status=status or None)
    return page(request, "alerts.html", rows=rows, chosen=chosen,
                subscriptions=ctx.service.list(actor), status_filter=status or "")


@router.post("/alerts/{alert_id}/retry")
def retry_alert(request: Request, alert_id: str) -> Response:
    ctx = ctx_of(request)
    if not ALERT_ID.match(alert_id):
        return not_found(request, "alert")
    try:
        ctx.retry(actor_of(request), alert_id)
    except (KeyError, SubscriptionNotFound):
        return not_found(request, "alert")
    except ValueError as exc:
        return page(request, "error.html", 409, title="Not retried", message=str(exc))
    back = first(request.state.form, "subscription")
    target = "/alerts?done=retried" + (f"&subscription={back}" if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", back)
                                       else "")
    return RedirectResponse(target, status_code=303)


@router.get("/stories/{story_id}")
def story(request: Request, story_id: str) -> HTMLResponse:
    ctx = ctx_of(request)
    if not STORY_ID.match(story_id):
        return not_found(request, "story")
    doc = history.get_story(ctx.es, ctx.alias, story_id)
    if doc is None:
        return not_found(request, "story")
    actor = actor_of(request)
    rows = history.entries_for_story(ctx.es, ctx.ledger_index, doc, ctx.visible_ids(actor))
    subs = ctx.story_subscriptions(actor, rows)
    explanations = {e.subscription.id: e for e in history.explain(ctx.es, ctx.alias, story_id, subs)}
    kibana = {s.id: ctx.kibana_url(s.query) for s in subs}
    entities = entities_with_roles(doc)
    return page(request, "story.html", story=doc, copies=history.cluster_copies(ctx.es, ctx.alias, doc), rows=rows,
                explanations=explanations, kibana=kibana, me=principal_of(request),
                subjects=[e for e in entities if e["role"] == "subject"],
                sources_cited=[e for e in entities if e["role"] == "source"])
