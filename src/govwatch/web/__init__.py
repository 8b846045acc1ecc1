"""The web app for analysts (``govwatch web``): subscriptions with previews, what fired, why a story matched.

Server-rendered pages (Jinja2, autoescaped) and a JSON API under ``/api/v1``, on the same service layer as the
CLI (govwatch.alerts.subscription_service). Every request passes govwatch.web.gate (security headers,
authentication, CSRF).
"""

from govwatch.web.app import create_app

__all__ = ["create_app"]
