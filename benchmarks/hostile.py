"""The hostile-input suite: the real pipeline against hostile pages, feeds, subscriptions, destinations and requests.

    python benchmarks/hostile.py                          # the whole suite on the local stack (a few minutes)
    python benchmarks/hostile.py --logins 200 --window 15 # a smaller brute-force burst

Runs on the local stack (`govwatch stack up`) with a topic and index prefix of its own, the four real consumer
processes and the real poll flow, against a hostile site on 127.0.0.1 (a gzip stream followed by an endless
trailer, a page that trickles a byte every 0.5 s, an endless page, redirect loops, ~1 MB of headers, a gzip
bomb, entity expansion, a feed that is not XML), hostile subscriptions (1,000-deep nesting, 20,001 clauses,
regular expressions, leading wildcards, very long queries: offered through validation, and written straight into
the subscriptions index), a destination that answers 429 + Retry-After 60 forever, and hostile web requests (a
brute-force login burst, malformed tokens and CSRF fields, oversized bodies) against a real `govwatch web`.
Prints one table: each hostile item, what happened to it, what happened to the ordinary work beside it, and the
issue's figures with their goals. Exit 1 when any row is not OK.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average

from govwatch.settings import Settings
from govwatch_dev.chaos.hostile import run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=1000, help="wrong logins in the brute-force burst")
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the burst is spread")
    parser.add_argument("--keep-logs", action="store_true", help="keep the work directory with every process log")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="govwatch-hostile-"))
    started = time.monotonic()
    print(f"load {load_average()}; work dir {work}", flush=True)
    report = run_all(Settings(), work, lambda line: print(line, flush=True), logins=args.logins,
                     window_s=args.window)
    print(f"\n=== hostile-input suite ({time.monotonic() - started:.0f} s, load {load_average()}) ===")
    print(report.table())
    print("figures: " + json.dumps(report.figures, default=str))
    if args.keep_logs:
        print(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
