"""Every alert message on every channel: a Slack Block Kit payload read back into neutral parts, then rendered as a
Teams Adaptive Card, an e-mail (plain text + simple HTML) or a generic JSON body. Pure: no I/O.

Why from the Block Kit payload: every kind of message (keyword alert per story, cluster or event, event reply,
digest, roll-up, catch-up, spike alert, test message) is already built once by ``slack_format`` / ``event_format``
within its size limits, with untrusted text escaped exactly once (``&``, ``<``, ``>``) and links validated
(http/https only). Reading that back (:func:`neutral`) gives each channel the same content without a second set of
formatters to keep in step. The payloads use only ``section`` and ``context`` blocks of ``mrkdwn`` text; links are
``<url|label>``.

Each channel escapes for itself: Teams markdown metacharacters are backslash-escaped outside the links this module
writes (a headline ``[x](javascript:…)`` stays text); HTML is ``html.escape``d with ``href`` values that passed
``safe_url`` already. Slack's ``*bold*`` marks are dropped on Teams (the card's title is bold instead) and kept as
``<b>`` in HTML.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from govwatch.models import Alert

_LINK = re.compile(r"<(https?://[^<>|]+)\|([^<>]*)>|<(https?://[^<>|]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
# What could make a link or emphasis out of untrusted text in an Adaptive Card (its markdown is bold, italic, lists
# and links only); backslash-escaped, as CommonMark renderers take it.
_MD_META = re.compile(r"([\\*_\[\]<>])")
MAX_TITLE_CHARS = 250


@dataclass(frozen=True)
class Link:
    """A link of the message: its (unescaped) label and URL."""

    label: str
    url: str


@dataclass(frozen=True)
class Neutral:
    """A message without a channel: a one-line title, paragraphs of mrkdwn, and the links it carries."""

    title: str
    paragraphs: tuple[str, ...]
    links: tuple[Link, ...]


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _url(match: re.Match[str]) -> str:
    """A link's target as sent (Slack's payloads carry ``&`` as ``&amp;``)."""
    return _unescape(match.group(1) or match.group(3))


def _texts(payload: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for block in payload.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), dict):
            out.append(str(block["text"].get("text", "")))
        parts = [str(e.get("text", "")) for e in block.get("elements") or [] if isinstance(e, dict)]
        if parts:
            out.append(" · ".join(parts))
    return [t for t in out if t.strip()]


def plain(mrkdwn: str) -> str:
    """mrkdwn as plain text: links as ``label <url>``, bold marks dropped, entities unescaped (once)."""
    def one(match: re.Match[str]) -> str:
        url = _url(match).replace("&", "&amp;")  # unescaped once with the rest below
        return f"{match.group(2)} <{url}>" if match.group(2) else url

    return _unescape(_BOLD.sub(r"\1", _LINK.sub(one, mrkdwn)))


def neutral(payload: dict[str, Any]) -> Neutral:
    """The parts of a Block Kit payload (its ``text`` fallback when it has no blocks)."""
    paragraphs = _texts(payload) or [str(payload.get("text", ""))]
    links = tuple(Link(_unescape(m.group(2)) if m.group(2) else _url(m), _url(m))
                  for text in paragraphs for m in _LINK.finditer(text))
    title = " ".join(plain(str(payload.get("text") or paragraphs[0])).split())[:MAX_TITLE_CHARS]
    return Neutral(title or "govwatch", tuple(paragraphs), links)


def _markdown(mrkdwn: str) -> str:
    """mrkdwn as Teams (CommonMark subset) markdown: text escaped, links kept as links."""
    out: list[str] = []
    pos = 0
    text = _BOLD.sub(r"\1", mrkdwn)
    for match in _LINK.finditer(text):
        out.append(_MD_META.sub(r"\\\1", _unescape(text[pos:match.start()])))
        url = _url(match)
        label = _MD_META.sub(r"\\\1", _unescape(match.group(2)) if match.group(2) else url)
        out.append(f"[{label}]({url.replace(')', '%29').replace(' ', '%20')})")
        pos = match.end()
    out.append(_MD_META.sub(r"\\\1", _unescape(text[pos:])))
    return "".join(out)


def teams_card(message: Neutral) -> dict[str, Any]:
    """The body of a Teams Workflows / incoming-webhook post: a message with one Adaptive Card attachment
    (Microsoft's documented shape: ``type: message``, ``attachments[0].contentType``
    ``application/vnd.microsoft.card.adaptive``, ``content`` an ``AdaptiveCard`` of ``TextBlock``s)."""
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": _MD_META.sub(r"\\\1", message.title), "wrap": True,
                                   "weight": "Bolder", "size": "Medium"}]
    body += [{"type": "TextBlock", "text": _markdown(p), "wrap": True} for p in message.paragraphs]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body, "msteams": {"width": "Full"}}
    return {"type": "message", "summary": message.title,
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                             "content": card}]}


def email_text(message: Neutral) -> str:
    """The plain-text part of an e-mail."""
    return "\n\n".join([message.title, *(plain(p) for p in message.paragraphs)]) + "\n"


def _html(mrkdwn: str) -> str:
    """mrkdwn as HTML: bold marks (around links too) as ``<b>``, links as anchors, everything else escaped."""
    marked = _BOLD.sub("\x02\\1\x03", mrkdwn.replace("\x02", "").replace("\x03", ""))
    out: list[str] = []
    pos = 0
    for match in _LINK.finditer(marked):
        out.append(html.escape(_unescape(marked[pos:match.start()])))
        url = _url(match)
        label = html.escape(_unescape(match.group(2)) if match.group(2) else url)
        out.append(f'<a href="{html.escape(url, quote=True)}">{label}</a>')
        pos = match.end()
    out.append(html.escape(_unescape(marked[pos:])))
    return "".join(out).replace("\x02", "<b>").replace("\x03", "</b>")


def email_html(message: Neutral) -> str:
    """The HTML part of an e-mail: a title and one paragraph per block, no images, no scripts, no styles."""
    paragraphs = "".join(f"<p>{_html(p)}</p>" for p in message.paragraphs)
    return (f"<!DOCTYPE html><html><body><h3>{html.escape(message.title)}</h3>{paragraphs}"
            "<p><small>Sent by govwatch.</small></p></body></html>")


def json_body(message: Neutral, alert_id: str, context: dict[str, Any] | None) -> dict[str, Any]:
    """The documented body of a generic JSON webhook (README "Channels"): ``schema``, ``alert_id``, ``title``,
    ``text`` (plain), ``links`` and, for an alert, ``subscription`` and the story/event fields (``alert``)."""
    body: dict[str, Any] = {
        "schema": "govwatch.alert.v1", "alert_id": alert_id, "title": message.title,
        "text": "\n\n".join(plain(p) for p in message.paragraphs),
        "links": [{"label": link.label, "url": link.url} for link in message.links],
    }
    if context:
        body.update(context)
    return body


def alert_context(alert: Alert) -> dict[str, Any]:
    """An alert's fields for a JSON webhook body: ``subscription`` and ``alert`` (story, event, spike parts)."""
    fields = alert.model_dump(mode="json", exclude={"trace", "schema_version", "alert_id", "subscription_id",
                                                    "subscription_name"})
    return {"subscription": {"id": alert.subscription_id, "name": alert.subscription_name}, "alert": fields}
