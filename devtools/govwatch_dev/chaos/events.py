"""The figures of an event scenario: alerts per (subscription, event, story) instead of per (subscription, cluster).

Ground truth, as for the other scenarios, is each subscription's own query against the stored stories, with each
story's ``event_id`` as the index stage stored it. After the pipeline drained, the hourly digest run
(``govwatch.wiring.digests.run_digests``) sends the webhook "more coverage" roll-ups, as its schedule would. Then:

* ``pairs`` are the (subscription, story) units expected, ``posted`` the units Slack received (a roll-up carries
  several); ``dupbot``/``dupwh`` the units received more than once; ``miss`` the units never received;
* ``bad_threads`` counts (subscription, event) pairs that did not get exactly one top-level post, plus bot-token
  replies whose thread is not the top-level post of their own event (read from the receiver's stored messages);
* ``distinct_events`` is the number of event ids among the stories some subscription matches, to equal
  ``news_events``, the news events the site released; a note names splits (one news event under several ids) and
  merges (one id over several news events, or over other stories).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from govwatch.alerts.query import subscription_query
from govwatch.alerts.store import SubscriptionStore
from govwatch.wiring.digests import run_digests

if TYPE_CHECKING:
    from govwatch_dev.chaos.harness import ChaosRun

_LINK = re.compile(r"<(https?://[^|>]+)\|")


def _urls(payload: Any) -> list[str]:  # noqa: ANN401 - a received JSON payload
    return _LINK.findall(json.dumps(payload))


def measure_events(run: ChaosRun, docs: list[dict[str, Any]]) -> None:
    """Replace the run's alert figures by the per-event ones (see the module docstring)."""
    res = run.result
    summary = run_digests(run.settings.model_copy(update={"slack_api_base": run.slack.api_base}), "hourly")
    res.notes.append(f"hourly tick after draining: {summary}")
    event_of = {d["url"]: d.get("event_id") or f"cluster:{d['cluster_id']}" for d in docs}
    news_of = {s.url(run.site.base_url): s.event for s in run.site.released}
    store = SubscriptionStore(run.es, run.settings.index("subscriptions"))
    expected: set[tuple[str, str]] = set()
    for sub in store.active():
        resp = run.es.search(index=run.settings.index("stories"), size=10_000, source_includes=["url"],
                             query=subscription_query(sub.query, sub.filters, sub.allow_expensive))
        expected |= {(sub.id, h["_source"]["url"]) for h in resp["hits"]["hits"]}
    units: Counter[tuple[str, str, str]] = Counter()
    tops: Counter[tuple[str, str]] = Counter()
    for req in run.slack.deliveries:
        payload = req.payload or {}
        key = req.path if req.path.startswith("/services/") else payload.get("channel", "")
        sub_id, kind = run.sub_of_path.get(key, ("?", "?"))
        urls = _urls(payload)
        units.update((sub_id, url, kind) for url in urls)
        rollup = "govwatch digest:" in str(payload.get("text", ""))
        if urls and not rollup and "thread_ts" not in payload:
            tops[(sub_id, event_of.get(urls[0], f"unknown:{urls[0]}"))] += 1
    events = {(sub_id, event_of.get(url, f"unknown:{url}")) for sub_id, url in expected}
    res.expected_pairs, res.posted = len(expected), sum(units.values())
    res.dup_posts_bot = sum(n - 1 for (_, _, kind), n in units.items() if kind == "bot")
    res.dup_posts_webhook = sum(n - 1 for (_, _, kind), n in units.items() if kind == "webhook")
    posted = {(s, u) for s, u, _ in units}
    missing = sorted(expected - posted)
    res.missing, res.extra = len(missing), len(posted - expected)
    res.missing_examples = [f"{s[:8]}/{u.rsplit('/', 1)[-1]}" for s, u in missing[:5]]
    not_one = sorted(k for k in events if tops[k] != 1)
    misthreaded = _misthreaded(run, event_of)
    res.bad_threads = len(not_one) + misthreaded
    res.event_pairs, res.top_level_posts, res.pairs_not_one, res.misthreaded = (
        len(events), sum(tops.values()), len(not_one), misthreaded)
    _count_events(run, {url for _, url in expected}, event_of, news_of)
    sizes = Counter(event for _, event in events)
    res.notes.append(
        f"events: {len(sizes)} matched ({sum(1 for n in sizes.values() if n > 1)} by several subscriptions); "
        f"(subscription, event) pairs {len(events)}, top-level posts {sum(tops.values())}, pairs without exactly one "
        f"{len(not_one)}; misthreaded replies {misthreaded}; thread replies "
        f"{sum(1 for r in run.slack.deliveries if (r.payload or {}).get('thread_ts'))}; roll-up messages "
        f"{sum(1 for r in run.slack.deliveries if 'govwatch digest:' in str((r.payload or {}).get('text', '')))}")


def _count_events(run: ChaosRun, matching: set[str], event_of: dict[str, str],
                  news_of: dict[str, int | None]) -> None:
    """Distinct event ids among the matching stories against the site's news events, with splits and merges."""
    res = run.result
    res.news_events = len({e for e in news_of.values() if e is not None})
    res.distinct_events = len({event_of.get(url, f"unknown:{url}") for url in matching})
    ids_of: dict[int | None, set[str]] = {}
    news_in: dict[str, set[int | None]] = {}
    for url in matching:
        event_id = event_of.get(url, f"unknown:{url}")
        ids_of.setdefault(news_of.get(url), set()).add(event_id)
        news_in.setdefault(event_id, set()).add(news_of.get(url))
    split = sorted(str(k) for k, ids in ids_of.items() if k is not None and len(ids) > 1)
    merged = sorted(i[:12] for i, news in news_in.items() if len(news) > 1)
    others = sum(1 for url in matching if news_of.get(url) is None)
    res.notes.append(f"news events released {res.news_events}, distinct event ids among matching stories "
                     f"{res.distinct_events}; matching stories reporting none of them {others}; split news events "
                     f"{', '.join(split) or 'none'}; merged event ids {', '.join(merged) or 'none'}")


def _misthreaded(run: ChaosRun, event_of: dict[str, str]) -> int:
    """Bot-token replies whose parent is missing or reports another event."""
    wrong = 0
    for key, (_, kind) in run.sub_of_path.items():
        if kind != "bot":
            continue
        messages = run.slack.messages(key)
        by_ts = {m["ts"]: m for m in messages}
        for message in messages:
            parent_ts = message.get("thread_ts")
            if parent_ts is None or parent_ts == message["ts"]:
                continue
            parent = by_ts.get(parent_ts)
            mine, theirs = _urls(message.get("blocks")), _urls(parent.get("blocks")) if parent else []
            if not (mine and theirs and event_of.get(mine[0]) == event_of.get(theirs[0])):
                wrong += 1
    return wrong
