"""Fault injection: the real pipeline on a private Kafka + Elasticsearch, one fault per scenario.

    python benchmarks/chaos.py                                  # every scenario (about 20-25 min here)
    python benchmarks/chaos.py --scenario broker-bounce --stories 200 --seed 7

Starts its own Kafka, Elasticsearch and Prefect server on free ports (never the shared stack), a generated
news site (N AI-governance stories + syndicated near-copies on a second feed, dates across a month
boundary), four subscriptions (two webhooks, two bot-token channels) and a recording Slack-compatible
receiver, then per scenario prints stories released / published / indexed / lost, duplicate documents,
ground-truth (subscription, cluster) pairs against posts (duplicates, missing), dead letters by reason,
time to drain after the fault, recovery times, and processes that crashed or hung. The event scenario
(``event-kill``) counts per (subscription, event, story) instead, on a site whose stories burst around four news
events. Exit 1 if any scenario lost a story, doubled a document, missed an alert or doubled a bot-token post, or (event
scenario) did not find each news event as one event or did not give each (subscription, event) one top-level post.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average

from govwatch_dev.chaos import SCENARIOS, ChaosRun, Params, PrivateStack, table

DEFAULT_ORDER = ["consumer-kill", "broker-bounce", "es-pause", "es-kill", "slack-500", "slack-drop", "slack-429",
                 "slack-slow", "notify-kill-slow", "event-kill"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="run only this scenario (repeatable); default: all but baseline")
    parser.add_argument("--stories", type=int, default=300, help="original stories per scenario (plus ~30%% copies)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs in consumer-kill")
    parser.add_argument("--release-s", type=float, default=60.0, help="seconds over which stories are released")
    parser.add_argument("--drain-timeout", type=float, default=300.0,
                        help="seconds to wait for the pipeline to drain before a scenario counts as hung")
    parser.add_argument("--keep-logs", action="store_true", help="keep the work directory with every process log")
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # SIGTERM (and SIGINT, even when started in the background) unwind normally: the private stack is cleaned up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = args.scenario or DEFAULT_ORDER
    work = Path(tempfile.mkdtemp(prefix="govwatch-chaos-work-"))
    params = Params(kills=args.kills)
    results = []
    started = time.monotonic()
    print(f"load {load_average()}; scenarios {', '.join(names)}; {args.stories} stories, seed {args.seed}")
    with PrivateStack(prefect=True) as stack:
        for name in names:
            run = ChaosRun(stack, name, args.stories, args.seed, datetime.now(UTC), work / name,
                           release_s=args.release_s, drain_timeout_s=args.drain_timeout)
            t0 = time.monotonic()
            try:
                run.setup()
                results.append(run.run(lambda r, n=name: SCENARIOS[n](r, params)))
            finally:
                run.close()
            print(f"[{name}] done in {time.monotonic() - t0:.0f}s")
            print(table(results[-1:]), flush=True)
    print(f"\n=== all scenarios ({time.monotonic() - started:.0f}s, load {load_average()}) ===")
    print(table(results))
    if args.keep_logs:
        print(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r.ok() for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
