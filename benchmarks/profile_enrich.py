"""Where the enrich CPU goes: per-component split of ``enrich()`` against bare trafilatura, in one process.

    python benchmarks/profile_enrich.py [--stories 300] [--pages DIR] [--cprofile N]

No broker, no network: the Zyte benchmark pages (cycled) go through ``govwatch.enrich.pipeline.enrich`` as the
enrich stage calls it (page bytes, a RawStory without feed fields: the worst case, every metadata search runs),
and through bare ``trafilatura.extract(html)`` (defaults, one process), **interleaved page by page**, so load
from other processes on a shared machine moves both figures alike. Printed: CPU ms per story of each, their
ratio (the issue's goal: enrich <= 1.3x extraction alone), the per-component split from
govwatch.enrich.cpusplit (thread CPU) and, with ``--cprofile N``, the N functions with the most own time
in a second, profiled pass (cProfile inflates Python-heavy code, so read it for where, not how much).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO_ROOT, load_average, load_pages

from govwatch.enrich.cpusplit import CpuSplit
from govwatch.enrich.pipeline import Knowledge, enrich
from govwatch.identity import story_id
from govwatch.models import RawStory, Trace, utcnow

DEFAULT_PAGES = REPO_ROOT.parent / "shared" / "eval-data" / "extraction" / "scrapinghub-aeb" / "html"
GOAL_CPU_RATIO = 1.3  # enrich CPU per story <= 1.3x bare extraction's


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=300, help="stories (pages cycled; default 300)")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="directory of *.html.gz pages")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="also print the N functions with the most own time (a second, profiled pass)")
    return parser.parse_args()


def raw_story(n: int, key: str) -> RawStory:
    url = f"https://news.example.org/p/{n}/{key}.html"
    return RawStory(story_id=story_id(url), url=url, feed_id="bench", feed_url="https://news.example.org/feed",
                    source="Benchmark", trace=Trace(first_seen_at=utcnow()))


def main() -> int:
    args = parse_args()
    pages = load_pages(args.pages)
    n = args.stories
    print(f"profile_enrich: {n} stories over {len(pages)} pages; load average {load_average()}")
    knowledge = Knowledge.load(0.4)
    knowledge.warm_up()
    work = [(raw_story(i, pages[i % len(pages)].key), pages[i % len(pages)].html.encode("utf-8"),
             pages[i % len(pages)].html) for i in range(n)]
    trafilatura.extract(work[0][2])  # trafilatura's own lazy loads, outside the measurement
    split = CpuSplit()
    bare_s = enrich_s = 0.0
    for raw, body, html in work:
        started = time.thread_time()
        trafilatura.extract(html)
        middle = time.thread_time()
        story = enrich(raw, body, None, knowledge, split)
        story.to_bytes()
        split.lap("serialise")
        ended = time.thread_time()
        bare_s += middle - started
        enrich_s += ended - middle
    bare_ms, enrich_ms = bare_s * 1000 / n, enrich_s * 1000 / n
    ratio = enrich_ms / bare_ms
    print(f"\nbare trafilatura.extract: {bare_ms:6.1f} CPU ms/page")
    print(f"enrich() + to_bytes():    {enrich_ms:6.1f} CPU ms/story")
    met = "MET" if ratio <= GOAL_CPU_RATIO else "NOT MET"
    print(f"ratio enrich / bare: {ratio:.2f}   [goal <= {GOAL_CPU_RATIO}: {met}]")
    print("\ncomponent            CPU ms/story   share   x bare")
    for component, seconds in sorted(split.seconds.items(), key=lambda kv: -kv[1]):
        ms = seconds * 1000 / n
        print(f"  {component:<18} {ms:10.2f}   {ms / enrich_ms:6.1%}   {ms / bare_ms:5.2f}")
    print(f"  {'(sum)':<18} {sum(split.seconds.values()) * 1000 / n:10.2f}")
    if args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        for raw, body, _ in work:
            enrich(raw, body, None, knowledge).to_bytes()
        profile.disable()
        print(f"\ncProfile of a second enrich pass, top {args.cprofile} by own time:")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(args.cprofile)
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
