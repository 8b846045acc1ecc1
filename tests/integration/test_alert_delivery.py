"""Alert delivery through the real consumers: hostile text is neutralised, a revoked webhook is dead-lettered
without holding up the other subscriptions."""

from __future__ import annotations

import json
from html import escape
import time
from pathlib import Path

from govwatch import demo
from govwatch.alerts.ledger import Ledger
from govwatch.alerts.slack_receiver import ScriptedResponse, SlackReceiver
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.identity import story_id
from govwatch.models import DeadLetter
from govwatch.topics import ALERTS, RAW, dlq
from tests.factories import raw_story
from tests.support.httpserve import Route, Site, serve
from tests.support.kafka_util import produce, read_all

HOSTILE_TITLE = "EU AI Act fine <!channel> <!everyone> ping <@U123> see <https://x|y>"
HOSTILE_SUMMARY = "Regulators fined a lab under the AI Act. <!here> <https://evil.example|click here> & more"
# The page carries the hostile title as text (entity-encoded in HTML), exactly as a publisher would show it.
PAGE = f"""<html><head><title>{escape(HOSTILE_TITLE)}</title></head><body><article><h1>{escape(HOSTILE_TITLE)}</h1>
<p>Regulators in Brussels fined an AI lab under the AI Act on Tuesday, the first such penalty.</p>
<p>The European Commission said &lt;!channel&gt; enforcement would continue across the bloc.</p>
</article></body></html>"""
CONTROL = ("<!channel>", "<!everyone>", "<!here>", "<@U123>", "<https://x|y>", "<https://evil.example|click here>")


def test_injection_neutralised_and_revoked_webhook_dead_lettered(initialized, tmp_path: Path) -> None:  # noqa: ANN001
    """Slack control sequences in a story arrive escaped; a 410 webhook goes to the DLQ and ledger, the other delivers."""
    settings = initialized
    es = demo.es_client(settings)
    store = SubscriptionStore(es, settings.index("subscriptions"))
    with SlackReceiver() as receiver, serve(Site()) as site:
        good = store.add(Subscription(name="AI Act fines", query='"AI Act" AND fine*',
                                      destination=Destination(kind="webhook", webhook_url=receiver.webhook_url("T/B/good"))))
        revoked_url = receiver.webhook_url("T/B/revokedSECRET99")
        receiver.script("/services/T/B/revokedSECRET99", ScriptedResponse(410, "invalid_token"), forever=True)
        gone = store.add(Subscription(name="AI Act (revoked hook)", query='"AI Act"',
                                      destination=Destination(kind="webhook", webhook_url=revoked_url)))
        site.routes["/hostile"] = Route(PAGE.encode())
        url = site.url("/hostile")
        raw = raw_story("hostile", story_id=story_id(url), url=url, title=HOSTILE_TITLE, summary=HOSTILE_SUMMARY)
        pipeline = demo.Pipeline(settings, demo.child_env(settings, {}), tmp_path / "logs")
        pipeline.start()
        try:
            produce(settings.kafka_bootstrap, settings.topic(RAW), [(raw.story_id.encode(), raw.to_bytes())])
            letters = read_all(settings.kafka_bootstrap, settings.topic(dlq(ALERTS)), expect=1, timeout_s=120)
            deadline = time.monotonic() + 60
            while not receiver.deliveries:
                pipeline.check()
                assert time.monotonic() < deadline, "no delivery to the good subscription"
                time.sleep(0.2)
        finally:
            pipeline.stop()

    assert len(receiver.deliveries) == 1 and receiver.deliveries[0].path.endswith("/good")
    body = json.dumps(receiver.deliveries[0].payload)
    texts = [t for t in _texts(receiver.deliveries[0].payload)]
    assert all(seq not in t for t in texts for seq in CONTROL), texts
    assert all(seq.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in body
               for seq in ("<!channel>", "<!everyone>", "<@U123>")), body

    [letter] = [DeadLetter.from_bytes(r.value) for r in letters]
    assert letter.stage == "notify" and "410" in letter.reason and "revokedSECRET99" not in letter.reason
    ledger = Ledger(es, settings.index("alert-ledger"))
    from govwatch.alerts.ledger import alert_id

    assert ledger.get(alert_id(gone.id, raw.story_id))["status"] == "dead_lettered"
    assert ledger.get(alert_id(good.id, raw.story_id))["status"] == "delivered"


def _texts(node: object) -> list[str]:
    """Every string in a Block Kit payload except the link URL inside the title's <url|label>."""
    if isinstance(node, dict):
        return [t for value in node.values() for t in _texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in _texts(value)]
    return [node] if isinstance(node, str) else []
