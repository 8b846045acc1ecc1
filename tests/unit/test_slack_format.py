"""Slack formatting: untrusted text can never ping, hide a link or break a payload's limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from govwatch.alerts.slack_format import (
    MAX_BLOCKS,
    MAX_DIGEST_MESSAGES,
    MAX_SECTION_CHARS,
    PAYLOAD_BUDGET_CHARS,
    alert_blocks,
    digest_blocks,
    escape_mrkdwn,
    link,
    payload_size,
    safe_url,
    snippet_to_mrkdwn,
)
from govwatch.models import Alert, Trace

HOSTILE = "<!channel> <!everyone> <!here> <@U123> <https://evil.example|click> &amp; <#C1> AT&T > 1"
_OUR_LINK = re.compile(r"<(https?://[^\s<>|]+)\|([^<>]*)>")
_ONLY_ENTITIES = re.compile(r"(?:[^&]|&(?:amp|lt|gt);)*", re.S)


def make_alert(i: int = 0, *, title: str = "EU AI Act enters into force", snippet: str = "the <em>AI Act</em>",
               url: str | None = None, **fields: Any) -> Alert:
    base: dict[str, Any] = dict(
        alert_id=f"{i:064x}", subscription_id="sub-1", subscription_name="EU regulation", story_id=f"{i:064x}",
        cluster_id=f"cluster-{i}", title=title, url=url or f"https://news.example.org/story/{i}?a=1&b=2",
        source="Example Times", published_at=datetime(2025, 8, 1, 10, 30, tzinfo=UTC), snippet=snippet,
        entities=["European Commission", "AI Office"], topics=["AI Act"],
        trace=Trace(first_seen_at=datetime(2025, 8, 1, 10, 31, tzinfo=UTC)),
    )
    base.update(fields)
    return Alert(**base)


def mrkdwn_texts(node: Any) -> list[str]:
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
    with pytest.raises(ValueError):
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


def _check_digest(messages: list[dict[str, Any]], alerts: list[Alert]) -> tuple[set[str], int]:
    shown: set[str] = set()
    more = 0
    allowed = {safe_url(a.url) for a in alerts}
    for message in messages:
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
    assert more > 0
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
    body = str(messages)
    assert body.count("also in 3 outlets") == 1 and "also in" in section_texts(messages[0])[1]
    assert digest_blocks("EU", "hourly", []) == []
