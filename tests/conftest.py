"""Shared fixtures. Integration tests use the real local stack (`govwatch stack up`), each test with its own
topic prefix, consumer groups and indices, so tests never see each other's data."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Prefect: an isolated home and no telemetry for every test process. Flow runs go to the stack's Prefect
# server (started by `govwatch stack up`): an ephemeral server per test process can take longer to start than
# Prefect's own timeout on a busy machine ("Timed out while attempting to connect to ephemeral Prefect API").
_PREFECT_HOME = tempfile.mkdtemp(prefix="govwatch-prefect-test-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
# The temporary Prefect server logs its shutdown after pytest closed stdout; keep Prefect to warnings.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["PREFECT_API_URL"] = os.environ.get("GOVWATCH_PREFECT_API_URL", "http://127.0.0.1:4200/api")


def _stack_problem() -> str | None:
    from govwatch.adapters.es_io import es_health, make_client
    from govwatch.adapters.kafka_io import broker_health
    from govwatch.settings import Settings

    base = Settings()
    problem = broker_health(base.kafka_bootstrap)
    if problem:
        return f"Kafka at {base.kafka_bootstrap}: {problem}"
    problem = es_health(make_client(base.es_url))
    if problem:
        return f"Elasticsearch at {base.es_url}: {problem}"
    return _prefect_problem(base.prefect_api_url)


def _prefect_problem(api_url: str) -> str | None:
    import httpx

    try:
        httpx.get(f"{api_url}/health", timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        return f"Prefect server at {api_url}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def stack() -> None:
    """The real local stack must be running; integration tests fail (never skip) when it is not."""
    problem = _stack_problem()
    if problem:
        pytest.fail(f"the local stack is not healthy ({problem}); start it with `govwatch stack up`", pytrace=False)


@pytest.fixture
def unique() -> str:
    """A short lower-case token that makes names (topics, groups, indices) unique to one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def settings(stack: None, unique: str, tmp_path: Path):  # noqa: ANN201
    """Settings pointing at the real stack with topics and indices private to this test."""
    from govwatch.settings import Settings

    return Settings(topic_prefix=f"t{unique}", index_prefix=f"t{unique}", cache_dir=tmp_path / "cache",
                    ssrf_allowlist=["127.0.0.1/32"], slack_webhook_hosts=["hooks.slack.com", "slack.com", "127.0.0.1"])


@pytest.fixture
def initialized(settings):  # noqa: ANN001, ANN201
    """`settings` whose topics, template and state indices exist (as `govwatch init` makes them)."""
    from govwatch.adapters.bootstrap import bootstrap

    bootstrap(settings)
    yield settings
    _cleanup(settings)


def _cleanup(settings) -> None:  # noqa: ANN001
    from govwatch.adapters.bootstrap import teardown

    teardown(settings)


@pytest.fixture
def fixtures_dir() -> Path:
    return REPO / "tests" / "fixtures"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


