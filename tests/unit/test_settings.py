"""Settings: one frozen object, GOVWATCH_ env vars, secrets hidden, and deploy/.env.example in sync."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from govwatch.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / ".env.example"


def test_env_example_lists_every_setting() -> None:
    """Every Settings field has a GOVWATCH_ line in deploy/.env.example, and nothing else is listed."""
    listed = set(re.findall(r"^GOVWATCH_([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), flags=re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert listed == fields, f"missing: {sorted(fields - listed)}; stale: {sorted(listed - fields)}"


def test_env_vars_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """GOVWATCH_* variables are read, lists split on commas, and the object is frozen."""
    monkeypatch.setenv("GOVWATCH_KAFKA_BOOTSTRAP", "kafka-1:9092")
    monkeypatch.setenv("GOVWATCH_SSRF_ALLOWLIST", "127.0.0.1/32, feeds.local")
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka-1:9092"
    assert settings.ssrf_allowlist == ["127.0.0.1/32", "feeds.local"]
    with pytest.raises(ValidationError):
        settings.kafka_bootstrap = "other:9092"  # type: ignore[misc]


def test_secrets_never_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Slack webhook URL is a SecretStr: it is absent from repr and str of the settings."""
    secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    monkeypatch.setenv("GOVWATCH_SLACK_WEBHOOK_URL", secret)
    settings = Settings()
    assert "XXXXSECRET" not in repr(settings) and "XXXXSECRET" not in str(settings)
    assert settings.slack_webhook_url is not None
    assert settings.slack_webhook_url.get_secret_value() == secret


def test_production_defaults_are_safe() -> None:
    """Defaults point at the local stack and allow no private address through the SSRF guard."""
    settings = Settings(_env_file=None)
    assert settings.ssrf_allowlist == []
    assert settings.kafka_bootstrap.startswith("127.0.0.1:")
    assert settings.topic("stories.raw") == "govwatch.stories.raw"
    assert settings.index("stories") == "govwatch-stories"
