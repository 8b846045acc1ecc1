"""poll_feeds: feeds in deploy/feeds.yaml -> writes govwatch.stories.raw (new stories, once each);
per-feed state -> govwatch.feeds.state (compacted); published ids -> <prefix>-published (Elasticsearch).

Only *when* and *how concurrently* live here; every decision is in govwatch.feeds.poller.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.types.entrypoint import EntrypointType

from govwatch.feeds.poller import FeedOutcome, RunSummary, chunked, poll_chunk
from govwatch.feeds.registry import Feed
from govwatch.settings import Settings
from govwatch.wiring.poll import PollRuntime, build_runtime

RETRIES = 2
RETRY_DELAYS_S = [2, 10]  # short: the run is one tick; a feed still failing is rescheduled by its state
SERVE_TICK_S = 60  # how often the served deployment looks for due feeds; each feed's own interval decides
_RUNTIME: dict[str, PollRuntime] = {}


@task(cache_policy=NO_CACHE, task_run_name="poll-{label}")
def poll_feeds_chunk(feeds: list[Feed], run_key: str, final_attempt: bool,
                     label: str) -> tuple[list[FeedOutcome], list[Feed]]:
    """One task per chunk of feeds (a task run costs ~10 ms CPU, a third of a whole feed's poll); transient
    failures come back for the flow's retry, every other outcome is final."""
    return poll_chunk(_RUNTIME[run_key].poller, feeds, final_attempt=final_attempt)


@flow(name="poll-feeds", log_prints=True)
def poll_feeds(force: bool = False, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Poll every due feed (all with ``force``) and return the run summary."""
    settings = Settings(**(overrides or {}))
    runtime = build_runtime(settings)
    run_key = f"{os.getpid()}-{id(runtime)}"
    _RUNTIME[run_key] = runtime
    try:
        pending = runtime.poller.due(runtime.feeds, force=force)
        summary, started = RunSummary(feeds_due=len(pending)), time.monotonic()
        runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=settings.poll_concurrency)
        with runner:
            for attempt in range(RETRIES + 1):  # retry policy: transient errors only (is_transient), per feed
                if attempt:
                    time.sleep(RETRY_DELAYS_S[attempt - 1])
                futures = [runner.submit(poll_feeds_chunk, {
                    "feeds": chunk, "run_key": run_key, "final_attempt": attempt == RETRIES,
                    "label": f"{chunk[0].id}+{len(chunk) - 1}" + (f"-retry{attempt}" if attempt else "")})
                    for chunk in chunked(pending, settings.poll_concurrency)]
                pending = []
                for future in futures:
                    outcomes, again = future.result()
                    for outcome in outcomes:
                        summary.add(outcome)
                    pending += again
                if not pending:
                    break
        summary.elapsed_s = time.monotonic() - started
        print(summary.render())
        return {"summary": summary.render(), "feeds_due": summary.feeds_due, "polled": summary.feeds_polled,
                "not_modified": summary.not_modified, "unchanged": summary.unchanged,
                "new_stories": summary.new_stories, "errors": dict(summary.errors),
                "error_details": summary.error_details, "registry_problems": [str(p) for p in runtime.problems]}
    finally:
        _RUNTIME.pop(run_key, None)
        runtime.close()


def main(serve: bool = False, force: bool = False) -> dict[str, Any] | None:
    if not serve:
        return poll_feeds(force=force)
    from .serving import catch_up_before_serving, prefect_api  # in main(): a script hands main() to govwatch_flows

    # paused=False: serving again resumes a deployment that the previous shutdown paused. MODULE_PATH: the runner
    # re-imports govwatch_flows.poll_feeds for each run, from a wheel install as from a checkout, in any directory.
    # limit=1: runs never overlap. A runner that starts after a pause or an outage finds every run scheduled
    # meanwhile already late and would start them at once; two runs polling one feed at the same moment both see
    # its new entries as unpublished and publish them twice. One at a time, the later runs find nothing due.
    with prefect_api(Settings().prefect_api_url):
        catch_up_before_serving("poll-feeds/poll-feeds")  # an outage's late ticks: only the newest runs
        poll_feeds.serve(name="poll-feeds", interval=SERVE_TICK_S, paused=False, limit=1,
                         entrypoint_type=EntrypointType.MODULE_PATH)
    return None


if __name__ == "__main__":
    import importlib
    import sys

    # Run as a script or with -m, this module is __main__, a name the runner cannot import: hand over to the
    # installed module so the served flow is govwatch_flows.poll_feeds.poll_feeds.
    args = sys.argv[1:]
    importlib.import_module("govwatch_flows.poll_feeds").main(serve="--serve" in args, force="--all" in args)
