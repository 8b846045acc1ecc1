"""Optional smoke test against a real Kibana 8.8+ (set GOVWATCH_KIBANA_URL; credentials as for the command).

No Kibana runs on our build machines, so this is skipped there; run it wherever a Kibana is reachable.
"""

from __future__ import annotations

import os

import httpx
import pytest

from govwatch.kibana import import_ndjson, ndjson, saved_objects

KIBANA = os.environ.get("GOVWATCH_KIBANA_URL")
pytestmark = pytest.mark.skipif(not KIBANA, reason="set GOVWATCH_KIBANA_URL to smoke-test against a real Kibana")


def _auth() -> dict[str, object]:
    return {"api_key": os.environ.get("GOVWATCH_KIBANA_API_KEY"),
            "username": os.environ.get("GOVWATCH_KIBANA_USERNAME"),
            "password": os.environ.get("GOVWATCH_KIBANA_PASSWORD")}


def test_real_kibana_imports_every_object_twice_and_serves_the_dashboards() -> None:
    """A real Kibana accepts the NDJSON without errors, updates on the second import, and returns each dashboard."""
    first = import_ndjson(ndjson(), KIBANA, **_auth())
    assert first.ok, first.errors
    second = import_ndjson(ndjson(), KIBANA, **_auth())
    assert second.ok and len(second.updated) == len(saved_objects()), second.lines()
    headers = {"Authorization": f"ApiKey {_auth()['api_key']}"} if _auth()["api_key"] else {}
    basic = (str(_auth()["username"]), str(_auth()["password"] or "")) if _auth()["username"] else None
    for obj in saved_objects():
        resp = httpx.get(f"{KIBANA.rstrip('/')}/api/saved_objects/{obj['type']}/{obj['id']}", headers=headers,
                         auth=basic, timeout=60)
        assert resp.status_code == 200, (obj["id"], resp.text[:300])
        assert "error" not in resp.json(), resp.text[:300]
