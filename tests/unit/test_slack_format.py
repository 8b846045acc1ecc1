"""Slack formatting: untrusted text can never ping, hide a link or break a payload's limits."""

from __future__ import annotations

import contextlib
import json
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from govwatch.alerts.slack_format import (
    FALLBACK_CHARS,
    MAX_BLOCKS,
    MAX_DIGEST_MESSAGES,
    MAX_SECTION_CHARS,
    MAX_URL_CHARS,
    PAYLOAD_BUDGET_CHARS,
    DigestMessage,
    alert_blocks,
    digest_blocks,
    escape_mrkdwn,
    link,
    payload_size,
    safe_url,
    snippet_to_mrkdwn,
    within_limits,
)
from govwatch.models import Alert, Trace

HOSTILE = "<!channel> <!everyone> <!here> <@U123> <https://evil.example|click> &amp; <#C1> AT&T > 1"
_OUR_LINK = re.compile(r"<(https?://[^\s<>|]+)\|([^<>]*)>")
_ONLY_ENTITIES = re.compile(r"(?:[^&]|&(?:amp|lt|gt);)*", re.S)


def make_alert(i: int = 0, *, title: str = "EU AI Act enters into force", snippet: str = "the <em>AI Act</em>",
               url: str | None = None, **fields: object) -> Alert:
    base: dict[str, Any] = dict(
        alert_id=f"{i:064x}", subscription_id="sub-1", subscription_name="EU regulation", story_id=f"{i:064x}",
        cluster_id=f"cluster-{i}", title=title, url=url or f"https://news.example.org/story/{i}?a=1&b=2",
        source="Example Times", published_at=datetime(2025, 8, 1, 10, 30, tzinfo=UTC), snippet=snippet,
        entities=["European Commission", "AI Office"], topics=["AI Act"],
        trace=Trace(first_seen_at=datetime(2025, 8, 1, 10, 31, tzinfo=UTC)),
    )
    base.update(fields)
    return Alert(**base)


def mrkdwn_texts(node: object) -> list[str]:
    """Every string Slack parses as mrkdwn: the top-level ``text`` fallback and every mrkdwn text object."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" or ("blocks" in node and isinstance(node.get("text"), str)):
            found.append(node["text"])
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                found.extend(mrkdwn_texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(mrkdwn_texts(item))
    return found


def assert_safe(text: str, allowed_urls: set[str]) -> None:
    """The only control sequences are our links to allowed URLs; every & starts one of the three entities."""
    for match in _OUR_LINK.finditer(text):
        assert match.group(1) in allowed_urls, text
    rest = _OUR_LINK.sub("", text)
    assert "<" not in rest and ">" not in rest, text
    assert _ONLY_ENTITIES.fullmatch(text), text


def section_texts(payload: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]


@pytest.mark.parametrize(("raw", "escaped"), [
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!everyone>", "&lt;!everyone&gt;"),
    ("<!here>", "&lt;!here&gt;"),
    ("<@U123>", "&lt;@U123&gt;"),
    ("<https://x|y>", "&lt;https://x|y&gt;"),
    ("&amp;", "&amp;amp;"),
    ("&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"),
    ("AT&T", "AT&amp;T"),
    ("a\u202eb\x00c", "abc"),
    ("plain *bold* text", "plain *bold* text"),
])
def test_escape_table(raw: str, escaped: str) -> None:
    """Control sequences, pre-escaped entities and invisible bidi/control characters are neutralised exactly once."""
    assert escape_mrkdwn(raw) == escaped


def test_link_encodes_hostile_url_and_escapes_label() -> None:
    """A URL cannot end the link early (| and > percent-encoded) and the label cannot ping."""
    built = link("https://news.example.org/a|b>c?x=1&y=2 z", "<!here> AT&T")
    assert built == "<https://news.example.org/a%7Cb%3Ec?x=1&amp;y=2%20z|&lt;!here&gt; AT&amp;T>"
    assert_safe(built, {"https://news.example.org/a%7Cb%3Ec?x=1&amp;y=2%20z"})


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "ftp://files.example.org/x", "https://trusted.org@evil.example/",
    "https://evil.example|click>/", "https:///nohost", "data:text/html,<script>",
])
def test_link_rejects_unsafe_urls(url: str) -> None:
    """Only absolute http(s) URLs with a plain host become links."""
    with pytest.raises(ValueError, match=r"only http and https URLs|URL carries user info|URL has no valid host"):
        link(url, "label")


@pytest.mark.parametrize(("snippet", "expected"), [
    ("the <em>AI Act</em> applies", "the *AI Act* applies"),
    ("<em>GPAI</em> code & <!channel>", "*GPAI* code &amp; &lt;!channel&gt;"),
    ("a <em> spaced </em> term", "a *spaced* term"),
    ("<em>x*y</em> <b>raw</b>", "*xy* &lt;b&gt;raw&lt;/b&gt;"),
    ("open <em>unclosed", "open *unclosed*"),
    ("line\nbreak <EM>caps</EM>", "line break *caps*"),
])
def test_snippet_em_becomes_bold_rest_escaped(snippet: str, expected: str) -> None:
    """Highlight tags turn into mrkdwn bold; every other character is escaped."""
    assert snippet_to_mrkdwn(snippet) == expected


def test_alert_blocks_escapes_every_untrusted_field() -> None:
    """No untrusted field of an alert can inject a mention or link into any mrkdwn text of the payload."""
    alert = make_alert(title=HOSTILE, snippet=f"<em>AI</em> {HOSTILE}", source=HOSTILE, subscription_name=HOSTILE,
                       entities=[HOSTILE] * 8, topics=[HOSTILE], url="https://news.example.org/a?b=1&c=<!here>")
    payload = alert_blocks(alert)
    texts = mrkdwn_texts(payload)
    assert len(texts) >= 6
    for text in texts:
        assert_safe(text, {safe_url(alert.url)})
    assert "<!" not in str(payload)
    assert f"<{safe_url(alert.url)}|" in section_texts(payload)[0]


def test_alert_blocks_content() -> None:
    """The payload carries the linked title, source, UTC time, subscription, snippet, entities and topics."""
    published = datetime(2025, 8, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    payload = alert_blocks(make_alert(title="AT&T fined", published_at=published))
    body = str(payload["blocks"])
    assert "<https://news.example.org/story/0?a=1&amp;b=2|AT&amp;T fined>" in body
    assert "AT&amp;amp;T" not in body  # escaped exactly once
    for expected in ("Example Times", "2025-08-01 10:30 UTC", "EU regulation", "the *AI Act*",
                     "European Commission", "AI Act"):
        assert expected in body
    assert payload["text"].startswith("AT&amp;T fined")


def test_alert_with_unlinkable_url_still_renders_title() -> None:
    """A javascript: URL is never linked, but the (escaped) title is still shown."""
    payload = alert_blocks(make_alert(title="<b>x</b>", url="javascript:alert(1)"))
    assert section_texts(payload)[0] == "*&lt;b&gt;x&lt;/b&gt;*"


def test_alert_blocks_stay_within_limits_at_maximum_field_sizes() -> None:
    """Huge, entity-heavy fields are clipped so one alert fits the section limit and the payload budget."""
    alert = make_alert(title="&<>" * 5000, snippet="<em>&</em>" * 5000, source="&" * 5000,
                       subscription_name=">" * 5000, entities=["&" * 5000] * 50, topics=["<" * 5000] * 50,
                       url="https://news.example.org/" + "a" * 1900)
    payload = alert_blocks(alert)
    assert payload_size(payload) <= PAYLOAD_BUDGET_CHARS
    assert all(len(t) <= MAX_SECTION_CHARS for t in section_texts(payload))
    for text in mrkdwn_texts(payload):
        assert_safe(text, {safe_url(alert.url)})


def _check_digest(messages: list[DigestMessage], alerts: list[Alert]) -> tuple[set[str], int]:
    shown: set[str] = set()
    more = 0
    allowed = {safe_url(a.url) for a in alerts}
    for message in (m.payload for m in messages):
        assert len(message["blocks"]) <= MAX_BLOCKS
        assert payload_size(message) <= PAYLOAD_BUDGET_CHARS
        for text in section_texts(message):
            assert len(text) <= MAX_SECTION_CHARS
        for text in mrkdwn_texts(message):
            assert_safe(text, allowed)
            shown.update(m.group(1) for m in _OUR_LINK.finditer(text))
            found = re.search(r"…and (\d+) more not shown", text)
            more += int(found.group(1)) if found else 0
    return shown, more


def test_digest_of_200_hostile_alerts_splits_within_limits_and_accounts_for_every_alert() -> None:
    """200 long, hostile alerts: every message within limits, and shown + "and N more" covers all 200."""
    alerts = [make_alert(i, title=f"{i} {HOSTILE} " + "&" * 300, snippet=f"<em>AI</em> {HOSTILE} " * 20)
              for i in range(200)]
    messages = digest_blocks(HOSTILE, "1 Aug 2025 <!here>", alerts)
    assert 1 < len(messages) <= MAX_DIGEST_MESSAGES
    shown, more = _check_digest(messages, alerts)
    assert more > 0 and len(messages[-1].more_ids) == more
    assert len(shown) + more == len(alerts)
    assert shown == {safe_url(a.url) for a in alerts[: len(shown)]}  # order kept, none skipped


def test_digest_of_200_short_alerts_respects_block_limit_without_losing_any() -> None:
    """Short items hit the 50-block limit first: they are split over messages and every one is shown."""
    alerts = [make_alert(i, title=f"Story {i}", snippet="", source="Wire") for i in range(200)]
    messages = digest_blocks("EU regulation", "daily", alerts)
    shown, more = _check_digest(messages, alerts)
    assert more == 0 and len(shown) == 200
    assert len(messages) >= 200 // (MAX_BLOCKS - 1)


def test_digest_states_also_in_outlets_and_empty_digest_sends_nothing() -> None:
    """An item carries "also in N outlets" from its cluster count; no alerts means no payload."""
    messages = digest_blocks("EU", "hourly", [make_alert(1), make_alert(2)], also_in={"cluster-1": 3})
    body = str([m.payload for m in messages])
    assert body.count("also in 3 outlets") == 1 and "also in" in section_texts(messages[0].payload)[1]
    assert digest_blocks("EU", "hourly", []) == []


# --- limits measured on the final encoded text, whatever the input ------------------------------------------

def text_objects(node: object) -> list[str]:
    """Every text object's text (section text, context elements), as Slack measures them."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found.extend(text_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(text_objects(item))
    return found


def assert_within_slack_limits(payload: dict[str, Any]) -> None:
    """Blocks, every text object, the JSON payload and the fallback text are all within Slack's limits."""
    assert 1 <= len(payload["blocks"]) <= MAX_BLOCKS
    for text in text_objects(payload["blocks"]):
        assert len(text) <= MAX_SECTION_CHARS, len(text)
    assert payload_size(payload) <= PAYLOAD_BUDGET_CHARS, payload_size(payload)
    assert 0 < len(payload["text"]) <= FALLBACK_CHARS
    json.dumps(payload, ensure_ascii=False).encode("utf-8")  # what httpx sends: must be encodable


def full_targets(alerts: list[Alert]) -> set[str]:
    """The unshortened link targets of the alerts that can be linked at all."""
    full = set()
    for alert in alerts:
        with contextlib.suppress(ValueError):
            full.add(safe_url(alert.url, max_chars=10**9))
    return full


def assert_links_safe(payload: dict[str, Any], full: set[str]) -> None:
    """Every link is an encoded form (possibly shortened to origin + path) of one of the ``full`` targets."""
    for text in mrkdwn_texts(payload):
        for match in _OUR_LINK.finditer(text):
            target = match.group(1)
            assert target.isascii() and len(target) <= MAX_URL_CHARS
            assert any(f == target or f.startswith(target) for f in full), target
        rest = _OUR_LINK.sub("", text)
        assert "<" not in rest and ">" not in rest, text
        assert _ONLY_ENTITIES.fullmatch(text), text


def filed_url() -> str:
    """The URL of the report: 1,981 characters with 490 '&' (3,941 once '&' is written '&amp;')."""
    query = "?" + "&".join(["t"] * 491)
    path = "/2025/ai-act-"
    url = "https://news.example.org" + path + "y" * (1981 - 24 - len(path) - len(query)) + query
    assert len(url) == 1981 and url.count("&") == 490
    return url


def test_filed_url_with_490_ampersands_is_shortened_not_oversized() -> None:
    """The reported 1,981-character URL with 490 '&' yields sections under 3,000 characters, linked by origin + path."""
    alert = make_alert(url=filed_url(), title="AI Act & GPAI")
    shortened = f"<{filed_url().split('?')[0]}|AI Act &amp; GPAI>"
    payload = alert_blocks(alert)
    assert_within_slack_limits(payload)
    assert shortened in section_texts(payload)[0]
    payload = digest_blocks("EU", "hourly", [alert])[0].payload
    assert_within_slack_limits(payload)
    assert shortened in section_texts(payload)[1]


def test_safe_url_limit_holds_after_encoding() -> None:
    """safe_url's length limit is on the encoded text: an '&'-heavy query is dropped, a short URL is kept whole."""
    assert safe_url(filed_url()) == filed_url().split("?")[0]
    assert safe_url("https://news.example.org/a?x=1&y=2") == "https://news.example.org/a?x=1&amp;y=2"
    with pytest.raises(ValueError, match="once encoded"):
        safe_url("https://news.example.org/" + "é" * 400)  # 2,400 characters of %C3%A9 in the path alone


def test_non_ascii_url_in_digest_keeps_the_story_and_never_raises() -> None:
    """A 1,990-character non-ASCII URL (11,940 characters encoded) leaves the story in the digest as plain text."""
    alert = make_alert(7, url="https://news.example.org/" + "é" * 1965, title="Régulation de l'IA")
    messages = digest_blocks("EU", "hourly", [alert, make_alert(8)])
    assert [m.alert_ids for m in messages] == [(alert.alert_id, make_alert(8).alert_id)]
    assert_within_slack_limits(messages[0].payload)
    item = section_texts(messages[0].payload)[1]
    assert item.startswith("*Régulation de l'IA*") and "<" not in item


def test_idn_host_is_linked_in_its_ascii_form() -> None:
    """An IDN host becomes its xn-- form (a percent-encoded host is a broken link); the path is percent-encoded."""
    assert safe_url("https://Bücher.de/straße?q=ü") == "https://xn--bcher-kva.de/stra%C3%9Fe?q=%C3%BC"
    assert safe_url("https://例え.テスト/") == "https://xn--r8jz45g.xn--zckzah/"
    with pytest.raises(ValueError, match="not a valid international domain name"):
        safe_url("https://" + "é" * 70 + ".example/")  # a label longer than 63 characters is no domain


def test_lone_surrogate_in_text_is_dropped() -> None:
    """A lone surrogate (a broken JSON escape in a feed) cannot make a payload unencodable."""
    payload = alert_blocks(make_alert(title="AI \ud83d Act", snippet="x \udc00 y", source="S\ud800"))
    json.dumps(payload, ensure_ascii=False).encode("utf-8")
    assert "*AI  Act*" in str(payload) or "AI Act" in section_texts(payload)[0]


_TEXT_ATOMS = ["a", "Z", " ", "&", "<", ">", "*", "|", '"', "\\", "\n", "é", "€", "😀", "\u202e", "\x00", "\ud800",
               "<em>", "</em>", "<!channel>", "&amp;", "<https://evil.example|x>", "AI Act "]
_URL_ATOMS = ["a", "/", "&", "|", "<", ">", " ", "é", "😀", "%", '"', "#", "?", "=", "&amp;", "\u202e"]
_HOSTS = ["news.example.org", "bücher.de", "例え.テスト", "[::1]:8443", "xn--bcher-kva.de", "evil.example|x",
          "a" * 70 + ".com", "trusted.org@evil.example", "EXAMPLE.org:80"]
_SIZES = [0, 1, 12, 300, 1_200, 5_000]
_NAME_SIZES = [0, 12, 200, 5_000, 12, 12]  # a long list of names is mostly short ones (and some huge)


def hostile_text(rng: random.Random, sizes: list[int] = _SIZES) -> str:
    size = rng.choice(sizes)
    # A third of the texts are one atom repeated ("&" * 5000, "😀" * 5000): the worst cases for escaping and JSON.
    # Huge texts repeat a random chunk: as hostile, and far cheaper to generate.
    chunk = rng.choices(_TEXT_ATOMS, k=min(size, 97)) if rng.random() < 0.67 else [rng.choice(_TEXT_ATOMS)]
    return "".join(chunk * (size // len(chunk) + 1))[: size * 4] if size else ""


def hostile_url(rng: random.Random) -> str:
    scheme = rng.choice(["https", "http", "HTTPS", "javascript", "ftp"])
    path = "/" + "".join(rng.choices(_URL_ATOMS, k=97) * 31)[: rng.choice([0, 10, 300, 1_900, 3_000])]
    query = "&".join(f"k{i}={rng.choice(_URL_ATOMS)}" for i in range(rng.choice([0, 5, 490, 2_000])))
    return f"{scheme}://{rng.choice(_HOSTS)}{path}" + (f"?{query}" if query else "")


def hostile_alert(rng: random.Random, i: int) -> Alert:
    return make_alert(i, title=hostile_text(rng), snippet=hostile_text(rng), url=hostile_url(rng),
                      source=hostile_text(rng), subscription_name=hostile_text(rng),
                      entities=[hostile_text(rng, _NAME_SIZES) for _ in range(rng.choice([0, 3, 200]))],
                      topics=[hostile_text(rng, _NAME_SIZES) for _ in range(rng.choice([0, 2, 50]))])


@pytest.mark.parametrize("seed", range(8))
def test_every_alert_payload_within_slack_limits_for_hostile_input(seed: int) -> None:
    """Random hostile alerts (huge '&'-heavy, non-ASCII, IDN and '|<>' URLs; huge escaped text) fit every limit."""
    rng = random.Random(seed)
    for i in range(40):
        alert = hostile_alert(rng, i)
        payload = alert_blocks(alert)
        assert_within_slack_limits(payload)
        assert_links_safe(payload, full_targets([alert]))
        assert section_texts(payload)[0].startswith("*")  # the story itself is always there


@pytest.mark.parametrize("seed", range(6))
def test_every_digest_message_within_slack_limits_and_accounts_for_every_alert(seed: int) -> None:
    """Random hostile digests of any size: each message fits, and its items are exactly the alerts it names."""
    rng = random.Random(1000 + seed)
    alerts = [hostile_alert(rng, i) for i in range(rng.choice([1, 7, 60, 300]))]
    also_in = {a.cluster_id: i for i, a in enumerate(alerts)}
    messages = digest_blocks(hostile_text(rng), hostile_text(rng), alerts, also_in)
    assert 1 <= len(messages) <= MAX_DIGEST_MESSAGES
    full = full_targets(alerts)
    for message in messages:
        assert_within_slack_limits(message.payload)
        assert_links_safe(message.payload, full)
        assert len(section_texts(message.payload)) == 1 + len(message.alert_ids)  # header + one item per alert
    assert [aid for m in messages for aid in m.covered] == [a.alert_id for a in alerts]
    assert all(not m.more_ids for m in messages[:-1])


def test_safe_url_output_is_always_a_safe_bounded_link_target() -> None:
    """Whatever safe_url returns is ASCII, at most MAX_URL_CHARS, free of '|<> ', and writes every '&' as '&amp;'."""
    rng = random.Random(7)
    linked = 0
    for _ in range(400):
        try:
            target = safe_url(hostile_url(rng))
        except ValueError:
            continue
        linked += 1
        assert target.isascii() and len(target) <= MAX_URL_CHARS
        assert not set(target) & set('|<> "\\')
        assert re.fullmatch(r"(?:[^&]|&amp;)*", target)
    assert linked > 50  # the generator does produce linkable URLs


def test_digest_messages_name_their_alerts_in_order() -> None:
    """Each digest message lists the alert ids it shows, in order; the last one also lists those only counted."""
    alerts = [make_alert(i, title=f"Story {i}", snippet="", source="Wire") for i in range(600)]
    messages = digest_blocks("EU", "daily", alerts)
    assert len(messages) == MAX_DIGEST_MESSAGES
    shown = [aid for m in messages for aid in m.alert_ids]
    assert shown == [a.alert_id for a in alerts[: len(shown)]]
    assert list(messages[-1].more_ids) == [a.alert_id for a in alerts[len(shown):]]
    assert f"…and {len(messages[-1].more_ids)} more not shown" in str(messages[-1].payload)


@pytest.mark.parametrize("atom", ["😀", "&", "\\", "é<", "<em>&</em>"])
def test_worst_case_fields_still_fit_and_keep_the_story(atom: str) -> None:
    """Every field at its worst (5,000 emoji, '&', '\\\\' …; 200 entities; a huge IDN URL) fits, story kept."""
    huge = atom * 5000
    alerts = [make_alert(i, title=huge, snippet=huge, source=huge, subscription_name=huge, entities=[huge] * 200,
                         topics=[huge] * 50, url=f"https://例え.テスト/{'é&|' * 700}?{'&'.join(['t'] * 490)}")
              for i in range(60)]
    payload = alert_blocks(alerts[0])
    assert_within_slack_limits(payload)
    assert section_texts(payload)[0].startswith("*") and len(section_texts(payload)[0]) > 20
    messages = digest_blocks(huge, huge, alerts)
    assert [aid for m in messages for aid in m.covered] == [a.alert_id for a in alerts]
    for message in messages:
        assert_within_slack_limits(message.payload)
        assert len(section_texts(message.payload)) == 1 + len(message.alert_ids)


def test_trial_message_escapes_the_name_in_the_fallback_text_too() -> None:
    """"Send a test message": a subscription named with control sequences pings nobody, in blocks or fallback."""
    from govwatch.alerts.subscription_service import test_message_payload
    from govwatch.alerts.subscriptions import Destination, Subscription

    sub = Subscription(name=HOSTILE, query="x", destination=Destination(kind="bot", bot_token="xoxb-1", channel="C1"))
    payload = test_message_payload(sub)
    texts = mrkdwn_texts(payload)
    assert payload["text"] in texts and len(texts) == 2
    for text in texts:
        assert_safe(text, set())
    assert "&lt;!channel&gt;" in payload["text"] and within_limits(payload)
