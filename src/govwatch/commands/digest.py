"""``govwatch digest --period hourly|daily``: send the pending digests now (what the scheduled flow runs)."""

from __future__ import annotations

import argparse

from govwatch.settings import Settings


def run_digests(settings: Settings, period: str) -> str:
    from govwatch.adapters import es_io
    from govwatch.alerts.digest import send_digests
    from govwatch.alerts.ledger import AlertLedger
    from govwatch.alerts.store import SubscriptionStore
    from govwatch.models import utcnow

    es = es_io.make_client(settings)
    from govwatch.alerts.slack_send import make_sender

    sender, client = make_sender(settings)
    try:
        summary = send_digests(SubscriptionStore(es, settings.index("subscriptions")),
                               AlertLedger(es, settings.index("alert-ledger")), sender, settings.slack_api_base,
                               period, utcnow())
    finally:
        client.close()
    return summary.render()


def _digest(args: argparse.Namespace, settings: Settings) -> int:
    print(run_digests(settings, args.period))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("digest", help="send pending hourly or daily digests now")
    parser.add_argument("--period", choices=["hourly", "daily"], required=True)
    parser.set_defaults(handler=_digest)
