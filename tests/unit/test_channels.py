"""Teams, JSON-webhook and e-mail destinations: their shape and allowlists, and every kind of message rendered on
each channel with untrusted text kept as text (pure functions; delivery is tested in tests/integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from govwatch.alerts.channel_destination import other_destination, split_recipients
from govwatch.alerts.channel_format import alert_context, email_html, email_text, json_body, neutral, teams_card
from govwatch.alerts.channel_rules import address_problem, host_allowed, host_problem, recipient_problem
from govwatch.alerts.channel_send import message_key, sign
from govwatch.alerts.destinations import check_destination
from govwatch.alerts.event_format import event_parent_blocks, rollup_blocks
from govwatch.alerts.slack_format import alert_blocks, digest_blocks, trial_message_blocks
from govwatch.alerts.spike_format import spike_blocks
from govwatch.alerts.subscriptions import Destination, Subscription
from govwatch.errors import InvalidQuery
from govwatch.models import Alert, AlertLink, Trace
from govwatch.settings import Settings

HOSTILE = "AI Office [click](javascript:alert(1)) <!channel> <b>x</b> & *co*"


def _alert(n: int = 1, **extra: object) -> Alert:
    fields: dict[str, object] = dict(
        alert_id=f"{n:064x}", subscription_id="sub-1", subscription_name="EU <!here> regulation",
        story_id=f"{n:064x}", cluster_id=f"{n:064x}", title=HOSTILE, url=f"https://news.example.org/{n}?a=1&b=2",
        source="Example Times", published_at=datetime(2025, 8, 1, 10, 30, tzinfo=UTC),
        snippet="the <em>GPAI</em> code", entities=["AI Office"], topics=["regulation"],
        trace=Trace(first_seen_at=datetime(2025, 8, 1, 10, 31, tzinfo=UTC)))
    fields.update(extra)
    return Alert.model_validate(fields)


def _payloads() -> dict[str, dict]:
    alerts = [_alert(n) for n in range(1, 4)]
    return {
        "alert": alert_blocks(alerts[0]),
        "event_parent": event_parent_blocks(alerts[0], 3, 5, threaded=False),
        "digest": digest_blocks("EU regulation", "daily, 2025-08-01", alerts, {})[0].payload,
        "rollup": rollup_blocks("EU regulation", HOSTILE, "10:00 to 11:00 UTC", alerts)[0].payload,
        "test": trial_message_blocks("EU <!channel> regulation"),
        "spike": spike_blocks(_alert(9, kind="spike", lines=["12 stories in 1 h, 4x the baseline"],
                                     links=[AlertLink(title="stories", url="https://kibana.example.org/s")])),
        "health": spike_blocks(_alert(10, kind="health", title="Source health: Quiet Feed has gone silent",
                                      url="https://govwatch.example.org/sources/quiet",
                                      lines=["no new story for 16.5 h; it usually publishes every 3.0 h"],
                                      links=[AlertLink(title="Recent stories of Quiet Feed",
                                                       url="https://govwatch.example.org/sources/quiet")])),
    }


@pytest.mark.parametrize("kind", ["alert", "event_parent", "digest", "rollup", "test", "spike", "health"])
def test_every_message_kind_renders_on_every_channel(kind: str) -> None:
    payload = _payloads()[kind]
    message = neutral(payload)
    assert message.title and message.paragraphs
    card = teams_card(message)
    attachment = card["attachments"][0]
    assert card["type"] == "message" and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard" and attachment["content"]["body"]
    texts = [block["text"] for block in attachment["content"]["body"]]
    html_part, text_part = email_html(message), email_text(message)
    assert "<script" not in html_part and "<!channel>" not in html_part
    assert text_part.startswith(message.title)
    body = json_body(message, "id-1", None)
    assert body["alert_id"] == "id-1" and body["title"] == message.title and json.dumps(body)
    if kind in ("alert", "event_parent", "digest", "rollup"):
        # untrusted link syntax stays text on Teams; the only links are the ones govwatch built
        assert all("[click](" not in t for t in texts) and any("\\[click\\]" in t for t in texts)
        assert any("](https://news.example.org/1?a=1&b=2)" in t for t in texts)
        assert '<a href="https://news.example.org/1?a=1&amp;b=2">' in html_part
        assert "&lt;!channel&gt;" in html_part and "<b>x</b>" not in html_part
        assert {"label": HOSTILE, "url": "https://news.example.org/1?a=1&b=2"} in body["links"]
    if kind == "health":
        assert "no new story for 16.5 h" in text_part and "https://govwatch.example.org/sources/quiet" in text_part
        assert any("no new story for 16.5 h" in t for t in texts) and "Quiet Feed has gone silent" in message.title


def test_plain_text_and_json_unescape_exactly_once() -> None:
    message = neutral(alert_blocks(_alert(title="Fish &amp; chips & <tags>")))
    assert message.title.startswith("Fish &amp; chips & <tags>")
    assert "Fish &amp; chips & <tags> <https://news.example.org/1?a=1&b=2>" in email_text(message)


def test_alert_context_carries_story_event_and_spike_fields() -> None:
    alert = _alert(4, event_id="ev-1", kind="spike", lines=["surge"],
                   links=[AlertLink(title="k", url="https://kibana.example.org/x")])
    context = alert_context(alert)
    assert context["subscription"] == {"id": "sub-1", "name": "EU <!here> regulation"}
    assert context["alert"]["event_id"] == "ev-1" and context["alert"]["story_id"] == f"{4:064x}"
    assert context["alert"]["lines"] == ["surge"] and context["alert"]["links"][0]["url"].startswith("https://")
    assert "trace" not in context["alert"]


def test_destination_shapes() -> None:
    assert Destination(kind="teams", webhook_url="https://x.webhook.office.com/a").masked() == \
        "teams https://x.webhook.office.com/****"
    json_dest = Destination(kind="json", webhook_url="https://hooks.example.org/a", signing_secret="s" * 16)
    assert "signing_secret" in json_dest.revealed() and "s" * 16 not in repr(json_dest)
    assert Destination(kind="email", to=["a@example.org"]).masked() == "email -> a@example.org"
    bad = [dict(kind="teams"), dict(kind="teams", webhook_url="http://example.org/x"),
           dict(kind="json", webhook_url="https://u:p@example.org/x"),
           dict(kind="json", webhook_url="https://example.org/x", signing_secret="short"),
           dict(kind="teams", webhook_url="https://example.org/x", signing_secret="s" * 20),
           dict(kind="email", to=[]), dict(kind="email", to=["a@example.org\r\nBcc: b@evil.org"]),
           dict(kind="email", to=[f"u{n}@example.org" for n in range(21)]),
           dict(kind="email", to=["a@example.org"], webhook_url="https://example.org"),
           dict(kind="json", webhook_url="https://example.org/" + "x" * 3000)]
    for fields in bad:
        with pytest.raises(ValidationError):
            Destination.model_validate(fields)


@pytest.mark.parametrize("address", ["a@example.org", "first.last+tag@sub.example.co.uk"])
def test_good_addresses(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize("address", ["a", "a@b", "a@@example.org", "Name <a@example.org>", "a..b@example.org",
                                     "a@example.org\n", "a@-example.org", "x" * 65 + "@example.org"])
def test_bad_addresses(address: str) -> None:
    assert address_problem(address) is not None


def test_host_and_recipient_allowlists() -> None:
    assert host_allowed("prod-12.westeurope.logic.azure.com", ["*.logic.azure.com"])
    assert not host_allowed("logic.azure.com.evil.org", ["*.logic.azure.com"])
    assert not host_allowed("evillogic.azure.com", ["*.logic.azure.com"])
    problem = host_problem("json", "https://127.0.0.1:9200/idx/_doc", ["hooks.example.org"],
                           "GOVWATCH_JSON_WEBHOOK_HOSTS")
    assert problem is not None and "_doc" not in problem and "GOVWATCH_JSON_WEBHOOK_HOSTS" in problem
    assert host_problem("json", "file:///etc/passwd", ["*"], "X") == "not an http(s) URL"
    assert recipient_problem(["a@example.org"], []) is None
    assert recipient_problem(["a@evil.org"], ["example.org"]) is not None
    assert recipient_problem(["a@policy.example.org"], ["*.example.org"]) is None


def test_save_time_checks_name_the_setting() -> None:
    settings = Settings(json_webhook_hosts=["hooks.example.org"], smtp_host=None)
    check_destination(Destination(kind="json", webhook_url="https://hooks.example.org/x"), settings, admin=False)
    with pytest.raises(InvalidQuery, match="GOVWATCH_JSON_WEBHOOK_HOSTS"):
        check_destination(Destination(kind="json", webhook_url="https://10.0.0.1/x"), settings, admin=False)
    with pytest.raises(InvalidQuery, match="GOVWATCH_TEAMS_WEBHOOK_HOSTS"):
        check_destination(Destination(kind="teams", webhook_url="https://example.org/x"), settings, admin=False)
    with pytest.raises(InvalidQuery, match="GOVWATCH_SMTP_HOST"):
        check_destination(Destination(kind="email", to=["a@example.org"]), settings, admin=False)


def test_other_destination_from_typed_parts() -> None:
    assert other_destination() is None
    assert other_destination(email_to="a@example.org; b@example.org").to == ["a@example.org", "b@example.org"]
    assert other_destination(json_url="https://h.example.org/x", signing_secret="k" * 16).kind == "json"
    with pytest.raises(InvalidQuery, match="one destination"):
        other_destination(teams_url="https://a.webhook.office.com/x", email_to="a@example.org")
    with pytest.raises(InvalidQuery, match="signing secret"):
        other_destination(teams_url="https://a.webhook.office.com/x", signing_secret="k" * 16)
    with pytest.raises(InvalidQuery):
        split_recipients("a@example.org," * 1000)
    sub = Subscription(name="n", query="q", destination=Destination(kind="email", to=["a@example.org"]))
    assert Subscription.from_document(sub.storage_document()).destination.to == ["a@example.org"]


def test_signature_and_message_key() -> None:
    assert sign("k" * 16, "1700000000", b'{"a":1}') == sign("k" * 16, "1700000000", b'{"a":1}')
    assert sign("k" * 16, "1700000000", b'{"a":1}') != sign("k" * 16, "1700000001", b'{"a":1}')
    payload = {"text": "digest", "blocks": []}
    assert message_key("alert-1", payload) == "alert-1"
    assert message_key(None, payload) == message_key(None, dict(payload)) != message_key(None, {"text": "other"})
