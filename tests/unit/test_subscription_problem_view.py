"""A subscription the alert stage flagged shows its problem where people look: web list, web page, CLI JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from govwatch.alerts.subscriptions import Destination, MatchingView, Problem, Subscription
from govwatch.web.forms import SubscriptionForm
from govwatch.web.render import make_environment, render

PROBLEM = Problem(stage="limits", reason="query refused: parentheses are nested 1000 deep <script>x</script>",
                  at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))


def flagged() -> Subscription:
    return Subscription(name="deep", query="(" * 1000 + "ai" + ")" * 1000, problem=PROBLEM,
                        destination=Destination(kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/X"))


def test_web_list_and_page_show_the_problem_escaped() -> None:
    """The list has a problem badge and the reason; the page says it is skipped and how to fix it; both escaped."""
    env = make_environment()
    sub = flagged()
    common = {"principal": None, "csrf": "t", "done": None, "kibana_configured": False}
    listing = render(env, "subscriptions.html", subs=[sub], counts={}, kibana={sub.id: None}, **common)
    assert 'data-testid="sub-problem"' in listing and "nested 1000 deep" in listing
    assert "<script>x" not in listing and "&lt;script&gt;" in listing
    assert "(" * 1000 not in listing  # the 2,002-character query is cut in the list
    page = render(env, "subscription.html", sub=sub, form=SubscriptionForm.of(sub), may_allow_expensive=False,
                  **common)
    assert "the alert stage skips this subscription" in page and "Edit it to fix the query" in page
    assert 'name="allow_expensive"' not in page  # only admins get the checkbox
    admin_page = render(env, "subscription.html", sub=sub, form=SubscriptionForm.of(sub), may_allow_expensive=True,
                        **common)
    assert 'name="allow_expensive"' in admin_page


def test_problem_round_trips_through_the_stored_document() -> None:
    """The flag is a ``problem`` object {stage, reason, at} on the stored document, read back by both views."""
    doc = flagged().storage_document()
    assert doc["problem"] == {"stage": "limits", "reason": PROBLEM.reason, "at": "2026-01-02T03:04:00Z"}
    assert Subscription.from_document(doc).problem == PROBLEM
    assert MatchingView.from_document(doc).problem == PROBLEM.reason
    assert flagged().public_view()["problem"]["stage"] == "limits"
    assert (PROBLEM.line().startswith("limits: query refused")
            and PROBLEM.line().endswith("(since 2026-01-02 03:04 UTC)"))


def test_api_shows_the_problem() -> None:
    """GET /api/subscriptions carries the flag as ``problem`` {stage, reason, at}."""
    from govwatch.web.api import SubscriptionOut

    out = SubscriptionOut.of(flagged()).model_dump(mode="json")
    assert out["problem"]["stage"] == "limits" and "nested 1000 deep" in out["problem"]["reason"]
