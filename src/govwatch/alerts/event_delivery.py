"""Where an event-granularity alert goes: the thread's top-level parent, a reply in its thread, the webhook
roll-up, or nowhere yet (its parent's Slack ``ts`` is not known: it waits and is retried, never posted top-level).

:func:`route` opens the (subscription, event) thread (create-only, ``govwatch.alerts.threads``): the alert that
created it is the parent. For a later story: a webhook cannot thread, so it waits for the roll-up
(``govwatch.alerts.rollup``); a bot-token destination replies under the parent's ``ts`` once it is known. A parent
that can no longer give a ``ts`` (given up for good, delivered without a post of its own in a catch-up digest, or
its ledger entry gone) hands the thread over (:meth:`EventThreads.adopt`) to the story asking, so a thread never
waits on a parent that will not come.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from govwatch.alerts.ledger import AlertLedger
from govwatch.alerts.subscriptions import Destination
from govwatch.alerts.threads import EventThreads, Thread
from govwatch.errors import TransientError
from govwatch.models import Alert

PARENT_WAIT_S = 1.0  # a reply whose parent is still in flight is looked at again this much later

RouteKind = Literal["parent", "reply", "rollup", "wait"]


class ParentPending(TransientError):
    """A reply whose thread's parent has no Slack ``ts`` yet: deferred, not counted as a failed attempt."""

    paced = True  # read by the notifier's deferral: waiting for the parent is not the destination failing

    def __init__(self, message: str, retry_after: float = PARENT_WAIT_S) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Route:
    """What to do with one event alert, and its thread as read."""

    kind: RouteKind
    thread: Thread


def route(threads: EventThreads, ledger: AlertLedger, alert: Alert, destination: Destination,
          now: datetime) -> Route:
    """Decide where ``alert`` (granularity ``event``) goes; see the module docstring."""
    thread = threads.open(alert, now)
    if thread.parent_alert_id == alert.alert_id:
        return Route("parent", thread)
    if destination.kind != "bot":  # only a bot token can thread; every webhook-like channel rolls up
        return Route("rollup", thread)
    if thread.ts:
        return Route("reply", thread)
    parent = ledger.get(thread.parent_alert_id)
    status = parent.get("status") if parent else None
    if status in (None, "delivered", "dead_lettered"):  # no ts will come from this parent
        thread = threads.adopt(thread, alert, now)
        if thread.parent_alert_id == alert.alert_id:
            return Route("parent", thread)
        if thread.ts:
            return Route("reply", thread)
    return Route("wait", thread)
