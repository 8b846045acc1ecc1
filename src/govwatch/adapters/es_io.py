"""Elasticsearch adapter (official client 8.19): client, templates, indices. Library errors translated here.

The integ-test zip has no ``GET /``, so health is ``/_cluster/health`` and ``client.info()``/``ping()``
are never used.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch

from govwatch.errors import ConfigError, RateLimited, TransientError, Unavailable

if TYPE_CHECKING:
    from govwatch.settings import Settings

# schemas/elasticsearch, installed as package data of govwatch_schemas (pyproject.toml): found the same way in a
# wheel install and in a checkout, never by a path relative to this file.
SCHEMAS_DIR: Traversable = files("govwatch_schemas") / "elasticsearch"
REQUEST_TIMEOUT_S = 30


def make_client(conn: str | Settings) -> Elasticsearch:
    """A client with bounded retries on connection errors (never on 4xx).

    ``conn`` is a bare URL (the local stack: no security) or the settings, which add an API key or a user and
    password, and the CA bundle of an HTTPS cluster.
    """
    if isinstance(conn, str):
        return Elasticsearch(conn, request_timeout=REQUEST_TIMEOUT_S, max_retries=3, retry_on_timeout=True)
    return Elasticsearch(conn.es_url, request_timeout=REQUEST_TIMEOUT_S, max_retries=3, retry_on_timeout=True,
                         **security_options(conn))


def security_options(settings: Settings) -> dict[str, Any]:
    """Client keyword arguments for the settings' Elasticsearch credentials and TLS; ConfigError names the fix."""
    options: dict[str, Any] = {}
    has_basic = settings.es_username is not None or settings.es_password is not None
    if settings.es_api_key is not None and has_basic:
        raise ConfigError("set either GOVWATCH_ES_API_KEY or GOVWATCH_ES_USERNAME/GOVWATCH_ES_PASSWORD, not both")
    if settings.es_api_key is not None:
        options["api_key"] = settings.es_api_key.get_secret_value()
    elif has_basic:
        if not settings.es_username or settings.es_password is None:
            raise ConfigError("Elasticsearch basic auth needs both GOVWATCH_ES_USERNAME and GOVWATCH_ES_PASSWORD")
        options["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    https = settings.es_url.lower().startswith("https://")
    if settings.es_ca_certs is not None:
        if not https:
            raise ConfigError(f"GOVWATCH_ES_CA_CERTS is set but GOVWATCH_ES_URL={settings.es_url} is not https://; "
                              "use the cluster's https:// URL")
        if not settings.es_ca_certs.is_file():
            raise ConfigError(f"GOVWATCH_ES_CA_CERTS={settings.es_ca_certs} is not a readable file; mount the "
                              "cluster's CA certificate (PEM) there")
        options["ca_certs"] = str(settings.es_ca_certs)
    if https:
        options["verify_certs"] = settings.es_verify_certs
        if not settings.es_verify_certs:
            options["ssl_show_warn"] = False  # the operator turned it off on purpose; said once in the docs
    return options


def es_health(client: Elasticsearch) -> str | None:
    try:
        status = client.cluster.health()["status"]
    except (ESConnectionError, ConnectionTimeout) as exc:
        return f"no answer ({type(exc).__name__})"
    return None if status in ("green", "yellow") else f"status {status}"


def translate(exc: Exception, what: str) -> Exception:
    """Map client exceptions to govwatch's tree (429 and 5xx transient; connection errors transient)."""
    if isinstance(exc, (ESConnectionError, ConnectionTimeout)):
        reason = str(exc).rsplit(":", 1)[-1].strip(" )") or type(exc).__name__
        return Unavailable(f"Elasticsearch unreachable during {what} ({reason}); start the local stack with "
                              "`govwatch stack up` or check GOVWATCH_ES_URL")
    if isinstance(exc, ApiError):
        if exc.meta.status == 429:
            return RateLimited(f"Elasticsearch rejected {what} with 429 (busy)")
        if exc.meta.status == 503:  # no master yet, shards not recovered: the cluster is (re)starting
            return Unavailable(f"Elasticsearch unavailable (503) during {what}: {exc.message}")
        if exc.meta.status >= 500:
            return TransientError(f"Elasticsearch {exc.meta.status} during {what}: {exc.message}")
    return exc


def load_schema(name: str, prefix: str) -> dict[str, Any]:
    """A JSON body from schemas/elasticsearch with ``{prefix}`` substituted; ``_comment`` keys dropped."""
    text = (SCHEMAS_DIR / name).read_text(encoding="utf-8").replace("{prefix}", prefix)
    body: dict[str, Any] = json.loads(text)
    body.pop("_comment", None)
    return body


def stories_index_for(prefix: str, timestamp: datetime) -> str:
    """Monthly index a story lives in, from its (fixed) @timestamp: a replay lands in the same index."""
    return f"{prefix}-stories-{timestamp:%Y.%m}"


def ensure_index(client: Elasticsearch, name: str, body: dict[str, Any]) -> str:
    """Create an index if missing; returns "created" or "exists"."""
    if client.indices.exists(index=name):
        wanted = body.get("mappings", {}).get("properties")
        if wanted:
            current = client.indices.get_mapping(index=name)[name]["mappings"].get("properties", {})
            missing = {k: v for k, v in wanted.items() if k not in current}
            if missing:  # new fields of a newer govwatch: additive mapping changes apply in place
                client.indices.put_mapping(index=name, properties=missing)
                return f"exists, added fields {', '.join(sorted(missing))}"
        return "exists"
    try:
        client.indices.create(index=name, **body)
    except ApiError as exc:
        if exc.meta.status == 400 and "resource_already_exists" in str(exc):
            return "exists"
        raise
    return "created"


def ensure_template(client: Elasticsearch, name: str, body: dict[str, Any], replicas: int = 0) -> str:
    """Put the index template when it differs from what the cluster has; "created", "updated" or "unchanged"."""
    body = json.loads(json.dumps(body))
    body["template"]["settings"]["number_of_replicas"] = replicas
    try:
        current = client.indices.get_index_template(name=name)["index_templates"][0]["index_template"]
    except ApiError as exc:
        if exc.meta.status != 404:
            raise
        current = None
    if current is not None and _same_template(current, body):
        return "unchanged"
    client.indices.put_index_template(name=name, **body)
    return "created" if current is None else "updated"


def _same_template(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def norm(t: dict[str, Any]) -> str:
        t = json.loads(json.dumps(t))
        settings = t.get("template", {}).get("settings", {})
        flat = _flatten_settings(settings.get("index", settings) if "index" in settings else settings)
        t.setdefault("template", {})["settings"] = {k: str(v) for k, v in flat.items()}
        t.pop("composed_of", None)
        return json.dumps(t, sort_keys=True)

    return norm(current) == norm(wanted)


def _flatten_settings(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        key = key.removeprefix("index.") if not prefix else key
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten_settings(value, f"{full}."))
        else:
            out[full] = value if not isinstance(value, list) else ",".join(map(str, value))
    return out
