"""What every route needs, built once per app: settings, the Elasticsearch client, the service layer, auth, clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch
from fastapi import Request
from pydantic import SecretStr

from govwatch.alerts import history
from govwatch.alerts.subscription_service import Actor, Clock, SubscriptionService
from govwatch.alerts.subscriptions import Subscription
from govwatch.kibana.objects import data_view_id
from govwatch.settings import Settings
from govwatch.web.auth import Authenticator, Principal, SessionSigner
from govwatch.web.render import kibana_discover_url


@dataclass
class WebContext:
    settings: Settings
    es: Elasticsearch
    service: SubscriptionService
    auth: Authenticator
    signer: SessionSigner
    clock: Clock
    env: Any  # jinja2.Environment

    @property
    def ledger_index(self) -> str:
        return self.settings.index("alert-ledger")

    @property
    def alias(self) -> str:
        return self.settings.index("stories")

    def kibana_url(self, query: str) -> str | None:
        return kibana_discover_url(self.settings.kibana_public_url,
                                   data_view_id(self.settings.index_prefix, "stories"), query)

    def visible_ids(self, actor: Actor) -> list[str] | None:
        """The subscription ids whose alerts the actor may see (None: all, for an admin)."""
        return None if actor.admin else [s.id for s in self.service.list(actor)]

    def retry(self, actor: Actor, alert_id: str) -> str:
        """Retry one alert of a subscription the actor may see (KeyError when it is not theirs or unknown)."""
        from govwatch.adapters.kafka_topics import ALERTS
        from govwatch.wiring.clients import producer_session

        entry = self.service.ledger.get(alert_id)
        if entry is None:
            raise KeyError(alert_id)
        self.service.get(actor, entry["subscription_id"])  # not theirs: SubscriptionNotFound -> 404
        with producer_session(self.settings) as producer:
            return history.retry(self.es, self.ledger_index, producer, self.settings.topic(ALERTS), alert_id,
                                 self.clock())

    def story_subscriptions(self, actor: Actor, rows: list[history.AlertRow]) -> list[Subscription]:
        """The subscriptions behind these ledger rows that still exist and the actor may see."""
        wanted = {r.subscription_id for r in rows}
        return [s for s in self.service.list(actor) if s.id in wanted]


def secret_text(value: object) -> str | None:
    """A secret setting's value; ``model_copy(update=...)`` may have put a plain string where a SecretStr goes."""
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def ctx_of(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def principal_of(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def actor_of(request: Request) -> Actor:
    p = principal_of(request)
    return Actor(owner=p.owner, admin=p.admin)
