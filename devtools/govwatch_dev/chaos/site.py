"""A generated AI-governance news site for the fault-injection suite: two feeds, hundreds of article pages.

Stories are built from templates with a seeded generator, so a seed always gives the same site. The main
feed (``/feeds/main.xml``) carries every original story; the wire feed (``/feeds/wire.xml``) carries
near-copies of some of them (same body, new headline and footer, own URL), as syndication does. Published
dates straddle a month boundary on purpose (monthly indices). Stories appear in the feeds only once
:meth:`ChaosSite.release` lets them out, so a run can publish over time. A feed lists every released item
(newest first): a real feed's window would let items scroll away while the poller is killed, which is a
loss of the feed's making, not the pipeline's (the harness raises the poller's entry cap to match).
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import yaml

from govwatch.identity import story_id
from govwatch_dev.localserver import LocalServer

SPAN_H = 30  # published dates run from boundary - SPAN_H to boundary + SPAN_H hours
WIRE_SHARE = 0.3  # share of stories with a syndicated near-copy on the wire feed

ACTORS = ["European Commission", "the EU AI Office", "the UK AI Security Institute", "the Federal Trade Commission",
          "California lawmakers", "the US Senate Commerce Committee", "Japan's digital ministry", "G7 ministers",
          "the Council of Europe", "Canada's privacy commissioner", "Brazil's data protection authority",
          "Singapore's IMDA", "the OECD", "the Irish Data Protection Commission", "New York City officials",
          "India's IT ministry", "the Korean Communications Commission", "Australia's eSafety Commissioner",
          "the French CNIL", "Germany's BSI", "the United Nations advisory body", "a federal judge in San Francisco",
          "OpenAI", "Anthropic", "Google DeepMind", "Meta", "Microsoft", "Mistral AI", "the Bletchley summit group"]
TOPICS = [
    ("AI Act enforcement", "the AI Act", "fines for general-purpose model providers"),
    ("frontier model safety testing", "frontier model evaluations", "pre-deployment safety tests"),
    ("facial recognition limits", "facial recognition", "biometric surveillance in public spaces"),
    ("copyright rules for training data", "training data licensing", "copyright claims against AI developers"),
    ("chip export controls", "export controls on advanced chips", "semiconductor shipments to China"),
    ("deepfake election rules", "election deepfakes", "synthetic political advertising"),
    ("algorithmic hiring audits", "automated hiring tools", "bias audits of recruitment algorithms"),
    ("AI liability rules", "liability for AI harms", "product liability for autonomous systems"),
    ("children's online safety and AI", "AI chatbots used by minors", "age assurance for AI companions"),
    ("open-source model obligations", "open-weight model releases", "transparency duties for open models"),
]
VERBS = ["proposes", "tightens", "opens a consultation on", "delays", "finalises guidance on", "launches a probe into",
         "signs an agreement on", "publishes a code of practice for", "votes on", "challenges"]
WIRE_LEADS = ["Explainer:", "Update:", "Analysis:", "Wire:", "In brief:", "Reaction:"]
PEOPLE = ["Maria Keller", "Daniel Okafor", "Priya Raman", "Tomasz Nowak", "Aiko Tanaka", "Lucas Moreau", "Sofia Rossi",
          "Hannah Lindqvist", "Rafael Duarte", "Amara Mensah", "Jonas Becker", "Leila Haddad", "Chen Wei",
          "Omar Farouk",
          "Elena Petrova", "Samuel Adeyemi", "Grace Whitfield", "Mateo Alvarez", "Ingrid Solberg", "Kenji Mori"]
ROLES = ["a senior policy adviser", "the committee chair", "a spokesperson", "the agency's director",
         "a professor of law", "a civil-liberties lawyer", "an industry lobbyist", "the rapporteur"]
PLACES = ["Brussels", "London", "Washington", "Tokyo", "Ottawa", "Brasilia", "Singapore", "Paris", "Berlin", "Seoul",
          "Canberra", "New Delhi", "Geneva", "Dublin", "Sacramento"]
NOUNS = ["deadline", "draft", "framework", "register", "sandbox", "threshold", "audit", "sanction", "exemption",
         "reporting duty", "review", "pilot", "moratorium", "benchmark", "incident report"]
SENTENCES = [
    "{actor} said on {weekday} that the {noun} would cover {n} companies operating in {place}.",
    "Officials in {place} expect the {noun} to take effect within {n} months, according to {person}.",
    "{person}, {role}, called the plan on {detail} a {adj} step and warned about {n2} unresolved questions.",
    "The text circulated in {place} runs to {n3} pages and mentions {short} {n} times.",
    "Critics in {place} argue that {detail} needs a stronger {noun} before {month}.",
    "{person} told reporters the {noun} was drafted after {n} public hearings and {n2} written submissions.",
    "Companies would have to file a {noun} with regulators in {place} every {n} weeks under the proposal.",
    "A leaked memo seen in {place} puts the cost of compliance at {n3} million euros for the largest firms.",
    "{actor} has faced pressure from {n2} member groups to publish its {noun} on {short}.",
    "Earlier this {season}, {person} described {detail} as the most {adj} issue on the agenda.",
    "The {noun} follows a {month} hearing in {place} where {n} witnesses testified about {short}.",
    "Under the draft, penalties could reach {n} percent of global turnover for repeated breaches.",
    "{role_cap} {person} said the {noun} leaves room for a review in {month}.",
    "Observers in {place} noted that {n2} similar proposals stalled last {season}.",
    "The consultation on {short} closes in {month}, and {actor} will report back within {n} weeks.",
    "Data collected by {person} shows {n3} complaints related to {detail} since the last {noun}.",
]
ADJS = ["necessary", "overdue", "contentious", "modest", "sweeping", "cautious", "ambitious", "narrow", "pivotal"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "September", "October", "November"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
SEASONS = ["spring", "summer", "autumn", "winter", "year"]


@dataclass(frozen=True)
class Story:
    """One article of the site (an original, or a wire near-copy pointing at its original by ``copy_of``)."""

    slug: str
    feed: str
    title: str
    summary: str
    author: str
    published: datetime
    paragraphs: tuple[str, ...]
    footer: str
    copy_of: str | None = None
    event: int | None = None  # event sites: which of the site's news events the story reports (None: another story)

    def url(self, base: str) -> str:
        return f"{base}/articles/{self.slug}.html"


def month_boundary(now: datetime) -> datetime:
    """The start of a month far enough in the past that every generated date lies before ``now``."""
    boundary = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if now - boundary < timedelta(hours=SPAN_H + 1):
        boundary = (boundary - timedelta(days=1)).replace(day=1)
    return boundary


def _sentence(rng: random.Random, actor: str, topic: tuple[str, str, str]) -> str:
    person = rng.choice(PEOPLE)
    role = rng.choice(ROLES)
    return rng.choice(SENTENCES).format(
        actor=actor[0].upper() + actor[1:], weekday=rng.choice(WEEKDAYS), noun=rng.choice(NOUNS),
        n=rng.randint(2, 60), n2=rng.randint(2, 19), n3=rng.randint(100, 9000), place=rng.choice(PLACES),
        person=person, role=role, role_cap=role[0].upper() + role[1:], detail=rng.choice(topic[1:]),
        short=topic[1], adj=rng.choice(ADJS), month=rng.choice(MONTHS), season=rng.choice(SEASONS))


def generate(count: int, seed: int, now: datetime) -> list[Story]:
    """``count`` original stories plus wire near-copies of about ``WIRE_SHARE`` of them, in release order."""
    rng = random.Random(seed)
    boundary = month_boundary(now)
    stories: list[Story] = []
    for i in range(count):
        stories += background_story(rng, seed, i, published_at(boundary, i, count), TOPICS, ACTORS)
    return stories


def published_at(boundary: datetime, i: int, count: int) -> datetime:
    """Story ``i`` of ``count``: dates spread evenly from boundary - SPAN_H to boundary + SPAN_H."""
    return boundary + timedelta(minutes=round((i / max(count - 1, 1) * 2 - 1) * SPAN_H * 60))


def background_story(rng: random.Random, seed: int, i: int, published: datetime,
                     topics: list[tuple[str, str, str]], actors: list[str]) -> list[Story]:
    """Original ``i`` by one of ``actors`` on one of ``topics`` from the shared templates, and its wire near-copy
    if it gets one."""
    actor, topic, verb = rng.choice(actors), rng.choice(topics), rng.choice(VERBS)
    paragraphs = tuple(" ".join(_sentence(rng, actor, topic) for _ in range(3)) for _ in range(rng.randint(5, 7)))
    lead = (f"{actor[0].upper() + actor[1:]} {verb} {topic[2]} in {rng.choice(PLACES)}, a move that puts "
            f"{topic[0]} and artificial intelligence oversight back on the agenda.")
    original = Story(
        slug=f"s{seed}-{i:04d}", feed="main",
        title=f"{actor[0].upper() + actor[1:]} {verb} {topic[0]} ({rng.choice(PLACES)}, story {i})",
        summary=lead, author=rng.choice(PEOPLE), published=published, paragraphs=(lead, *paragraphs),
        footer=f"Reporting by {rng.choice(PEOPLE)} in {rng.choice(PLACES)}; editing by {rng.choice(PEOPLE)}.")
    if rng.random() >= WIRE_SHARE:
        return [original]
    return [original, wire_copy(rng, original, f"{rng.choice(WIRE_LEADS)} {topic[0]} as {actor} {verb} new rules")]


def wire_copy(rng: random.Random, original: Story, title: str) -> Story:
    """The syndicated near-copy of ``original``: same lead and body, its own headline, footer and URL."""
    return Story(slug=f"w{original.slug[1:]}", feed="wire", title=title, summary=original.summary,
                 author="Wire staff", published=original.published + timedelta(minutes=rng.randint(5, 90)),
                 paragraphs=original.paragraphs, footer="Distributed by Global Policy Wire. All rights reserved.",
                 copy_of=original.slug, event=original.event)


def article_html(story: Story) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    when = story.published.isoformat()
    site = "Global Policy Wire" if story.feed == "wire" else "Governance Daily"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(story.title)} | {site}</title>
<meta property="og:type" content="article"><meta property="og:title" content="{escape(story.title)}">
<meta property="article:published_time" content="{when}"><meta name="author" content="{escape(story.author)}">
</head><body>
<header><nav><a href="/">{site}</a> | <a href="/policy">Policy</a> | <a href="/tech">Tech</a> | <a href="/subscribe">Subscribe</a></nav></header>
<main><article><h1>{escape(story.title)}</h1>
<p class="byline">By {escape(story.author)} | <time datetime="{when}">{story.published:%d %B %Y %H:%M} UTC</time></p>
<div class="article-body">
{body}
<p class="footer-note">{escape(story.footer)}</p>
</div></article></main>
<footer><p>&copy; {site}. <a href="/privacy">Privacy</a> | <a href="/terms">Terms</a></p></footer>
</body></html>
"""  # noqa: E501 - the page's lines as served


def feed_xml(title: str, base: str, items: list[Story]) -> str:
    entries = "\n".join(
        f"<item><title>{escape(s.title)}</title><link>{escape(s.url(base))}</link>"
        f"<guid isPermaLink=\"true\">{escape(s.url(base))}</guid><author>{escape(s.author)}</author>"
        f"<pubDate>{format_datetime(s.published, usegmt=True)}</pubDate>"
        f"<description>{escape(s.summary)}</description></item>" for s in items)
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n<rss version=\"2.0\"><channel><title>{escape(title)}</title>"
            f"<link>{base}/</link><description>{escape(title)}</description>\n{entries}\n</channel></rss>\n")


FEEDS = {"main": "Governance Daily", "wire": "Global Policy Wire"}


class ChaosSite:
    """The generated site on 127.0.0.1 (ephemeral port); :meth:`release` makes more stories visible."""

    def __init__(self, stories: list[Story]) -> None:
        self.stories = stories
        self.by_slug = {s.slug: s for s in stories}
        self._released = 0
        self._lock = threading.Lock()
        self.base_url = ""
        self.requests = 0
        self._server: LocalServer | None = None

    @property
    def released(self) -> list[Story]:
        with self._lock:
            return self.stories[: self._released]

    def release(self, n: int) -> int:
        """Let ``n`` more stories into the feeds; returns how many are out now."""
        with self._lock:
            self._released = min(len(self.stories), self._released + n)
            return self._released

    def released_ids(self) -> dict[str, Story]:
        """Story id (hash of the canonical URL) -> story, for every released story."""
        return {story_id(s.url(self.base_url)): s for s in self.released}

    def _feed(self, name: str) -> bytes:
        items = [s for s in self.released if s.feed == name][::-1]
        return feed_xml(FEEDS[name], self.base_url, items).encode("utf-8")

    def start(self) -> str:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site.requests += 1
                path = self.path.split("?", 1)[0]
                body, ctype = None, "text/html; charset=utf-8"
                if path.startswith("/feeds/") and path.endswith(".xml") and path[7:-4] in FEEDS:
                    body, ctype = site._feed(path[7:-4]), "application/rss+xml"
                elif path.startswith("/articles/") and path.endswith(".html"):
                    story = site.by_slug.get(path[10:-5])
                    if story is not None and story in site.released:
                        body = article_html(story).encode("utf-8")
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = LocalServer(Handler, name="chaos-site", poll_interval=0.1)
        self.base_url = self._server.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def registry(self, directory: Path) -> Path:
        """The feed registry (GOVWATCH_FEEDS_FILE) for the two feeds."""
        feeds = [{"id": f"chaos-{name}", "name": title, "url": f"{self.base_url}/feeds/{name}.xml", "country": "US",
                  "language": "en", "kind": "news", "needs_relevance_filter": True, "confidence": "high"}
                 for name, title in FEEDS.items()]
        path = Path(directory) / "chaos-feeds.yaml"
        path.write_text(yaml.safe_dump({"feeds": feeds}, sort_keys=False), encoding="utf-8")
        return path
