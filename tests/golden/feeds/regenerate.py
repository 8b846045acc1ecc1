"""Regenerate the golden parses: ``python tests/golden/feeds/regenerate.py``.

Each ``<feed file>.expected.json`` here is the output of govwatch.feeds.parse.parse_feed on the captured
feed of the same name in tests/fixtures/feeds/. Review the diff before committing a regenerated file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from govwatch.errors import FeedParseError
from govwatch.feeds.parse import parse_feed

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "fixtures" / "feeds"
# Fixed so that "far-future date" flags do not change as time passes.
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FEEDS = ["theverge-2025-07-01.atom.xml", "heise-developer-2016.atom.xml", "jn-pt-iso-8859-1.rss.xml",
         "science-twis-rss1.rdf.xml", "reuters-most-read-2020-truncated.rss.xml", "uol-noticias-latin1-no-decl.rss.xml",
         "qq-news-china-gb2312.rss.xml", "nyt-wirecutter.rss.xml"]


def render(name: str) -> dict:
    try:
        parsed = parse_feed((FIXTURES / name).read_bytes(), now=NOW, max_entries=200)
    except FeedParseError as exc:
        return {"error": str(exc)}
    return {
        "title": parsed.title,
        "bozo": parsed.bozo_reason is not None,
        "entries": [{"link": e.link, "guid": e.guid, "title": e.title, "summary": e.summary[:300],
                     "content_chars": len(e.content), "author": e.author,
                     "published_at": e.published_at.isoformat() if e.published_at else None,
                     "published_at_suspect": e.published_at_suspect} for e in parsed.entries],
    }


def main() -> None:
    for name in FEEDS:
        (HERE / f"{name}.expected.json").write_text(json.dumps(render(name), ensure_ascii=False, indent=1) + "\n",
                                                    encoding="utf-8")
        print(f"wrote {name}.expected.json")


if __name__ == "__main__":
    main()
