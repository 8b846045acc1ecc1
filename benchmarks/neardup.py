"""Cost of a near-duplicate signature (govwatch.enrich.neardup) on real article text.

Signs 1,000-word articles built from the real stories of tests/golden/enrich and prints ms per signature (p50,
p95, max) beside the bare baseline measured in the same run: the same words split into 5-shingles, each hashed
once with blake2b (the hashing the signature cannot avoid), with no binning. The budget the module documents is
about 2 ms per 800-word article.

    python benchmarks/neardup.py --rounds 200
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from hashlib import blake2b
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "unit"))
sys.path.insert(0, str(REPO / "benchmarks"))

from _common import percentile  # noqa: E402
from enrich_golden import all_stories  # noqa: E402

from govwatch.enrich.neardup import SHINGLE_SIZE, signature  # noqa: E402

WORDS_PER_ARTICLE = 1000


def articles() -> list[str]:
    """1,000-word texts cut from the real (not hand-written) golden stories, one starting at each story."""
    texts = [s["text"] for s in all_stories() if not s["source"]["corpus"].startswith("hand") and len(s["text"]) > 500]
    words = " ".join(texts).split()
    step = max(1, len(words) // len(texts))
    return [" ".join((words[i:] + words)[:WORDS_PER_ARTICLE]) for i in range(0, len(words), step)][: len(texts)]


def bare(text: str) -> int:
    """The floor: one blake2b per word 5-shingle of the case-folded words, nothing kept."""
    words = re.findall(r"\w+", text.casefold())
    count = 0
    for i in range(max(1, len(words) - SHINGLE_SIZE + 1)):
        blake2b(" ".join(words[i:i + SHINGLE_SIZE]).encode(), digest_size=8).digest()
        count += 1
    return count


def timed(fn, texts: list[str], rounds: int) -> list[float]:  # noqa: ANN001 - a signing function
    out = []
    for r in range(rounds):
        text = texts[r % len(texts)]
        start = time.perf_counter()
        fn(text)
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    texts = articles()
    timed(signature, texts, 5)  # warm-up: numpy and the hash objects
    for name, fn in (("signature (govwatch)", signature), ("bare blake2b shingles", bare)):
        values = [v * 1000 for v in timed(fn, texts, args.rounds)]
        print(f"{name:<24} {WORDS_PER_ARTICLE}-word articles x{args.rounds}: p50 {percentile(values, 50):6.2f} ms"
              f"   p95 {percentile(values, 95):6.2f} ms   max {max(values):6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
