"""Slack Block Kit payloads for alerts and digests. Pure: no I/O, no Slack client.

Every string that came from a feed, a page or a user (titles, sources, snippets, entity and topic names,
subscription names) is untrusted. In mrkdwn, ``<!channel>``, ``<!here>``, ``<@U…>`` and ``<url|label>`` are
control sequences, so untrusted text goes through :func:`escape_mrkdwn` exactly once, at the point where it is
placed into a text object; the only ``<`` / ``>`` in a payload are the links built by :func:`link`.

Size policy: Slack documents 50 blocks per message and 3,000 characters per section text, but has rejected
~13k-character payloads below those limits (INFRA-NOTES), so every payload is kept under
``PAYLOAD_BUDGET_CHARS`` measured on its JSON. Fields are clipped *before* they can push a payload over (on
escaped length, so an entity such as ``&amp;`` is never cut in half). A digest is split over up to
``MAX_DIGEST_MESSAGES`` messages; stories beyond that are counted in a final "…and N more" line rather than
flooding a channel.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from govwatch.models import Alert

MAX_BLOCKS = 50  # Slack's documented per-message block limit
MAX_SECTION_CHARS = 3_000  # Slack's documented limit on one section's text
PAYLOAD_BUDGET_CHARS = 10_000  # well under the ~13k payloads Slack has rejected in practice
MAX_DIGEST_MESSAGES = 5  # beyond ~5 messages a digest is noise; the rest is summarised as "and N more"
MAX_URL_CHARS = 2_000  # longer links are tracking junk and would eat the payload budget
TITLE_CHARS = 500  # escaped characters; headlines are far shorter, this only stops abuse
SNIPPET_CHARS = 1_200
DIGEST_SNIPPET_CHARS = 280  # a digest item is a teaser; the full snippet is in the immediate alert
NAME_CHARS = 120  # source, subscription, one entity or topic name
TOP_ENTITIES = 5
TOP_TOPICS = 5
FALLBACK_CHARS = 300  # the notification text shown by phones and screen readers

# C0/C1 controls (newline and tab kept) and bidi overrides/isolates, which can make text render reversed
# ("spoofed" link labels, hidden content); none of them carries meaning in a headline.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")
_EM_TAG = re.compile(r"</?em>", re.IGNORECASE)
# Host names: letters/digits (any script, for IDNs), dots, hyphens; colons for IPv6 (brackets already removed).
_HOST = re.compile(r"[\w\-.:]+")
_URL_KEEP = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%"
)


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` (in that order, so the result is escaped exactly once) and drop invisible
    control/bidi characters. ``&amp;`` in the input becomes ``&amp;amp;``: Slack then shows it literally."""
    cleaned = _INVISIBLE.sub("", text)
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_fit(text: str, limit: int) -> str:
    """Escaped text of at most ``limit`` characters, cut on a character boundary with an ellipsis."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    for char in _INVISIBLE.sub("", text):
        piece = escape_mrkdwn(char)
        if used + len(piece) > limit - 1:  # keep room for the ellipsis
            break
        out.append(piece)
        used += len(piece)
    return "".join(out).rstrip() + "…"


def _one_line(text: str) -> str:
    """Headlines and names are single-line in a notification; feeds often carry stray newlines."""
    return _WHITESPACE.sub(" ", text).strip()


def safe_url(url: str) -> str:
    """The URL ready for the inside of ``<…|…>``: http(s) only, ``|<>``/spaces/non-ASCII percent-encoded,
    ``&`` written as ``&amp;``. Raises ValueError for anything that should not become a link."""
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"URL longer than {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("only http and https URLs are linked")
    if "@" in parts.netloc:  # "https://trusted.org@evil.example" is a phishing trick, never a news link
        raise ValueError("URL carries user info")
    if not parts.hostname or not _HOST.fullmatch(parts.hostname):
        raise ValueError("URL has no valid host")
    _ = parts.port  # raises ValueError on a malformed port
    # "|" would end the URL and start the label, ">" would end the link: neither may survive unencoded.
    encoded = "".join(c if c in _URL_KEEP else quote(c, safe="") for c in url)
    return encoded.replace("&", "&amp;")


def link(url: str, label: str) -> str:
    """A mrkdwn link ``<url|label>``; the label is escaped, the URL validated (ValueError if not http/https)."""
    target = safe_url(url)
    text = _one_line(label)
    return f"<{target}|{escape_mrkdwn(text)}>" if text else f"<{target}>"


def snippet_to_mrkdwn(snippet: str, limit: int = SNIPPET_CHARS) -> str:
    """An Elasticsearch highlight (``<em>`` marks matches; default encoder, so the rest is raw text) as mrkdwn:
    matches in ``*bold*``, everything else escaped, whitespace collapsed, at most about ``limit`` characters."""
    out: list[str] = []
    used = 0
    emphasised = False
    for index, part in enumerate(_EM_TAG.split(_one_line(snippet))):
        if index:  # every split point is an <em> or </em>; unbalanced tags simply toggle back
            emphasised = not emphasised
        if not part or used >= limit:
            continue
        if emphasised:
            # "*" inside the term would end the bold early; surrounding spaces stop Slack from bolding at all
            term = part.replace("*", "").strip()
            lead, trail = (" " if part[:1].isspace() else ""), (" " if part[-1:].isspace() else "")
            piece = f"{lead}*{_escape_fit(term, max(limit - used - 2, 1))}*{trail}" if term else part
        else:
            piece = _escape_fit(part, limit - used)
        out.append(piece)
        used += len(piece)
    return re.sub(" {2,}", " ", "".join(out)).strip()  # the spaces moved out of <em> may now double up


def _utc(value: datetime | None) -> str:
    if value is None:
        return "date unknown"
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # contract says UTC; be lenient on naive
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _title_link(alert: Alert) -> str:
    title = _one_line(alert.title) or "(untitled story)"
    try:
        target = safe_url(alert.url)
    except ValueError:
        return _escape_fit(title, TITLE_CHARS)  # an unlinkable URL still leaves a readable alert
    return f"<{target}|{_escape_fit(title, TITLE_CHARS)}>"


def _names(values: list[str], top: int) -> str:
    shown = [_escape_fit(_one_line(v), NAME_CHARS) for v in values[:top] if _one_line(v)]
    extra = len(values) - top
    return ", ".join(shown) + (f" +{extra}" if extra > 0 else "")


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _fallback(text: str) -> str:
    return _escape_fit(_one_line(text), FALLBACK_CHARS)


def alert_blocks(alert: Alert) -> dict[str, Any]:
    """One immediate alert as a webhook / chat.postMessage payload (``text`` fallback plus ``blocks``)."""
    source = _escape_fit(_one_line(alert.source), NAME_CHARS)
    subscription = _escape_fit(_one_line(alert.subscription_name), NAME_CHARS)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(f"*{_title_link(alert)}*")},
        {"type": "context", "elements": [_mrkdwn(f"{source} · {_utc(alert.published_at)}"),
                                         _mrkdwn(f"matched *{subscription}*")]},
    ]
    snippet = snippet_to_mrkdwn(alert.snippet)
    if snippet:
        blocks.append({"type": "section", "text": _mrkdwn(snippet)})
    tags = []
    if alert.entities:
        tags.append(_mrkdwn(f"Entities: {_names(alert.entities, TOP_ENTITIES)}"))
    if alert.topics:
        tags.append(_mrkdwn(f"Topics: {_names(alert.topics, TOP_TOPICS)}"))
    if tags:
        blocks.append({"type": "context", "elements": tags})
    return {
        "text": _fallback(f"{alert.title} — {alert.source} [{alert.subscription_name}]"),
        "blocks": blocks,
        # A preview of the article would repeat the title and can be attacker-chosen imagery.
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _digest_item(alert: Alert, also_in: dict[str, int]) -> dict[str, Any]:
    meta = [_escape_fit(_one_line(alert.source), NAME_CHARS), _utc(alert.published_at)]
    others = also_in.get(alert.cluster_id, 0)
    if others > 0:
        meta.append(f"also in {others} outlet{'s' if others != 1 else ''}")
    lines = [f"*{_title_link(alert)}*", " · ".join(meta)]
    snippet = snippet_to_mrkdwn(alert.snippet, DIGEST_SNIPPET_CHARS)
    if snippet:
        lines.append(snippet)
    return {"type": "section", "text": _mrkdwn("\n".join(lines))}


def payload_size(payload: dict[str, Any]) -> int:
    """Characters of the JSON Slack receives (ASCII-escaped: an upper bound for non-Latin text)."""
    return len(json.dumps(payload))


def _digest_message(name: str, period: str, part: int, items: list[dict[str, Any]], total: int,
                    more: int) -> dict[str, Any]:
    part_label = f" (part {part})" if part > 1 else ""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(
        f"*Digest: {_escape_fit(_one_line(name), NAME_CHARS)}* · {_escape_fit(_one_line(period), NAME_CHARS)}"
        f" · {total} stor{'y' if total == 1 else 'ies'}{part_label}")}]
    blocks.extend(items)
    if more:
        blocks.append({"type": "context", "elements": [_mrkdwn(f"…and {more} more not shown")]})
    return {"text": _fallback(f"govwatch digest: {name} — {period}: {total} stories{part_label}"),
            "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def digest_blocks(subscription_name: str, period_label: str, alerts: list[Alert],
                  also_in: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """A digest as one or more payloads, each within ``MAX_BLOCKS`` and ``PAYLOAD_BUDGET_CHARS``.

    Items are packed in the given order; a new message starts when the next item would break either limit.
    After ``MAX_DIGEST_MESSAGES`` messages the remaining stories are counted in "…and N more not shown".
    An empty list gives no payload (nothing to send)."""
    counts = also_in or {}
    items = [_digest_item(a, counts) for a in alerts]
    total = len(items)
    messages: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    index = 0
    while index < total:
        last_message = len(messages) + 1 == MAX_DIGEST_MESSAGES
        candidate = [*current, items[index]]
        # Reserve the "and N more" line in the last message so adding it can never break a limit.
        probe = _digest_message(subscription_name, period_label, len(messages) + 1, candidate, total,
                                more=total if last_message else 0)
        fits = len(probe["blocks"]) <= MAX_BLOCKS and payload_size(probe) <= PAYLOAD_BUDGET_CHARS
        if fits:
            current = candidate
            index += 1
            continue
        if not current:  # cannot happen with the field caps above; guard against an endless loop anyway
            raise ValueError("a single digest item exceeds the Slack payload budget")
        if last_message:
            break
        messages.append(_digest_message(subscription_name, period_label, len(messages) + 1, current, total, 0))
        current = []
    if current:
        messages.append(_digest_message(subscription_name, period_label, len(messages) + 1, current, total,
                                        more=total - index))
    return messages
