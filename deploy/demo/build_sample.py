"""Build the offline demo sample (feeds/, articles/, registry.yaml, sample.json) from ``source/stories.jsonl``.

    .venv/bin/python deploy/demo/build_sample.py [--out deploy/demo]

``source/stories.jsonl`` is the hand-curated sample (one story a line; fields, events, licences and provenance in
``source/README.md``). This script decides only how the stories are served, and nothing about their content:

- one RSS 2.0 feed per outlet (``feeds/<outlet-key>.xml``), so an event's stories come from several feeds and the
  pipeline counts several outlets (an event's outlets are the feeds' names); each item carries the title, the
  summary as its description, the publication date and the original URL as a non-permalink guid;
- one page per story (``articles/<id>.html``): the openly licensed page text with its licence and attribution
  where the sample has it; otherwise a minimal page holding only the title and the summary (what the feed
  carries), never text the sample does not ship;
- the feed registry (``registry.yaml``) and a manifest (``sample.json``: slug, outlet key, label, event, licence,
  date, original URL of every story).

Every link is written with the literal ``{base}``, replaced by the demo server with its own origin.
The output is deterministic: rebuilding from the same source gives the same bytes.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections import defaultdict
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source" / "stories.jsonl"
BASE = "{base}"
DC = "http://purl.org/dc/elements/1.1/"
KEY_CHARS = 48  # outlet keys become file names; long outlet names are cut at a word boundary

# The licence values of source/README.md that allow page text, with the attribution each one asks for.
ATTRIBUTION = {
    "public-domain-us-gov": "Work of the United States federal government, not subject to copyright (17 U.S.C. 105).",
    "OGL-3.0": "Contains public sector information licensed under the Open Government Licence v3.0.",
    "open-parliament-licence-3.0": "Contains Parliamentary information licensed under the Open Parliament Licence "
                                   "v3.0.",
    "EC-reuse-2011/833/EU": "© European Union. Reuse authorised under Commission Decision 2011/833/EU.",
    "EP-reuse-attribution": "© European Union – Source: EP.",
    "CC-BY-2.5": "Wikinews contributors, licensed under Creative Commons Attribution 2.5.",
}
GOV_LICENCES = {"public-domain-us-gov", "OGL-3.0", "open-parliament-licence-3.0", "EC-reuse-2011/833/EU",
                "EP-reuse-attribution"}

PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title} | {site}</title>
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{site}">
<meta property="article:published_time" content="{published}">
<meta name="govwatch-demo:original-url" content="{original}">
<meta name="govwatch-demo:licence" content="{licence}">
</head>
<body>
<main>
<article>
<h1>{title}</h1>
<p class="byline">{site} | <time datetime="{published}">{published_human}</time></p>
{body}
</article>
</main>
<footer>
<p>{notice}</p>
<p>Original: <a href="{original}">{original}</a></p>
</footer>
</body>
</html>
"""
FEED_ONLY_NOTICE = ("Offline demo page: only the headline and the summary this outlet's feed carries. The full story "
                    "is the publisher's and is not included.")


def outlet_key(outlet: str) -> str:
    """A file-name key for an outlet: lower-case words joined by dashes, cut at a word boundary."""
    words = re.findall(r"[a-z0-9]+", outlet.lower().replace("&", " and ").replace("'", ""))
    key = ""
    for word in words:
        if len(key) + len(word) + 1 > KEY_CHARS:
            break
        key = f"{key}-{word}" if key else word
    return key


def country_of(url: str) -> str | None:
    """The registry's country for an outlet, from its URL's host (None when the host says nothing)."""
    host = urlsplit(url).hostname or ""
    if host.endswith(".uk"):
        return "GB"
    if host.endswith((".europa.eu", ".eu")):
        return "EU"
    if host.endswith(".gov"):
        return "US"
    return None


def paragraphs(text: str) -> str:
    return "\n".join(f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n") if p.strip())


def article_page(story: dict[str, Any]) -> str:
    """The story's page: licensed text with its attribution, else only the title and summary."""
    published = datetime.fromisoformat(story["published"])
    if story["body"]:
        body = f'<div class="article-body">\n{paragraphs(story["body"])}\n</div>'
        notice = f"Offline demo copy of text published by {story['outlet']}. {ATTRIBUTION[story['licence']]}"
    else:
        body = f'<p class="standfirst">{html.escape(story["summary"])}</p>'
        notice = FEED_ONLY_NOTICE
    return PAGE.format(lang=story["language"], title=html.escape(story["title"]), site=html.escape(story["outlet"]),
                       published=published.isoformat(), published_human=published.strftime("%d %B %Y %H:%M UTC"),
                       original=html.escape(story["url"]), licence=html.escape(story["licence"]), body=body,
                       notice=html.escape(notice))


def feed_document(key: str, outlet: str, stories: list[dict[str, Any]]) -> bytes:
    """One outlet's RSS 2.0 feed, newest item first."""
    rss = etree.Element("rss", version="2.0", nsmap={"dc": DC})
    channel = etree.SubElement(rss, "channel")
    etree.SubElement(channel, "title").text = outlet
    etree.SubElement(channel, "link").text = f"{BASE}/"
    etree.SubElement(channel, "description").text = f"{outlet} (govwatch offline demo sample)"
    for story in sorted(stories, key=lambda s: s["published"], reverse=True):
        item = etree.SubElement(channel, "item")
        etree.SubElement(item, "title").text = story["title"]
        etree.SubElement(item, "link").text = f"{BASE}/articles/{story['id']}.html"
        etree.SubElement(item, "description").text = story["summary"]
        etree.SubElement(item, "pubDate").text = format_datetime(datetime.fromisoformat(story["published"]),
                                                                 usegmt=True)
        etree.SubElement(item, "guid", isPermaLink="false").text = story["url"]
        etree.SubElement(item, f"{{{DC}}}language").text = story["language"]
    etree.indent(rss, space="  ")
    return etree.tostring(rss, xml_declaration=True, encoding="UTF-8") + b"\n"


def registry_text(outlets: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "# Feed registry of the offline demo sample, written by build_sample.py (do not edit: rebuild). Same format as",
        "# deploy/feeds.yaml. `{base}` is filled in by govwatch_dev.demo_site.DemoSite.registry_path(); the demo polls",
        "# 127.0.0.1, which the SSRF guard refuses unless 127.0.0.1/32 is in GOVWATCH_SSRF_ALLOWLIST (govwatch demo",
        "# adds it). One feed per outlet; every feed goes through the AI-relevance filter.",
        "feeds:",
    ]
    for key, stories in outlets.items():
        first = stories[0]
        kind = "gov" if first["licence"] in GOV_LICENCES else "news"
        languages = {s["language"] for s in stories}
        feed: dict[str, Any] = {"id": f"demo-{key}"[:80], "name": first["outlet"]}
        if (country := country_of(first["url"])) is not None:
            feed["country"] = country
        feed |= {"language": languages.pop() if len(languages) == 1 else None, "kind": kind,
                 "needs_relevance_filter": True, "confidence": "high",
                 "note": f"offline sample: {len(stories)} stor{'y' if len(stories) == 1 else 'ies'}",
                 "url": f"{BASE}/feeds/{key}.xml"}
        lines.append("  - " + json.dumps({k: v for k, v in feed.items() if v is not None}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def build(source: Path, out: Path) -> list[dict[str, Any]]:
    """Write the sample's files under ``out``; returns the stories read."""
    stories = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    outlets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for story in stories:
        outlets[outlet_key(story["outlet"])].append(story)
    names = {key: {s["outlet"] for s in members} for key, members in outlets.items()}
    clashes = {key: sorted(n) for key, n in names.items() if len(n) > 1}
    if clashes:
        raise SystemExit(f"two outlets share a feed key: {clashes}")
    for sub in ("feeds", "articles"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for old in (out / sub).iterdir():  # a story removed from the source loses its page and feed
            old.unlink()
    outlets = dict(sorted(outlets.items()))
    for key, members in outlets.items():
        (out / "feeds" / f"{key}.xml").write_bytes(feed_document(key, members[0]["outlet"], members))
    for story in stories:
        (out / "articles" / f"{story['id']}.html").write_text(article_page(story), encoding="utf-8")
    (out / "registry.yaml").write_text(registry_text(outlets), encoding="utf-8")
    manifest = [{"slug": s["id"], "outlet": outlet_key(s["outlet"]), "source": s["outlet"], "label": s["label"],
                 "event": s["event"], "licence": s["licence"], "title": s["title"], "published": s["published"],
                 "has_content": bool(s["body"]), "original_url": s["url"]} for s in stories]
    (out / "sample.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return stories


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="default: deploy/demo/source/stories.jsonl")
    parser.add_argument("--out", type=Path, default=HERE, help="default: deploy/demo")
    args = parser.parse_args(argv)
    stories = build(args.source, args.out)
    feeds = len({outlet_key(s["outlet"]) for s in stories})
    with_text = sum(1 for s in stories if s["body"])
    print(f"{len(stories)} stories in {feeds} feeds written to {args.out} ({with_text} pages with licensed text, "
          f"{len(stories) - with_text} title + summary only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
