"""Property-based (hypothesis): Slack payloads stay within every limit and carry no control sequence from untrusted
text, whatever the titles, snippets, entity and topic names, sources, subscription names and URLs are.

Deterministic (``derandomize=True``, no example database) so CI sees the same examples every run.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from tests.unit.test_slack_format import (
    assert_links_safe,
    assert_within_slack_limits,
    full_targets,
    make_alert,
    mrkdwn_texts,
)

from govwatch.alerts.slack_format import MAX_DIGEST_MESSAGES, alert_blocks, digest_blocks, trial_message_blocks
from govwatch.models import Alert

# mrkdwn control sequences and the characters that build them, entities, highlight tags, invisible and wide
# characters: weighted in so that most generated text is hostile rather than plain letters.
ATOMS = ["<!channel>", "<!here>", "<!everyone>", "<@U0123>", "<#C0123|general>", "<https://evil.example|click>",
         "<mailto:x@y|m>", "<", ">", "&", "&amp;", "&lt;", "|", "*", "_", "~", "`", "<em>", "</em>", "\n", "\u202e",
         "\x00", "é", "😀", "AI Act ", " "]
TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(ATOMS), max_size=120).map("".join),
    st.tuples(st.sampled_from(ATOMS), st.integers(min_value=0, max_value=6000)).map(lambda t: t[0] * t[1]),
)
NAMES = st.lists(TEXT, max_size=60)
URL = st.one_of(
    st.text(max_size=100),
    st.tuples(st.sampled_from(["https://news.example.org/", "http://bücher.de/", "javascript:", "https://a@b.example/",
                               "https://evil.example|x/", "https://[::1]:8443/"]),
              st.lists(st.sampled_from(["a", "/", "&", "|", "<", ">", " ", "é", "%", "?", "=", "&amp;", "\u202e"]),
                       max_size=400).map("".join)).map("".join),
)
PROPS = hsettings(max_examples=150, derandomize=True, database=None, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def alerts(draw: st.DrawFn, i: int = 0) -> Alert:
    return make_alert(i, title=draw(TEXT), snippet=draw(TEXT), url=draw(URL), source=draw(TEXT),
                      subscription_name=draw(TEXT), entities=draw(NAMES), topics=draw(NAMES))


def assert_no_injected_control(payload: dict) -> None:
    """No mention, broadcast or channel link survives anywhere Slack parses mrkdwn (blocks and fallback text)."""
    for text in mrkdwn_texts(payload):
        assert "<!" not in text and "<@" not in text and "<#" not in text and "<mailto" not in text, text


@PROPS
@given(alerts())
def test_any_alert_fits_every_slack_limit_and_injects_nothing(alert: Alert) -> None:
    """≤ 50 blocks, ≤ 3,000 characters per text, bounded payload and fallback; only our own link, to the story."""
    payload = alert_blocks(alert)
    assert_within_slack_limits(payload)
    assert_links_safe(payload, full_targets([alert]))
    assert_no_injected_control(payload)


@PROPS
@given(TEXT, TEXT, st.lists(alerts(), min_size=1, max_size=8))
def test_any_digest_fits_every_slack_limit_and_accounts_for_every_alert(name: str, label: str,
                                                                        items: list[Alert]) -> None:
    """Every digest message fits and injects nothing; together they cover each alert exactly once, in order."""
    items = [item.model_copy(update={"alert_id": f"{i:064x}", "cluster_id": f"c{i}"}) for i, item in enumerate(items)]
    messages = digest_blocks(name, label, items)
    assert 1 <= len(messages) <= MAX_DIGEST_MESSAGES
    for message in messages:
        assert_within_slack_limits(message.payload)
        assert_links_safe(message.payload, full_targets(items))
        assert_no_injected_control(message.payload)
    assert [aid for m in messages for aid in m.covered] == [a.alert_id for a in items]


@PROPS
@given(TEXT)
def test_any_subscription_name_makes_a_safe_test_message(name: str) -> None:
    """"Send a test message" with any name: within limits, no link at all, nothing injected (fallback included)."""
    payload = trial_message_blocks(name)
    assert_within_slack_limits(payload)
    assert_links_safe(payload, set())
    assert_no_injected_control(payload)
