"""The subscription form (pure): urlencoded fields -> what the service layer takes, and back for re-display.

Filters are comma-separated lists, as the CLI's repeatable flags. The destination's secrets (webhook URL, bot
token) are read from the form but never put back into it: a re-displayed form leaves them empty ("leave empty to
keep"), and the saved destination is only ever shown masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govwatch.alerts.spike import SpikeRule
from govwatch.alerts.subscription_service import FILTER_LISTS
from govwatch.alerts.subscriptions import DEFAULT_GRANULARITY, GRANULARITIES, Filters, Subscription

Form = dict[str, list[str]]
MODES = ("immediate", "hourly", "daily")
DEFAULT_DAYS = 30  # a month: enough stories to judge the volume, still one small aggregation
SPIKE_FIELDS = ("k", "window_minutes", "baseline_windows", "min_count", "entity_id")  # form names: spike_<field>


def first(form: Form, name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


@dataclass
class SubscriptionForm:
    """What the form holds, as typed (strings), so it can be shown again with an error next to it."""

    name: str = ""
    query: str = ""
    owner: str = ""
    mode: str = "immediate"
    granularity: str = DEFAULT_GRANULARITY
    filters: dict[str, str] = field(default_factory=lambda: dict.fromkeys((*FILTER_LISTS, "min_relevance"), ""))
    allow_expensive: bool = False
    days: str = str(DEFAULT_DAYS)
    webhook_url: str = ""  # secrets: read, never shown back
    bot_token: str = ""
    channel: str = ""
    channel_kind: str = "slack"  # slack, teams, json, email: which destination fields count
    teams_url: str = ""  # secrets: read, never shown back
    json_url: str = ""
    signing_secret: str = ""
    email_to: str = ""
    spike_on: bool = False
    spike: dict[str, str] = field(default_factory=lambda: dict.fromkeys(SPIKE_FIELDS, ""))

    @classmethod
    def parse(cls, form: Form) -> SubscriptionForm:
        mode, granularity = first(form, "mode"), first(form, "granularity")
        return cls(name=first(form, "name"), query=first(form, "query"), owner=first(form, "owner"),
                   mode=mode if mode in MODES else "immediate",
                   granularity=granularity if granularity in GRANULARITIES else DEFAULT_GRANULARITY,
                   filters={name: first(form, name) for name in (*FILTER_LISTS, "min_relevance")},
                   allow_expensive=first(form, "allow_expensive") in ("on", "true", "1"),
                   days=first(form, "days") or str(DEFAULT_DAYS), webhook_url=first(form, "webhook_url"),
                   bot_token=first(form, "bot_token"), channel=first(form, "channel"),
                   channel_kind=first(form, "channel_kind") or "slack", teams_url=first(form, "teams_url"),
                   json_url=first(form, "json_url"), signing_secret=first(form, "signing_secret"),
                   email_to=first(form, "email_to"), spike_on=first(form, "spike_on") in ("on", "true", "1"),
                   spike={name: first(form, f"spike_{name}") for name in SPIKE_FIELDS})

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionForm:
        """A saved subscription, for the edit form (its destination's secrets stay out)."""
        flt = sub.filters
        values = {name: ", ".join(getattr(flt, name)) for name in FILTER_LISTS}
        values["min_relevance"] = "" if flt.min_relevance is None else str(flt.min_relevance)
        return cls(name=sub.name, query=sub.query, owner=sub.owner, mode=sub.mode, granularity=sub.granularity,
                   filters=values,
                   allow_expensive=sub.allow_expensive,
                   channel=sub.destination.channel or "" if sub.destination.kind == "bot" else "",
                   channel_kind=sub.destination.kind if sub.destination.kind in ("teams", "json", "email") else "slack",
                   email_to=", ".join(sub.destination.to), spike_on=sub.spike is not None,
                   spike={k: "" if v is None else str(v) for k, v in (sub.spike or SpikeRule()).model_dump().items()})

    def filter_values(self) -> dict[str, Any]:
        """The filters as ``merge_filters`` takes them; raises ValueError for a bad minimum relevance."""
        values: dict[str, Any] = {name: split_list(self.filters.get(name, "")) for name in FILTER_LISTS}
        raw = self.filters.get("min_relevance", "")
        values["min_relevance"] = float(raw) if raw else None
        return values

    def to_filters(self) -> Filters:
        values = self.filter_values()
        return Filters(**{k: v for k, v in values.items() if v not in (None, [])})

    def to_spike(self) -> SpikeRule | None:
        """The spike rule when its box is ticked (empty fields take the defaults); raises ValidationError."""
        if not self.spike_on:
            return None
        return SpikeRule.model_validate({k: v for k, v in self.spike.items() if v})

    def preview_days(self) -> int:
        try:
            return int(self.days)
        except ValueError:
            return DEFAULT_DAYS

    def without_secrets(self) -> SubscriptionForm:
        return SubscriptionForm(**{**self.__dict__, "webhook_url": "", "bot_token": "", "teams_url": "",
                                   "json_url": "", "signing_secret": ""})
