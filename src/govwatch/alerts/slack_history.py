"""Whether a message whose send had an unknown outcome is already in the channel: read back before sending again.

Every ``chat.postMessage`` carrying an alert id is tagged with message ``metadata`` (``event_type``
``ALERT_EVENT_TYPE``, ``event_payload.alert_id``). After an unknown outcome a bot-token destination reads the
channel's ``conversations.history`` (``include_all_metadata``, from just before the first unknown send) for that
tag: found means delivered. When the history cannot be read (no ``channels:history`` / ``groups:history`` scope,
another refusal, too many messages) the answer is "cannot tell" and the caller resends (at-least-once).
"""

from __future__ import annotations

from typing import Literal

import httpx

from govwatch.alerts.slack_outcome import REASON_CHARS, OutcomeUnknown, classify_api, json_or_empty
from govwatch.log import get_logger

ALERT_EVENT_TYPE = "govwatch_alert"  # Slack message metadata event_type; event_payload.alert_id is the ledger key
HISTORY_PAGE = 200  # Slack's recommended page size for conversations.history
HISTORY_MAX_PAGES = 5  # a busier channel than 1,000 messages since the unknown send: stop reading, fall back
HISTORY_SKEW_S = 120.0  # our clock vs Slack's message ts: start the window this much before the first unknown send
HISTORY_SCOPES = "channels:history (public channels) or groups:history (private channels)"

log = get_logger("govwatch.alerts.slack_send")  # the sender's log, of which this is a step


def find_in_history(client: httpx.Client, endpoint: str, token: str, channel: str, masked: str, dedup_id: str,
                    oldest: float, thread_ts: str | None = None) -> str | Literal[False] | None:
    """The ``ts`` of the message tagged ``dedup_id`` in the channel since ``oldest`` (a non-empty string); False:
    it is not there; None: we cannot tell (no history scope, another refusal, too many messages) -> at-least-once.

    ``thread_ts``: look among that thread's replies (``endpoint`` is then ``conversations.replies``: Slack's
    ``conversations.history`` lists only top-level messages)."""
    params: dict[str, str | int] = {"channel": channel, "oldest": f"{oldest:.6f}", "limit": HISTORY_PAGE,
                                    "include_all_metadata": "true"}
    if thread_ts is not None:
        params["ts"] = thread_ts
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(HISTORY_MAX_PAGES):
        try:
            response = client.get(endpoint, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"could not read the history of {masked} to check an earlier send whose "
                                 f"outcome is unknown ({type(exc).__name__}); not resending yet", oldest) from exc
        outcome = classify_api(response)
        if outcome.kind in ("transient", "rate_limited"):
            raise OutcomeUnknown(f"could not read the history of {masked} to check an earlier send whose "
                                 f"outcome is unknown ({outcome.reason}); not resending yet", oldest,
                                 retry_after=outcome.retry_after or None)
        if outcome.kind == "permanent":
            body = json_or_empty(response)
            if outcome.reason == "missing_scope":
                needed = str(body.get("needed") or HISTORY_SCOPES)[:REASON_CHARS]
                log.warning("slack.history_scope_missing", destination=masked, needed=needed,
                            fix=f"add the {needed} scope to the Slack app (OAuth & Permissions) and reinstall "
                                "it; until then a send whose outcome is unknown is resent and may post twice")
            else:
                log.warning("slack.history_unavailable", destination=masked, reason=outcome.reason)
            return None
        body = json_or_empty(response)
        for message in body.get("messages") or []:
            meta = message.get("metadata") if isinstance(message, dict) else None
            if (isinstance(meta, dict) and meta.get("event_type") == ALERT_EVENT_TYPE
                    and (meta.get("event_payload") or {}).get("alert_id") == dedup_id):
                return str(message.get("ts") or "") or "unknown"
        cursor = (body.get("response_metadata") or {}).get("next_cursor")
        if not body.get("has_more") or not cursor:
            return False
        params["cursor"] = cursor
    log.warning("slack.history_window_exceeded", destination=masked, pages=HISTORY_MAX_PAGES)
    return None
