"""A spike or source-health alert as a Slack payload (pure). The alert itself is channel-neutral (title, lines,
links); this renders it with the same escaping and size rules as every other Slack message (``slack_format``)."""

from __future__ import annotations

from typing import Any

from govwatch.alerts.slack_format import _escape_fit, _one_line, link, within_limits
from govwatch.models import Alert

# Tried in order until the payload fits: (characters of the title, of each line, of each link label, links shown).
_LADDER = ((300, 300, 200, 10), (150, 150, 100, 5), (80, 80, 60, 2), (60, 60, 0, 0))


def _link_line(title: str, url: str, label_chars: int) -> str:
    label = (_one_line(title) or "(untitled story)")[:label_chars]
    try:
        return link(url, label)  # escapes the label, validates the URL
    except ValueError:
        return _escape_fit(label, label_chars)  # an unlinkable URL still leaves the title


def _payload(alert: Alert, title_chars: int, line_chars: int, label_chars: int, links: int) -> dict[str, Any]:
    title = _escape_fit(_one_line(alert.title), title_chars)
    icon = ":stethoscope:" if alert.kind == "health" else ":chart_with_upwards_trend:"
    head = {"type": "mrkdwn", "text": f"{icon} *{title}*"}
    blocks: list[dict[str, Any]] = [{"type": "section", "text": head}]
    lines = [_escape_fit(_one_line(line), line_chars) for line in alert.lines if _one_line(line)]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    shown = [f"• {_link_line(item.title, item.url, label_chars)}" for item in alert.links[:links]]
    if shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(shown)}})
    return {"text": _escape_fit(_one_line(alert.title), title_chars), "blocks": blocks,
            "unfurl_links": False, "unfurl_media": False}


def spike_blocks(alert: Alert) -> dict[str, Any]:
    """The spike or health alert's payload within every Slack limit (lines and links clipped until it fits)."""
    payload: dict[str, Any] = {}
    for caps in _LADDER:
        payload = _payload(alert, *caps)
        if within_limits(payload):
            return payload
    return payload
