"""The browser harness itself: the real Chromium runs page script, and the checks the app tests rely on can fail.

The web-app tests assert that an injected script did *not* run and that CSP blocked inline script; these tests show
the same checks see script that does run and a CSP violation that does happen, so a pass there means something.
"""

from __future__ import annotations

from typing import Any

from tests.support.httpserve import Route, Site, serve

PAGE = b"""<!doctype html><html><head><title>harness</title><script src="/app.js"></script></head>
<body><h1 data-testid="title">harness</h1><script>window.__pwned = true; alert("inline ran");</script>
<a data-testid="link" href="/next">next</a></body></html>"""
SCRIPT = b"document.addEventListener('DOMContentLoaded', () => { document.title = 'external ran'; });"


def _site(csp: str | None) -> Site:
    site = Site()
    headers = {"Content-Type": "text/html; charset=utf-8", **({"Content-Security-Policy": csp} if csp else {})}
    site.routes["/"] = Route(PAGE, headers=headers)
    site.routes["/app.js"] = Route(SCRIPT, headers={"Content-Type": "text/javascript"})
    site.routes["/next"] = Route(b"<!doctype html><p data-testid='next'>next page</p>")
    return site


def test_inline_script_runs_without_csp_and_is_seen(page: Any) -> None:
    """Without a CSP the inline script runs: the flag is set and its alert() is caught as a dialog."""
    with serve(_site(None)) as site:
        page.goto(site.url("/"))
        page.get_by_test_id("title").wait_for()
        assert page.evaluate("window.__pwned") is True
        assert page.events.dialogs == ["alert: inline ran"]
        assert page.title() == "external ran"


def test_csp_blocks_inline_script_and_the_violation_is_recorded(page: Any) -> None:
    """With `script-src 'self'` the external script runs, the inline one does not, and Chromium reports the block."""
    with serve(_site("default-src 'self'; script-src 'self'")) as site:
        page.goto(site.url("/"))
        page.get_by_test_id("title").wait_for()
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.events.dialogs == []
        assert page.title() == "external ran"
        assert page.events.csp_violations(), page.events.console
        page.get_by_test_id("link").click()
        page.get_by_test_id("next").wait_for()
        assert page.url == site.url("/next")
