"""Build the offline demo sample (deploy/demo/feeds, articles, sample.json) from the eval-data feed files.

    /tmp/gwvenv/bin/python deploy/demo/build_sample.py /path/to/eval-data [--out deploy/demo]

The eval-data directory is the shared collection of real outlet feeds (``<eval-data>/feeds/*.xml``, see its
README); it is needed only to rebuild. The built files are committed, so the demo runs from a clone alone.

What the script does (and nothing else):
- copies the selected entries' elements as published (title, summary/description, content, dates, authors,
  categories, guid/id; CDATA kept) into one small feed per outlet;
- rewrites each entry's link to ``{base}/articles/<slug>.html`` (``{base}`` is filled in by the demo server);
  an RSS guid that was a permalink gets ``isPermaLink="false"`` so readers do not take it as the link;
- drops media/feedburner elements (remote image and tracking URLs; the demo must not reach the internet);
- adds one constructed syndicated copy (``Wire Copy Daily``) of one story, to show near-duplicate folding;
- writes one small article page per entry around the entry's content (or title + summary when the feed had
  no content), with remote images, scripts and iframes removed.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import html
import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
BASE = "{base}"


@dataclass(frozen=True)
class Outlet:
    key: str            # file stem under feeds/
    name: str           # outlet name (also og:site_name of its article pages)
    source: str         # file under <eval-data>/feeds/, or "" for the constructed wire feed
    site_url: str       # the outlet's home page (provenance only)


@dataclass(frozen=True)
class Pick:
    outlet: str
    match: str          # the original guid / Atom id / link that identifies the entry
    slug: str
    label: str          # ai-governance | adjacent | ai-not-governance | negative (hand-assigned, see README)


OUTLETS = [
    Outlet("theverge", "The Verge", "theverge-2025-07-01.atom.xml", "https://www.theverge.com"),
    Outlet("lifehacker", "Lifehacker", "lifehacker-large.rss.xml.gz", "https://lifehacker.com"),
    Outlet("cnn", "CNN International", "cnn-international-edition.rss.xml", "https://edition.cnn.com"),
    Outlet("guardian", "The Guardian", "guardian-us-2018-01-31.rss.xml", "https://www.theguardian.com/us"),
    Outlet("pcmag-dvorak", "PCMag - John C. Dvorak", "pcmag-dvorak-illegally-nested.rss.xml",
           "https://www.pcmag.com"),
    Outlet("wire-copy-daily", "Wire Copy Daily", "", "(constructed for the demo)"),
]

PICKS = [
    # The Verge, 1 July 2025: the whole feed (10 entries) as published.
    Pick("theverge", "https://www.theverge.com/?p=695495", "verge-senate-drops-state-ai-law-moratorium",
         "ai-governance"),
    Pick("theverge", "https://www.theverge.com/?p=695290", "verge-music-industry-ai-napster", "ai-governance"),
    Pick("theverge", "https://www.theverge.com/?p=695501", "verge-cloudflare-blocks-ai-crawlers", "ai-governance"),
    Pick("theverge", "https://www.theverge.com/?p=695582", "verge-tinder-facial-recognition-check", "adjacent"),
    Pick("theverge", "https://www.theverge.com/?p=693593", "verge-movie-tv-tech-vergecast", "ai-not-governance"),
    Pick("theverge", "The Running Man", "verge-running-man-trailer", "negative"),
    Pick("theverge", "Donkey Kong Bananza", "verge-donkey-kong-bananza", "negative"),
    Pick("theverge", "Google kills its Keep app", "verge-google-keep-apple-watch", "negative"),
    Pick("theverge", "Newark", "verge-newark-air-traffic-outages", "negative"),
    Pick("theverge", "Steam can now show you", "verge-steam-frame-generation", "negative"),
    # Lifehacker, late June 2025 (content:encoded).
    Pick("lifehacker", "01JYZ9R5TNZHNZ6VGPQYARCF4K", "lifehacker-meta-ai-photo-permissions", "ai-governance"),
    Pick("lifehacker", "01JYN2QQM9174P0MGXPQH9K722", "lifehacker-gemini-privacy-changes", "adjacent"),
    Pick("lifehacker", "01JYFS5H12XE7957AM21NZGQZW", "lifehacker-fake-celebrity-dog-rescues", "adjacent"),
    Pick("lifehacker", "01JYPNRG0PXVEF7K7PDBXPJE4N", "lifehacker-fortnite-ftc-settlement", "negative"),
    Pick("lifehacker", "01JYS492ARP585PRM056GTC9Y2", "lifehacker-youtube-ai-overviews", "ai-not-governance"),
    Pick("lifehacker", "Garmin’s New Cycling Computer", "lifehacker-garmin-cycling-computer", "negative"),
    # CNN International, April 2023 (summaries only).
    Pick("cnn", "china-micron-probe-us-chip-war", "cnn-china-micron-probe", "adjacent"),
    Pick("cnn", "british-pound-currency-dollar", "cnn-british-pound-currency", "negative"),
    Pick("cnn", "The four astronauts NASA picked", "cnn-nasa-artemis-astronauts", "negative"),
    Pick("cnn", "A new approach to a Covid-19 nasal vaccine", "cnn-covid-nasal-vaccine", "negative"),
    # The Guardian US, 31 January 2018 (summaries only).
    Pick("guardian", "facebook-bans-ads-cryptocurrencies-scams", "guardian-facebook-bans-crypto-ads", "negative"),
    Pick("guardian", "un-urged-to-launch-global-effort", "guardian-un-offshore-tax-evasion", "negative"),
    Pick("guardian", "Climate change threatens half of US bases", "guardian-pentagon-climate-bases", "negative"),
    Pick("guardian", "Orcas can imitate human speech", "guardian-orcas-imitate-speech", "negative"),
    # PCMag, John C. Dvorak column, late 2017 (teasers only).
    Pick("pcmag-dvorak", "Robots Won't Kill You", "pcmag-robots-will-take-your-job", "adjacent"),
    Pick("pcmag-dvorak", "Face-Recognition Mania", "pcmag-face-recognition-mania", "adjacent"),
]

# The constructed syndicated copy: the Verge Senate story re-run by a wire feed under another headline.
WIRE_COPY = dict(
    source_slug="verge-senate-drops-state-ai-law-moratorium",
    slug="wire-senate-votes-99-1-state-ai-moratorium",
    title="Senators vote 99-1 to strip state AI-law moratorium from budget bill",
    guid="wire-copy-daily:2025-07-01:senate-ai-moratorium",
    pub_date="Tue, 01 Jul 2025 14:05:00 +0000",
    footer="<p>This story was distributed by Wire Copy Daily under a syndication agreement.</p>",
    label="ai-governance",
)

RSS_KEEP = {"title", "description", f"{{{CONTENT}}}encoded", "pubDate", f"{{{DC}}}creator", f"{{{DC}}}date",
            "author", "guid", "category"}
ATOM_KEEP = {f"{{{ATOM}}}{t}" for t in ("title", "id", "published", "updated", "author", "summary", "content",
                                        "category")}
FEEDFLARE = re.compile(r'<div class="feedflare">.*?</div>|<img src="http://feeds\.feedburner\.com/[^"]*"[^>]*/?>',
                       re.S)


def read_source(path: Path) -> etree._Element:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return etree.fromstring(data, etree.XMLParser(strip_cdata=False, resolve_entities=False, no_network=True))


def entry_key_texts(entry: etree._Element) -> str:
    """Everything a pick may match on: guid/id, link(s) and title."""
    bits = list(entry.xpath("./*[local-name()='guid' or local-name()='id' or local-name()='title' "
                            "or local-name()='link']/text()"))
    bits += entry.xpath("./*[local-name()='link']/@href")
    return " ".join(b.strip() for b in bits)


def find_entry(entries: list[etree._Element], match: str) -> etree._Element:
    found = [e for e in entries if match in entry_key_texts(e)]
    if len(found) != 1:
        raise SystemExit(f"pick {match!r} matched {len(found)} entries; fix PICKS")
    return found[0]


def text_of(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def article_url(slug: str) -> str:
    return f"{BASE}/articles/{slug}.html"


def parse_date(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Story:
    slug: str
    outlet: Outlet
    label: str
    title: str
    author: str
    published: datetime | None
    body_html: str          # content if the feed had it, else the summary
    has_content: bool
    original_url: str
    original_guid: str


def rss_item(item: etree._Element, slug: str) -> etree._Element:
    new = etree.Element("item")
    title = None
    for child in item:
        if not isinstance(child.tag, str) or child.tag not in RSS_KEEP:
            continue
        kept = copy.deepcopy(child)
        if kept.tag == "description" and kept.text and "feedflare" in kept.text:
            kept.text = FEEDFLARE.sub("", kept.text).strip()   # feedburner's tracking wrapper, not the outlet's text
        if kept.tag == "guid" and kept.get("isPermaLink", "true") == "true":
            kept.set("isPermaLink", "false")
        new.append(kept)
        if kept.tag == "title":
            title = kept
    link = etree.Element("link")
    link.text = article_url(slug)
    new.insert(new.index(title) + 1 if title is not None else 0, link)
    if new.find("guid") is None:
        # No guid in the original (PCMag via FeedBurner): keep the original link as a non-permalink guid.
        guid = etree.SubElement(new, "guid", isPermaLink="false")
        guid.text = text_of(item.find("link"))
    return new


def atom_entry(entry: etree._Element, slug: str) -> etree._Element:
    new = etree.Element(f"{{{ATOM}}}entry", nsmap={None: ATOM})
    for child in entry:
        if isinstance(child.tag, str) and child.tag in ATOM_KEEP:
            new.append(copy.deepcopy(child))
    link = etree.Element(f"{{{ATOM}}}link", rel="alternate", type="text/html", href=article_url(slug))
    new.insert(2, link)
    return new


def story_from(entry: etree._Element, outlet: Outlet, pick: Pick) -> Story:
    def first(*names: str) -> etree._Element | None:
        for name in names:
            found = entry.find(name)
            if found is not None:
                return found
        return None

    content = first(f"{{{ATOM}}}content", f"{{{CONTENT}}}encoded")
    summary = first(f"{{{ATOM}}}summary", "description")
    summary_text = text_of(summary)
    if summary is not None and summary.tag == "description":
        summary_text = FEEDFLARE.sub("", summary_text).strip()
    author = text_of(first(f"{{{ATOM}}}author/{{{ATOM}}}name", f"{{{DC}}}creator", "author"))
    link = first(f"{{{ATOM}}}link", "link")
    original = (link.get("href") if link is not None and link.get("href") else text_of(link)).strip()
    guid = text_of(first(f"{{{ATOM}}}id", "guid"))
    published = parse_date(text_of(first(f"{{{ATOM}}}published", "pubDate", f"{{{DC}}}date", f"{{{ATOM}}}updated")))
    return Story(slug=pick.slug, outlet=outlet, label=pick.label, title=text_of(first(f"{{{ATOM}}}title", "title")),
                 author=author, published=published, body_html=text_of(content) or summary_text,
                 has_content=bool(text_of(content)), original_url=original, original_guid=guid)


def rss_document(outlet: Outlet, channel_src: etree._Element | None, items: list[etree._Element]) -> bytes:
    rss = etree.Element("rss", version="2.0", nsmap={"atom": ATOM, "content": CONTENT, "dc": DC})
    channel = etree.SubElement(rss, "channel")
    etree.SubElement(channel, "title").text = outlet.name
    etree.SubElement(channel, "link").text = f"{BASE}/"
    description = text_of(channel_src.find("description")) if channel_src is not None else ""
    etree.SubElement(channel, "description").text = (
        description or f"{outlet.name} (govwatch offline demo sample)")
    etree.SubElement(channel, "language").text = "en-us"
    etree.SubElement(channel, f"{{{ATOM}}}link", rel="self", type="application/rss+xml",
                     href=f"{BASE}/feeds/{outlet.key}.xml")
    channel.extend(items)
    etree.indent(rss, space="  ")
    return etree.tostring(rss, xml_declaration=True, encoding="UTF-8") + b"\n"


def atom_document(outlet: Outlet, feed_src: etree._Element, entries: list[etree._Element]) -> bytes:
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    for name in ("title", "subtitle", "updated"):
        src = feed_src.find(f"{{{ATOM}}}{name}")
        if src is not None:
            feed.append(copy.deepcopy(src))
    etree.SubElement(feed, f"{{{ATOM}}}id").text = f"{BASE}/feeds/{outlet.key}.xml"
    etree.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=f"{BASE}/")
    etree.SubElement(feed, f"{{{ATOM}}}link", rel="self", type="application/atom+xml",
                     href=f"{BASE}/feeds/{outlet.key}.xml")
    feed.extend(entries)
    etree.indent(feed, space="  ")
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8") + b"\n"


def clean_body(body: str, has_markup: bool) -> str:
    """The entry's HTML without remote images, scripts, iframes or styles (the page must stay offline)."""
    if not has_markup:
        return "".join(f"<p>{html.escape(p.strip())}</p>" for p in body.split("\n\n") if p.strip())
    fragment = lxml_html.fragment_fromstring(body, create_parent="div")
    for bad in fragment.xpath("//img|//script|//style|//iframe|//noscript|//svg|//source|//picture"):
        parent = bad.getparent()
        if parent is not None:
            bad.drop_tree()
    for fig in fragment.xpath("//figure[not(normalize-space())]"):
        fig.drop_tree()
    return "".join(lxml_html.tostring(child, encoding="unicode") for child in fragment) + (fragment.text or "")


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} | {site}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{site}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="{author}">
<meta name="govwatch-demo:original-url" content="{original}">
</head>
<body>
<header class="site-header">
<nav><a href="/">{site}</a> | <a href="/news">News</a> | <a href="/tech">Tech</a> | <a href="/politics">Politics</a> | <a href="/newsletters">Newsletters</a> | <a href="/subscribe">Subscribe</a></nav>
</header>
<main>
<article>
<h1>{title}</h1>
<p class="byline">By {author} | <time datetime="{published}">{published_human}</time></p>
{lede}<div class="article-body">
{body}
</div>
</article>
</main>
<footer class="site-footer">
<p>Sign up for our daily newsletter. Follow us on social media. Terms of Use | Privacy Policy | Cookie Settings | Contact</p>
<p>Offline copy served by the govwatch demo. Text as published by {site}; copyright remains with the publisher.</p>
</footer>
</body>
</html>
"""  # noqa: E501 - the page's lines as served


def article_page(story: Story, body_html: str) -> str:
    published = story.published.isoformat() if story.published else ""
    has_markup = story.has_content or "<" in body_html
    lede = ""
    if not story.has_content:
        # No full text in the feed: the page is the title, then the summary (what the outlet published).
        lede = f'<p class="standfirst">{html.escape(story.title)}.</p>\n'
    return PAGE.format(
        title=html.escape(story.title), site=html.escape(story.outlet.name), published=published,
        published_human=story.published.strftime("%d %B %Y %H:%M %Z") if story.published else "",
        author=html.escape(story.author or story.outlet.name), original=html.escape(story.original_url),
        lede=lede, body=clean_body(body_html, has_markup))


def build(eval_data: Path, out: Path) -> list[Story]:
    (out / "feeds").mkdir(parents=True, exist_ok=True)
    (out / "articles").mkdir(parents=True, exist_ok=True)
    stories: list[Story] = []
    for outlet in OUTLETS:
        if not outlet.source:
            continue
        root = read_source(eval_data / "feeds" / outlet.source)
        is_atom = root.tag == f"{{{ATOM}}}feed"
        entries = root.findall(f"{{{ATOM}}}entry") if is_atom else root.findall("channel/item")
        built: list[etree._Element] = []
        for pick in (p for p in PICKS if p.outlet == outlet.key):
            entry = find_entry(entries, pick.match)
            stories.append(story_from(entry, outlet, pick))
            built.append(atom_entry(entry, pick.slug) if is_atom else rss_item(entry, pick.slug))
        doc = atom_document(outlet, root, built) if is_atom else rss_document(outlet, root.find("channel"), built)
        (out / "feeds" / f"{outlet.key}.xml").write_bytes(doc)

    wire_outlet = next(o for o in OUTLETS if o.key == "wire-copy-daily")
    src = next(s for s in stories if s.slug == WIRE_COPY["source_slug"])
    wire = Story(slug=WIRE_COPY["slug"], outlet=wire_outlet, label=WIRE_COPY["label"], title=WIRE_COPY["title"],
                 author=f"{src.author} ({src.outlet.name})", published=parse_date(WIRE_COPY["pub_date"]),
                 body_html=src.body_html + WIRE_COPY["footer"], has_content=True, original_url=src.original_url,
                 original_guid=WIRE_COPY["guid"])
    item = etree.Element("item")
    etree.SubElement(item, "title").text = wire.title
    etree.SubElement(item, "link").text = article_url(wire.slug)
    etree.SubElement(item, "guid", isPermaLink="false").text = wire.original_guid
    etree.SubElement(item, "pubDate").text = WIRE_COPY["pub_date"]
    etree.SubElement(item, f"{{{DC}}}creator").text = wire.author
    source_summary = find_entry(read_source(eval_data / "feeds" / src.outlet.source).findall(f"{{{ATOM}}}entry"),
                                "https://www.theverge.com/?p=695495").find(f"{{{ATOM}}}summary")
    etree.SubElement(item, "description").text = etree.CDATA(text_of(source_summary))
    etree.SubElement(item, f"{{{CONTENT}}}encoded").text = etree.CDATA(wire.body_html)
    (out / "feeds" / f"{wire_outlet.key}.xml").write_bytes(rss_document(wire_outlet, None, [item]))
    stories.append(wire)

    for story in stories:
        (out / "articles" / f"{story.slug}.html").write_text(article_page(story, story.body_html), encoding="utf-8")
    manifest = [{"slug": s.slug, "outlet": s.outlet.key, "source": s.outlet.name, "label": s.label,
                 "title": s.title, "published": s.published.isoformat() if s.published else None,
                 "has_content": s.has_content, "original_url": s.original_url, "original_guid": s.original_guid}
                for s in stories]
    (out / "sample.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return stories


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_data", type=Path, help="the eval-data directory (holds feeds/*.xml)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="default: deploy/demo")
    args = parser.parse_args(argv)
    stories = build(args.eval_data, args.out)
    by_label: dict[str, int] = {}
    for s in stories:
        by_label[s.label] = by_label.get(s.label, 0) + 1
    print(f"{len(stories)} entries written to {args.out}: {by_label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
