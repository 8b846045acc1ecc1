"""Subscriptions: stored in Elasticsearch, managed from the CLI, validated by Elasticsearch, backtested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from govwatch.adapters.es_io import make_client
from govwatch.adapters.story_index import bulk_index
from govwatch.alerts.backtest import backtest
from govwatch.alerts.query import validate
from govwatch.alerts.store import SubscriptionNotFound, SubscriptionStore
from govwatch.alerts.subscriptions import Filters
from govwatch.errors import InvalidQuery
from govwatch.models import utcnow
from tests.factories import enriched_story, raw_story
from tests.integration._alert_helpers import WEBHOOK, sub


def _cli(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {**os.environ, "GOVWATCH_TOPIC_PREFIX": settings.topic_prefix,
           "GOVWATCH_INDEX_PREFIX": settings.index_prefix, "GOVWATCH_LOG_FORMAT": "json"}
    # The installed entry point (``python -m govwatch.cli`` would register commands on a second module copy).
    govwatch = str(Path(sys.executable).with_name("govwatch"))
    return subprocess.run([govwatch, "subscriptions", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def test_store_roundtrip_pause_edit_delete(initialized) -> None:  # noqa: ANN001
    """add/get/list/pause/save/delete through the store keep every field and only list active ones as active."""
    settings = initialized
    store = SubscriptionStore(make_client(settings.es_url), settings.index("subscriptions"))
    a = store.add(sub("eu", '"AI Act"', Filters(countries=["FR"], min_relevance=0.3), mode="daily", owner="ana"))
    b = store.add(sub("uk", "Ofcom"))
    assert store.get(a.id) == a and store.get("uk") == b
    assert {s.id for s in store.active()} == {a.id, b.id}
    store.set_paused("eu", True)
    assert [s.id for s in store.active()] == [b.id]
    edited = store.save(store.get(b.id).model_copy(update={"query": "Ofcom OR ICO"}))
    assert store.get(b.id).query == "Ofcom OR ICO" and edited.updated_at >= b.updated_at
    store.delete(a.id)
    with pytest.raises(SubscriptionNotFound):
        store.get(a.id)


def test_cli_manages_subscriptions_and_masks_secrets(initialized) -> None:  # noqa: ANN001
    """The CLI adds (webhook from stdin), lists, shows, edits, pauses, resumes and removes; output never holds the
    secret."""
    settings = initialized
    added = _cli(settings, "add", "--name", "eu-fines", "--query", '"AI Act" AND (fine OR enforcement)',
                 "--country", "FR", "--webhook-url", "-", stdin=WEBHOOK + "\n")
    assert added.returncode == 0, added.stderr
    sub_id = added.stdout.split()[1]
    listed = _cli(settings, "list")
    shown = _cli(settings, "show", "eu-fines")
    assert sub_id in listed.stdout and "active" in listed.stdout
    view = json.loads(shown.stdout)
    assert view["filters"]["countries"] == ["FR"] and view["destination"] == "webhook https://hooks.slack.com/****"
    assert _cli(settings, "edit", sub_id, "--query", "Ofcom OR NIST", "--mode", "hourly").returncode == 0
    assert _cli(settings, "pause", sub_id).stdout.strip() == f"{sub_id} paused"
    assert "paused" in _cli(settings, "list").stdout
    assert _cli(settings, "resume", sub_id).stdout.strip() == f"{sub_id} active"
    after = json.loads(_cli(settings, "show", sub_id).stdout)
    assert (after["query"], after["mode"], after["paused"]) == ("Ofcom OR NIST", "hourly", False)
    outputs = [added, listed, shown]
    assert all("SECRETSECRET" not in o.stdout + o.stderr for o in outputs)
    assert _cli(settings, "rm", sub_id).returncode == 0
    gone = _cli(settings, "show", sub_id)
    assert gone.returncode == 2 and "no subscription" in gone.stderr


def test_cli_rejects_bad_query_with_position_and_reason(initialized) -> None:  # noqa: ANN001
    """An unparseable query is refused by Elasticsearch's own parser; the error names the column and the fix."""
    settings = initialized
    bad = _cli(settings, "add", "--name", "x", "--query", '"AI Act" AND (', "--webhook-url", WEBHOOK)
    assert bad.returncode == 2
    assert "query is incomplete at column 14" in bad.stderr and "close every '('" in bad.stderr
    assert "SECRETSECRET" not in bad.stderr
    assert _cli(settings, "list").stdout.strip() == ""


@pytest.mark.parametrize(("query", "words"), [("*act", "leading wildcard"), ("?ct AND ai", "leading wildcard"),
                                              ("/ai.*/", "regular expression")])
def test_expensive_queries_rejected_unless_allowed(initialized, query: str, words: str) -> None:  # noqa: ANN001
    """Leading wildcards and regexes are refused with a clear reason, and accepted with allow_expensive."""
    settings = initialized
    es = make_client(settings.es_url)
    with pytest.raises(InvalidQuery, match=f"{words}.*--allow-expensive"):
        validate(es, settings.index("stories"), query, Filters())
    validate(es, settings.index("stories"), query, Filters(), allow_expensive=True)


def test_backtest_counts_per_day(initialized) -> None:  # noqa: ANN001
    """The backtest reports matches per UTC day (empty days included) over a window that crosses a month boundary
    (the clock is given, not read), and the top matches with snippets."""
    settings = initialized
    es = make_client(settings.es_url)
    now = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)  # the 7-day window is 26 November to 2 December
    stories = []
    for n, days_ago in enumerate([0, 0, 1, 3, 3, 3, 20]):
        raw = raw_story(n, title=f"Ofcom item {n}", published_at=now - timedelta(days=days_ago))
        stories.append(enriched_story(n, text="Ofcom opened an investigation.", raw=raw))
    stories.append(enriched_story(99, text="Nothing relevant here.", raw=raw_story(99, published_at=now)))
    stories.append(enriched_story(98, text="Ofcom, later.", raw=raw_story(98, published_at=now + timedelta(days=2))))
    assert bulk_index(es, settings.index_prefix, stories) == {}
    result = backtest(es, settings.index("stories"), "Ofcom", Filters(), days=7, top=3, now=now)
    assert [d for d, _ in result.per_day] == ["2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30",
                                              "2026-12-01", "2026-12-02"]
    counts = [c for _, c in result.per_day]
    assert counts[-1] == 2 and counts[-2] == 1 and counts[-4] == 3 and sum(counts) == 6
    assert result.total == 6 and len(result.top) == 3 and "<em>Ofcom</em>" in result.top[0].snippet


def test_cli_backtest_uses_the_clock(initialized) -> None:  # noqa: ANN001
    """`subscriptions test` counts a story published a moment ago in its "last 7 days" (whatever today is)."""
    settings = initialized
    es = make_client(settings.es_url)
    raw = raw_story(1, title="Ofcom item", published_at=utcnow() - timedelta(minutes=1))
    story = enriched_story(1, text="Ofcom opened an investigation.", raw=raw)
    assert bulk_index(es, settings.index_prefix, [story]) == {}
    cli = _cli(settings, "test", "--query", "Ofcom", "--days", "7")
    assert cli.returncode == 0 and cli.stdout.startswith("1 matching stories in the last 7 days"), cli.stdout


@pytest.mark.parametrize("query", ["a/.*/", "NOT/.*/", "title:a/.*/", "(/x/)"])
def test_cli_refuses_every_regex_form_without_allow_expensive(initialized, query: str) -> None:  # noqa: ANN001
    """A '/' right after a term, NOT or field: is a regex too: refused unless the operator passes --allow-expensive."""
    settings = initialized
    refused = _cli(settings, "add", "--name", "r", "--query", query, "--webhook-url", WEBHOOK)
    assert refused.returncode == 2 and "regular expression" in refused.stderr and "--allow-expensive" in refused.stderr
    assert _cli(settings, "list").stdout.strip() == ""
    allowed = _cli(settings, "add", "--name", "r", "--query", query, "--webhook-url", WEBHOOK, "--allow-expensive")
    assert allowed.returncode == 0, allowed.stderr


def test_cli_refuses_queries_over_the_limits_with_the_limit_and_the_fix(initialized) -> None:  # noqa: ANN001
    """The issue's 1,000-deep query (which Elasticsearch would accept) is refused at save time, naming each limit."""
    settings = initialized
    deep = "(" * 1000 + "ai" + ")" * 1000
    refused = _cli(settings, "add", "--name", "deep", "--query", deep, "--webhook-url", WEBHOOK, "--allow-expensive")
    assert refused.returncode == 2
    assert "nested 1000 deep, over the limit of 20" in refused.stderr and "remove the redundant" in refused.stderr
    assert "2002 characters long, over the limit of 2000" in refused.stderr
    assert _cli(settings, "list").stdout.strip() == ""


def test_only_admins_allow_expensive_queries_and_an_edit_clears_the_flag(initialized) -> None:  # noqa: ANN001
    """A user's allow_expensive is ignored; an admin's approval holds for that query only (a user's edit of the
    query withdraws it); saving an edit clears the alert stage's problem flag."""
    from govwatch.alerts.subscription_service import Actor
    from govwatch.alerts.subscriptions import Problem
    from govwatch.wiring.web import subscription_service

    settings = initialized
    service = subscription_service(settings, make_client(settings.es_url))
    user, admin = Actor(owner="ann"), Actor(owner="root", admin=True)
    with pytest.raises(InvalidQuery, match="only an administrator can allow an expensive query"):
        service.create(user, sub("r", "ai AND title:a/.*/", allow_expensive=True))
    assert not service.create(user, sub("cheap", "ofcom", allow_expensive=True)).allow_expensive
    approved = service.create(admin, sub("r", "ai AND title:a/.*/", allow_expensive=True, owner="ann"))
    assert approved.allow_expensive
    service.store.flag(approved.id, Problem(stage="timeout", reason="slow", at=utcnow()))
    assert service.get(user, approved.id).problem is not None
    renamed = service.update(user, approved.id, {"name": "renamed", "allow_expensive": False})
    assert renamed.allow_expensive and renamed.problem is None  # same query: the admin's approval stays
    with pytest.raises(InvalidQuery, match="only an administrator"):
        service.update(user, approved.id, {"query": "ai AND /b.*/", "allow_expensive": True})
    changed = service.update(user, approved.id, {"query": "ai AND fine"})
    assert not changed.allow_expensive
    with pytest.raises(InvalidQuery, match="only an administrator"):
        service.preview("NOT/.*/", Filters(), allow_expensive=True, actor=user)
    assert service.preview("ai", Filters(), days=3, actor=user).days == 3  # previews carry the ES timeout and work
