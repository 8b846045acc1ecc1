"""The fault-injection suite's short variant: a few SIGKILLs and one broker bounce on a private Kafka + ES."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from govwatch_dev.chaos import SCENARIOS, ChaosRun, Params, PrivateStack, table
from govwatch_dev.stack import procs

STORIES = 30  # plus ~30 % wire copies: enough for several alerts per subscription, small enough for 2 busy cores
RELEASE_S = 30.0
KILLS = 3
BROKER_DOWN_S = 10.0
# A fixed clock: the site's dates are placed around the month boundary before it, whatever today is.
CLOCK = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def test_kills_and_broker_bounce_lose_nothing_and_double_nothing(stack: None, tmp_path: Path) -> None:
    """Under consumer/poll SIGKILLs and a broker kill -9 + restart, no story is lost or indexed twice, every
    ground-truth (subscription, cluster) alert is posted, no bot-token post is doubled, and nothing is left running."""
    private = PrivateStack()
    pids: list[int] = []
    try:
        private.start()
        pids = [p for p in (private.kafka.pid(), private.es.pid()) if p is not None]
        run = ChaosRun(private, "short", STORIES, seed=3, now=CLOCK, work_dir=tmp_path / "run", release_s=RELEASE_S)
        try:
            run.setup()
            result = run.run(lambda r: SCENARIOS["short"](r, Params(kills=KILLS, broker_down_s=BROKER_DOWN_S)))
        finally:
            run.close()
        pids += [p for p in (private.kafka.pid(),) if p is not None]
        workers = run.workers
    finally:
        private.close()
    print(table([result]))
    assert result.released == len(run.site.stories) > STORIES
    assert result.expected_pairs > 0 and sum(workers.kills.values()) == KILLS
    assert not result.hung, result.hung
    assert result.lost == 0, (result.lost, result.lost_examples)
    assert result.dup_docs == 0, result.dup_docs
    assert result.missing == 0, (result.missing, result.missing_examples)
    assert result.dup_posts_bot == 0, result.dup_posts_bot
    assert not any(procs.pid_alive(p) for p in pids), "a private server outlived the test"
    assert all(inc.proc.poll() is not None for inc in workers.history), "a pipeline process outlived the test"
    assert not private.root.exists(), f"{private.root} was not removed"
