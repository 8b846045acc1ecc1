"""The fault-injection suite's event scenario, short: the alerter and the notifier SIGKILLed mid-burst on a private
Kafka + ES, subscriptions per event (two bot-token threads, two webhooks with roll-ups)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from govwatch_dev.chaos import SCENARIOS, ChaosRun, Params, PrivateStack, table
from govwatch_dev.chaos.event_site import news_events
from govwatch_dev.chaos.harness import SUBSCRIPTIONS

STORIES = 30  # plus ~30 % wire copies; about 60 % of the originals report one of four news events
RELEASE_S = 30.0
KILLS = 4
# A fixed clock: the site's dates are placed around the month boundary before it, whatever today is.
CLOCK = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def test_event_scenario_one_top_level_post_per_event_and_every_story_once(stack: None, tmp_path: Path) -> None:
    """With the alerter and notifier killed mid-burst, no story is lost or indexed twice, the matching stories fall
    into as many events as the site has news events (several), each (subscription, event) gets exactly one top-level
    post, bot-token replies sit in their own event's thread, every matching story reaches Slack (thread reply or
    roll-up), and no bot-token story is posted twice."""
    private = PrivateStack()
    try:
        private.start()
        run = ChaosRun(private, "event-kill", STORIES, seed=3, now=CLOCK, work_dir=tmp_path / "run",
                       release_s=RELEASE_S)
        try:
            run.setup()
            result = run.run(lambda r: SCENARIOS["event-kill"](r, Params(event_kills=KILLS)))
        finally:
            run.close()
        workers = run.workers
    finally:
        private.close()
    print(table([result]))
    assert run.granularity == "event" and result.expected_pairs > 0
    assert workers.kills.get("alert", 0) + workers.kills.get("notify", 0) == KILLS
    assert not result.hung, result.hung
    assert result.lost == 0 and result.dup_docs == 0, (result.lost, result.dup_docs)
    assert result.missing == 0, (result.missing, result.missing_examples)
    assert result.dup_posts_bot == 0, result.dup_posts_bot
    assert result.news_events == len(news_events(run.site.released)) >= 2, result.news_events
    assert result.distinct_events == result.news_events, result.notes
    assert result.event_pairs == len(SUBSCRIPTIONS), result.notes  # each subscription's query is one event's subject
    assert result.top_level_posts == result.event_pairs and result.pairs_not_one == 0, result.notes
    assert result.misthreaded == 0 and result.bad_threads == 0, result.notes
    assert result.ok()
