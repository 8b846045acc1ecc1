"""Slack payloads for alerts per event (pure): the thread's parent with its "covered by N outlets" line, a reply,
and the "more coverage" roll-up of a webhook destination (a digest of the event's later stories).

Built on ``slack_format`` (every untrusted string escaped once, every payload within Slack's limits): the parent is
the story's ordinary alert plus one context line; if that line would break a limit (hostile input already at the
edge), the ordinary alert is sent without it.
"""

from __future__ import annotations

from typing import Any

from govwatch.alerts.slack_format import DigestMessage, alert_blocks, digest_blocks, within_limits
from govwatch.models import Alert

ROLLUP_TITLE_CHARS = 120  # the event's title in a roll-up header (the digest header clips it again if needed)


def coverage_line(outlets: int, stories: int, threaded: bool) -> str:
    """The parent's line: how far the event's coverage went, and where later stories are."""
    where = "later coverage in the thread" if threaded else "later coverage in an hourly roll-up"
    counted = f"covered by {outlets} outlet{'s' if outlets != 1 else ''}"
    if stories > outlets:
        counted += f" ({stories} stories)"
    return f"Event: {counted} · {where}"


def event_parent_blocks(alert: Alert, outlets: int, stories: int, threaded: bool) -> dict[str, Any]:
    """The first story of an event for a subscription: its alert, plus the coverage line."""
    payload = alert_blocks(alert)
    line = {"type": "context", "elements": [{"type": "mrkdwn", "text": coverage_line(outlets, stories, threaded)}]}
    extended = {**payload, "blocks": [*payload["blocks"], line]}
    return extended if within_limits(extended) else payload


def event_reply_blocks(alert: Alert) -> dict[str, Any]:
    """A later story of the event, posted in the parent's thread."""
    return alert_blocks(alert)


def rollup_blocks(subscription_name: str, event_title: str, window_label: str,
                  alerts: list[Alert]) -> list[DigestMessage]:
    """One event's later stories for a webhook destination, as a "more coverage" digest (split within limits)."""
    title = " ".join(event_title.split())
    title = title if len(title) <= ROLLUP_TITLE_CHARS else title[:ROLLUP_TITLE_CHARS - 1] + "…"
    return digest_blocks(subscription_name, f"more coverage of “{title}”, {window_label}", alerts)
