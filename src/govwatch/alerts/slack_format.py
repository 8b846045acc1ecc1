"""Slack Block Kit payloads for alerts and digests. Pure: no I/O, no Slack client.

Every string that came from a feed, a page or a user (titles, sources, snippets, entity and topic names,
subscription names) is untrusted. In mrkdwn, ``<!channel>``, ``<!here>``, ``<@U…>`` and ``<url|label>`` are
control sequences, so untrusted text goes through :func:`escape_mrkdwn` exactly once, at the point where it is
placed into a text object; the only ``<`` / ``>`` in a payload are the links built by :func:`link`.

Size policy: Slack documents 50 blocks per message and 3,000 characters per section text, but has rejected
~13k-character payloads below those limits (INFRA-NOTES), so every payload is kept under
``PAYLOAD_BUDGET_CHARS`` measured on its JSON. Every limit is measured on the *final* text: after mrkdwn
escaping, URL percent-encoding and ``&`` -> ``&amp;`` (:func:`within_limits`). Fields are clipped on escaped
length (so an entity such as ``&amp;`` is never cut in half); when hostile input still does not fit, the
fields are clipped further and a link that is too long once encoded is shortened to its origin and path, or
dropped with the title kept as plain text: a story is never dropped. A digest is split over up to
``MAX_DIGEST_MESSAGES`` messages; stories beyond that are counted in a final "…and N more" line rather than
flooding a channel, and :class:`DigestMessage` says which alerts each message carries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from govwatch.models import Alert

MAX_BLOCKS = 50  # Slack's documented per-message block limit
MAX_SECTION_CHARS = 3_000  # Slack's documented limit on one section's text
PAYLOAD_BUDGET_CHARS = 10_000  # well under the ~13k payloads Slack has rejected in practice
MAX_DIGEST_MESSAGES = 5  # beyond ~5 messages a digest is noise; the rest is summarised as "and N more"
MAX_URL_CHARS = 2_000  # encoded; longer links are tracking junk and would eat the payload budget
MAX_URL_INPUT_CHARS = 100_000  # not worth parsing: bounds the work a hostile feed can cause
TITLE_CHARS = 500  # escaped characters; headlines are far shorter, this only stops abuse
SNIPPET_CHARS = 1_200
DIGEST_SNIPPET_CHARS = 280  # a digest item is a teaser; the full snippet is in the immediate alert
NAME_CHARS = 120  # source, subscription, one entity or topic name
TOP_ENTITIES = 5
TOP_TOPICS = 5
FALLBACK_CHARS = 300  # the notification text shown by phones and screen readers

# C0/C1 controls (newline and tab kept) and bidi overrides/isolates, which can make text render reversed
# ("spoofed" link labels, hidden content); none of them carries meaning in a headline. Lone surrogates (from
# a bad "\ud83d" escape in a feed's JSON) cannot be encoded as UTF-8, so a payload holding one could not be sent.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s+")
_EM_TAG = re.compile(r"</?em>", re.IGNORECASE)
# Host names: letters/digits (any script, for IDNs), dots, hyphens; colons for IPv6 (brackets already removed).
_HOST = re.compile(r"[\w\-.:]+")
# Characters left as they are in a link target; every run of others is percent-encoded (as UTF-8).
_URL_ENCODE = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


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


def _ascii_host(host: str) -> str:
    """The host as Slack can link it: IDNs in their ``xn--`` form (percent-encoding a host breaks the link)."""
    if host.isascii():
        return f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("URL host is not a valid international domain name") from exc


def _encode_url(url: str) -> str:
    # "|" would end the URL and start the label, ">" would end the link: neither may survive unencoded.
    encoded = _URL_ENCODE.sub(lambda run: quote(run.group(), safe=""), url)
    return encoded.replace("&", "&amp;")


def safe_url(url: str, max_chars: int = MAX_URL_CHARS) -> str:
    """The URL ready for the inside of ``<…|…>``: http(s) only, IDN hosts in ``xn--`` form, ``|<>``/spaces/
    non-ASCII percent-encoded, ``&`` written as ``&amp;``, and at most ``max_chars`` characters *as encoded*.

    A URL too long once encoded (tracking parameters full of ``&``, a non-ASCII path) is shortened to its
    origin and path; raises ValueError when even that is too long, or for anything that should not become a
    link (the caller then shows the title as plain text)."""
    url = url.strip()
    if len(url) > MAX_URL_INPUT_CHARS:
        raise ValueError(f"URL longer than {MAX_URL_INPUT_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("only http and https URLs are linked")
    if "@" in parts.netloc:  # "https://trusted.org@evil.example" is a phishing trick, never a news link
        raise ValueError("URL carries user info")
    if not parts.hostname or not _HOST.fullmatch(parts.hostname):
        raise ValueError("URL has no valid host")
    port = parts.port  # raises ValueError on a malformed port
    origin = f"{parts.scheme.lower()}://{_ascii_host(parts.hostname)}{f':{port}' if port is not None else ''}"
    full = origin + parts.path + (f"?{parts.query}" if parts.query else "") + (
        f"#{parts.fragment}" if parts.fragment else "")
    for candidate in (full, origin + (parts.path or "/")):
        if len(candidate) > max_chars:  # encoding never shortens: no need to encode what is already too long
            continue
        encoded = _encode_url(candidate)
        if len(encoded) <= max_chars:
            return encoded
    raise ValueError(f"URL longer than {max_chars} characters once encoded, even without its query")


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


@dataclass(frozen=True)
class _Caps:
    """Character caps (on escaped text) for one attempt at fitting a payload; ``url`` 0 means no link."""

    url: int
    title: int
    snippet: int
    name: int
    names: int  # entities / topics shown
    fallback: int


# Tried in order until the payload, measured as Slack receives it, is within every limit. The first rung is
# what ordinary stories get; the later ones exist because escaping and JSON encoding can multiply hostile
# text (``&`` -> ``&amp;``, an emoji -> 12 JSON characters). The last rung fits by construction even when every
# character is worst case: a story is always sent, at worst as a short unlinked title.
_LADDER = (
    _Caps(MAX_URL_CHARS, TITLE_CHARS, SNIPPET_CHARS, NAME_CHARS, TOP_ENTITIES, FALLBACK_CHARS),
    _Caps(MAX_URL_CHARS, 300, 500, 80, TOP_ENTITIES, 200),
    _Caps(1_000, 200, 200, 60, 3, 150),
    _Caps(500, 120, 80, 40, 2, 100),
    _Caps(0, 80, 0, 30, 1, 80),
)


def _title_link(alert: Alert, caps: _Caps) -> str:
    title = _escape_fit(_one_line(_INVISIBLE.sub("", alert.title)) or "(untitled story)", caps.title)
    if caps.url:
        try:
            return f"<{safe_url(alert.url, caps.url)}|{title}>"
        except ValueError:
            pass  # an unlinkable or overlong URL still leaves a readable alert
    return title


def _names(values: list[str], top: int, chars: int) -> str:
    shown = [_escape_fit(_one_line(v), chars) for v in values[:top] if _one_line(v)]
    extra = len(values) - top
    return ", ".join(shown) + (f" +{extra}" if extra > 0 else "")


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _fallback(text: str, chars: int = FALLBACK_CHARS) -> str:
    return _escape_fit(_one_line(text), chars)


def payload_size(payload: dict[str, Any]) -> int:
    """Characters of the JSON Slack receives (ASCII-escaped: an upper bound for non-Latin text)."""
    return len(json.dumps(payload))


def _text_objects(node: object) -> list[str]:
    """Every text object's text in a block tree."""
    if isinstance(node, list):
        return [t for item in node for t in _text_objects(item)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str) else []
    return own + [t for key, value in node.items() if key != "text" or not isinstance(value, str)
                  for t in _text_objects(value)]


def within_limits(payload: dict[str, Any]) -> bool:
    """Whether a payload respects every Slack limit, measured on its final (escaped, encoded) text."""
    blocks = payload.get("blocks") or []
    return (len(blocks) <= MAX_BLOCKS and payload_size(payload) <= PAYLOAD_BUDGET_CHARS
            and len(payload.get("text", "")) <= FALLBACK_CHARS
            and all(len(text) <= MAX_SECTION_CHARS for text in _text_objects(blocks)))


def _alert_payload(alert: Alert, caps: _Caps) -> dict[str, Any]:
    source = _escape_fit(_one_line(alert.source), caps.name)
    subscription = _escape_fit(_one_line(alert.subscription_name), caps.name)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(f"*{_title_link(alert, caps)}*")},
        {"type": "context", "elements": [_mrkdwn(f"{source} · {_utc(alert.published_at)}"),
                                         _mrkdwn(f"matched *{subscription}*")]},
    ]
    snippet = snippet_to_mrkdwn(alert.snippet, caps.snippet) if caps.snippet else ""
    if snippet:
        blocks.append({"type": "section", "text": _mrkdwn(snippet)})
    tags = []
    if alert.entities:
        tags.append(_mrkdwn(f"Entities: {_names(alert.entities, min(TOP_ENTITIES, caps.names), caps.name)}"))
    if alert.topics:
        tags.append(_mrkdwn(f"Topics: {_names(alert.topics, min(TOP_TOPICS, caps.names), caps.name)}"))
    if tags:
        blocks.append({"type": "context", "elements": tags})
    return {
        "text": _fallback(f"{alert.title} — {alert.source} [{alert.subscription_name}]", caps.fallback),
        "blocks": blocks,
        # A preview of the article would repeat the title and can be attacker-chosen imagery.
        "unfurl_links": False,
        "unfurl_media": False,
    }


def alert_blocks(alert: Alert) -> dict[str, Any]:
    """One immediate alert as a webhook / chat.postMessage payload (``text`` fallback plus ``blocks``), within
    every Slack limit: fields are clipped further (and at last the link dropped) until it fits."""
    for caps in _LADDER:
        payload = _alert_payload(alert, caps)
        if within_limits(payload):
            return payload
    return payload  # the last rung fits by construction; the unit tests hold it to that


def trial_message_blocks(subscription_name: str) -> dict[str, Any]:
    """The payload of "send a test message": the subscription's name (user input) escaped in the blocks *and* in
    the ``text`` fallback, which Slack also parses as mrkdwn (a name of ``<!channel>`` must not ping anyone)."""
    name = _escape_fit(_one_line(subscription_name), NAME_CHARS)
    section = f"govwatch test message for the subscription *{name}*: alerts for it will arrive here."
    return {"text": _fallback(f"govwatch test message for {subscription_name}"),
            "blocks": [{"type": "section", "text": _mrkdwn(section)}],
            "unfurl_links": False, "unfurl_media": False}


def _digest_item(alert: Alert, also_in: dict[str, int], caps: _Caps) -> dict[str, Any]:
    meta = [_escape_fit(_one_line(alert.source), caps.name), _utc(alert.published_at)]
    others = also_in.get(alert.cluster_id, 0)
    if others > 0:
        meta.append(f"also in {others} outlet{'s' if others != 1 else ''}")
    lines = [f"*{_title_link(alert, caps)}*", " · ".join(meta)]
    snippet = snippet_to_mrkdwn(alert.snippet, min(DIGEST_SNIPPET_CHARS, caps.snippet)) if caps.snippet else ""
    if snippet:
        lines.append(snippet)
    return {"type": "section", "text": _mrkdwn("\n".join(lines))}


def _digest_message(name: str, period: str, part: int, items: list[dict[str, Any]], total: int,
                    more: int, caps: _Caps) -> dict[str, Any]:
    part_label = f" (part {part})" if part > 1 else ""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(
        f"*Digest: {_escape_fit(_one_line(name), caps.name)}* · {_escape_fit(_one_line(period), caps.name)}"
        f" · {total} stor{'y' if total == 1 else 'ies'}{part_label}")}]
    blocks.extend(items)
    if more:
        blocks.append({"type": "context", "elements": [_mrkdwn(f"…and {more} more not shown")]})
    return {"text": _fallback(f"govwatch digest: {name} — {period}: {total} stories{part_label}", caps.fallback),
            "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


@dataclass(frozen=True)
class DigestMessage:
    """One digest payload and the alerts it accounts for: ``alert_ids`` shown as items, in order, and
    ``more_ids`` only counted in its "…and N more not shown" line (the last message only)."""

    payload: dict[str, Any]
    alert_ids: tuple[str, ...]
    more_ids: tuple[str, ...] = ()

    @property
    def covered(self) -> tuple[str, ...]:
        """Every alert this message delivers once Slack accepts it."""
        return self.alert_ids + self.more_ids


def digest_blocks(subscription_name: str, period_label: str, alerts: list[Alert],
                  also_in: dict[str, int] | None = None) -> list[DigestMessage]:
    """A digest as one or more messages, each payload within every Slack limit (see :func:`within_limits`).

    Items are packed in the given order; a new message starts when the next item would break a limit.
    An item too big for a message of its own is clipped further (at last its link dropped), never left out.
    After ``MAX_DIGEST_MESSAGES`` messages the remaining stories are counted in "…and N more not shown".
    An empty list gives no message (nothing to send)."""
    if not alerts:
        return []
    counts = also_in or {}
    total = len(alerts)
    # The header is the same in every message: keep it to half the budget so any single item fits beside it.
    header = next((caps for caps in _LADDER if payload_size(_digest_message(
        subscription_name, period_label, MAX_DIGEST_MESSAGES, [], total, total, caps)) <= PAYLOAD_BUDGET_CHARS // 2),
        _LADDER[-1])

    def message(part: int, items: list[dict[str, Any]], more: int) -> dict[str, Any]:
        return _digest_message(subscription_name, period_label, part, items, total, more, header)

    items = [_fitted_item(a, counts, lambda item: message(MAX_DIGEST_MESSAGES, [item], total)) for a in alerts]
    messages: list[DigestMessage] = []
    current: list[int] = []  # positions in ``alerts`` of the current message's items
    index = 0
    while index < total:
        last_message = len(messages) + 1 == MAX_DIGEST_MESSAGES
        candidate = [*current, index]
        # Reserve the "and N more" line in the last message so adding it can never break a limit.
        probe = message(len(messages) + 1, [items[i] for i in candidate], total if last_message else 0)
        if within_limits(probe) or not current:  # a lone item always fits (see _fitted_item)
            current = candidate
            index += 1
            continue
        if last_message:
            break
        messages.append(DigestMessage(message(len(messages) + 1, [items[i] for i in current], 0),
                                      tuple(alerts[i].alert_id for i in current)))
        current = []
    if current:
        messages.append(DigestMessage(message(len(messages) + 1, [items[i] for i in current], total - index),
                                      tuple(alerts[i].alert_id for i in current),
                                      tuple(a.alert_id for a in alerts[index:])))
    return messages


def _fitted_item(alert: Alert, counts: dict[str, int], alone: Callable[[dict[str, Any]], dict[str, Any]],
                 ) -> dict[str, Any]:
    """The first rung of the ladder whose item, alone in a message (``alone``), is within every limit."""
    for caps in _LADDER:
        item = _digest_item(alert, counts, caps)
        if within_limits(alone(item)):
            return item
    return item  # the last rung fits by construction; the unit tests hold it to that
