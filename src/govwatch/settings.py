"""One frozen settings object, read at the edge (``main()``) and passed down.

Every field maps to a ``GOVWATCH_<NAME>`` environment variable (or a line in ``.env``);
``deploy/.env.example`` lists them all and ``tests/unit/test_settings.py`` keeps the two in sync.
Defaults point at the local stack started by ``govwatch stack up``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "govwatch"


def _default_feeds_file() -> Path:
    """deploy/feeds.yaml as installed with govwatch (package govwatch_deploy; in a checkout, the checkout's file)."""
    try:
        return Path(str(files("govwatch_deploy") / "feeds.yaml"))
    except ModuleNotFoundError:  # govwatch imported from a source tree that was never installed
        return Path("deploy/feeds.yaml")


class Settings(BaseSettings):
    """govwatch configuration. Field docs are the user-facing explanation of each setting."""

    model_config = SettingsConfigDict(
        env_prefix="GOVWATCH_", env_file=".env", env_file_encoding="utf-8", frozen=True, extra="ignore"
    )

    # --- services -------------------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers (host:port,...)")
    es_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL")
    prefect_api_url: str = Field("http://127.0.0.1:4200/api", description="Prefect server API URL")

    # --- naming ---------------------------------------------------------------------------
    topic_prefix: str = Field("govwatch", description="Prefix of every Kafka topic name")
    index_prefix: str = Field("govwatch", description="Prefix of every Elasticsearch index and alias")

    # --- local stack ----------------------------------------------------------------------
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Downloads, stack state and logs")
    kafka_version: str = Field("4.1.1", description="Apache Kafka broker version (Maven Central)")
    es_version: str = Field("8.19.0", description="Elasticsearch integ-test-zip version (Maven Central)")
    kafka_port: int = Field(9092, description="Kafka broker port on 127.0.0.1")
    kafka_controller_port: int = Field(9093, description="Kafka KRaft controller port on 127.0.0.1")
    es_port: int = Field(9200, description="Elasticsearch HTTP port on 127.0.0.1")
    es_transport_port: int = Field(9300, description="Elasticsearch transport port on 127.0.0.1")
    prefect_port: int = Field(4200, description="Prefect server port on 127.0.0.1")
    kafka_heap: str = Field("512m", description="Kafka JVM heap (-Xms/-Xmx)")
    es_heap: str = Field("768m", description="Elasticsearch JVM heap (-Xms/-Xmx)")
    es_base_dir: Path | None = Field(
        None, description="Where Elasticsearch is unpacked with its data "
                          "(default: /var/lib/govwatch as root, else the cache dir)")
    es_user: str = Field("govwatch-es", description="OS user Elasticsearch runs as when started by root")
    java_home: Path | None = Field(None, description="JDK for Kafka and Elasticsearch (default: java on PATH)")
    es_replicas: int = Field(0, description="Replicas of govwatch indices (0 on a single node; 1+ on a cluster)")
    stack_start_timeout_s: float = Field(120.0, description="Seconds to wait for each server to become healthy")

    # --- HTTP fetching --------------------------------------------------------------------
    user_agent: str = Field(
        "govwatch/0.1 (+https://github.com/govwatch/govwatch; AI-governance news monitor)",
        description="User-Agent sent to feeds and article pages",
    )
    http_connect_timeout_s: float = Field(5.0, description="HTTP connect timeout")
    http_read_timeout_s: float = Field(15.0, description="HTTP read timeout")
    http_max_bytes: int = Field(10_000_000, description="Cap on a decompressed HTTP body")
    http_max_redirects: int = Field(5, description="Redirect hops allowed, each re-checked by the SSRF guard")
    ssrf_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts or CIDRs exempt from the SSRF guard (comma-separated), e.g. 127.0.0.1/32 for local tests",
    )
    # Fetch budgets (issue 22, fetching): one hostile page costs only itself, within a time and memory budget.
    http_fetch_deadline_s: float = Field(
        20.0, gt=0, description="Wall-clock budget of one whole fetch: redirects, connect, headers and body")
    http_max_raw_bytes: int = Field(
        10_000_000, gt=0, description="Cap on bytes read off the wire for one response, whatever its Content-Encoding")
    fetch_per_host: int = Field(
        3, ge=1, description="Article pages one enrich process fetches at once from one host (host:port)")
    enrich_fetch_budget_s: float = Field(
        30.0, gt=0, description="Wall-clock budget for fetching the pages of one enrich batch; later pages use "
                                "the feed's text")
    enrich_page_max_bytes: int = Field(
        5_000_000, gt=0, description="Cap on a decoded article page (a larger page is not an article: "
                                     "the feed's text is used)")

    # --- polling --------------------------------------------------------------------------
    feeds_file: Path = Field(default_factory=_default_feeds_file,
                             description="Feed registry (YAML); default deploy/feeds.yaml as installed with govwatch")
    poll_concurrency: int = Field(16, description="Feeds fetched at once")
    poll_host_spacing_s: float = Field(1.0, description="Minimum seconds between two requests to one host")
    poll_min_interval_s: float = Field(300.0, description="Floor of a feed's adaptive poll interval")
    poll_max_interval_s: float = Field(3600.0, description="Ceiling of a feed's adaptive poll interval")
    poll_dead_interval_s: float = Field(86400.0, description="Retry interval for a feed that keeps failing")
    poll_max_entries: int = Field(200, description="Entries taken from one feed per poll")

    # --- enrichment and alerts ------------------------------------------------------------
    relevance_threshold: float = Field(0.4, description="Relevance at or above which a story is AI-governance")
    fetch_workers: int = Field(8, description="Article pages fetched in parallel by one enrich process")
    slack_webhook_url: SecretStr | None = Field(None, description="Default Slack incoming-webhook URL")
    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token for chat.postMessage")
    slack_api_base: str = Field("https://slack.com/api", description="Slack Web API base URL")
    slack_min_interval_s: float = Field(1.0, description="Minimum seconds between two messages to one destination")
    slack_send_timeout_s: float = Field(
        10.0, gt=0, description="Seconds to wait for Slack's answer; after that the send's outcome counts as unknown")
    # Destinations (issue 22, hostile destinations): where webhooks may go, and how long a failing one is left alone.
    slack_webhook_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["hooks.slack.com", "slack.com"],
        description="Hosts a subscription's webhook URL may point at (comma-separated; checked on save and on send)")
    slack_breaker_base_s: float = Field(
        5.0, gt=0, description="First cooldown of a failing or rate-limited destination (doubles per failure in a row)")
    slack_breaker_max_s: float = Field(
        60.0, gt=0, description="Longest cooldown of a destination's open circuit, whatever its Retry-After says")
    slack_retry_window_s: float = Field(
        3600.0, gt=0, description="How long after its first failure an alert is still retried; then dead-lettered")
    # Channels besides Slack (issue 28; govwatch.alerts.channel_send): same pacing, breaker and retry window as Slack.
    teams_webhook_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*.webhook.office.com", "*.logic.azure.com", "*.powerplatform.com",
                                 "*.powerautomate.com"],
        description="Hosts a Teams destination's webhook URL may point at (comma-separated; *.domain for subdomains)")
    json_webhook_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Hosts a JSON webhook may point at (comma-separated; none by default)")
    smtp_host: str | None = Field(None, description="SMTP server for e-mail destinations (unset: e-mail is refused)")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS before logging in")
    smtp_username: str | None = Field(None, description="SMTP login (unset: no AUTH)")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_from: str = Field("govwatch@localhost", description="From address of alert e-mails")
    smtp_timeout_s: float = Field(10.0, gt=0, description="Seconds per SMTP step; past it a send's outcome is unknown")
    email_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Recipient domains e-mail may go to (comma-separated; empty: any)")

    # --- alert queries: save-time limits and search timeouts (issue 22, hostile subscriptions) ---------------
    alert_query_max_chars: int = Field(
        2000, ge=1, description="Longest subscription query accepted (characters); longer ones are refused at save "
                                "time and skipped (flagged) by the alert stage")
    alert_query_max_depth: int = Field(
        20, ge=1, description="Deepest parenthesis nesting accepted in a subscription query")
    alert_query_max_clauses: int = Field(
        150, ge=1, description="Most terms/phrases in one subscription query (each is searched in 6 default fields: "
                               "x6 stays under Elasticsearch's indices.query.bool.max_clause_count, 1024 at least)")
    alert_search_timeout_s: float = Field(
        5.0, gt=0, description="Elasticsearch `timeout` of each alert-matching search; a search that times out is "
                               "retried alone once, then its subscription is skipped and flagged")
    alert_preview_timeout_s: float = Field(
        20.0, gt=0, description="Elasticsearch `timeout` of a preview/backtest search (up to 365 days); a timed-out "
                                "preview is an error, never a partial count")

    # --- spike alerts (issue 28): the scheduled evaluation of subscriptions' spike rules ---------------
    spike_interval_s: int = Field(
        300, ge=60, description="Seconds between two evaluations of every spike rule (the `spikes` flow's schedule)")
    spike_top_stories: int = Field(5, ge=1, le=20, description="Stories (and events) a spike alert names")
    spike_search_timeout_s: float = Field(
        10.0, gt=0, description="Elasticsearch `timeout` of one rule's search; a timed-out search skips the rule "
                                "this round (a partial count is never judged)")

    # --- source health (issue 28): failing, silent and extraction-drifting feeds -> an operations destination ---
    source_health_subscription: str | None = Field(
        None, description="Id of the subscription whose destination (any channel kind) receives the source health "
                          "alerts; unset: incidents are recorded and shown, nothing is sent")
    source_health_interval_s: int = Field(600, ge=60, description="Seconds between two source health evaluations")
    source_health_fail_after_s: float = Field(
        21600, gt=0, description="A feed whose polls all fail for longer than this (from its last success) alerts")
    source_health_silence_factor: float = Field(
        4.0, gt=1, description="A feed silent for longer than this many times its median gap between stories alerts")
    source_health_silence_floor_s: float = Field(
        43200, gt=0, description="... but never before this many seconds of silence")
    source_health_drift_before_min: float = Field(
        0.9, ge=0, le=1, description="Extraction drift: page-extracted share the days before must be at least this")
    source_health_drift_today_max: float = Field(
        0.1, ge=0, le=1, description="... and the last 24 h share at most this")
    source_health_drift_recover_min: float = Field(
        0.5, ge=0, le=1, description="An extraction incident heals when the last 24 h share is back to this")
    source_health_min_stories: int = Field(
        5, ge=1, description="Stories each side of the extraction comparison needs before it is judged")
    source_health_web_base: str = Field(
        "http://127.0.0.1:8088", description="The web app's public base URL, for the links in source health alerts")

    # --- consumers ------------------------------------------------------------------------
    consumer_instance: str | None = Field(
        None, description="Stable name of this consumer replica (e.g. the pod name): enables Kafka static "
                          "membership, so a restarted replica takes its partitions back without a rebalance")

    # --- production: authentication, TLS, replication (defaults: the local stack's plaintext) -------
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="Kafka security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    kafka_sasl_mechanism: str | None = Field(
        None, description="Kafka SASL mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) when the protocol is SASL_*")
    kafka_sasl_username: str | None = Field(None, description="Kafka SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="Kafka SASL password (secret)")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle (PEM) that signed the brokers' certificates")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client private key (PEM) for mutual TLS")
    kafka_replication_factor: int = Field(
        1, ge=1, description="Replication factor of topics `govwatch init` creates "
                             "(1 on a single broker; 3 on a cluster)")
    es_api_key: SecretStr | None = Field(None, description="Elasticsearch API key, the encoded form (secret)")
    es_username: str | None = Field(None, description="Elasticsearch user (basic auth; instead of an API key)")
    es_password: SecretStr | None = Field(None, description="Elasticsearch password (secret)")
    es_ca_certs: Path | None = Field(None, description="CA bundle (PEM) that signed Elasticsearch's HTTP certificate")
    es_verify_certs: bool = Field(True, description="Verify Elasticsearch's TLS certificate (turn off only to debug)")

    # --- web app for analysts (govwatch web) ------------------------------------------------
    web_port: int = Field(8088, ge=1, le=65535, description="Port `govwatch web` serves on")
    web_admin_token_hash: SecretStr | None = Field(
        None, description="Salted hash of the web admin token (`govwatch web hash-token`), never the token itself")
    web_session_secret: SecretStr | None = Field(
        None, description="Key that signs web session cookies (32+ random characters; unset: a new one per process)")
    web_trusted_proxy_header: str | None = Field(
        None, description="Header a trusted reverse proxy sets to the signed-in user's name (unset: not trusted)")
    kibana_public_url: str | None = Field(
        None, description="Kibana URL analysts' browsers reach, for the web app's \"open in Kibana\" links")

    # --- web app against hostile clients (issue 22: rate limits, proxies, body caps) ------------
    web_public_url: str | None = Field(
        None, description="URL analysts' browsers use for the web app; https://... makes session cookies Secure "
                          "and adds HSTS whatever the proxy headers say")
    web_trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Addresses or CIDRs of reverse proxies whose X-Forwarded-For/-Proto the "
                                          "web app believes (comma-separated; empty: none, the TCP peer is the client)")
    web_max_body_bytes: int = Field(
        65_536, ge=1_024, description="Largest request body (form or JSON) the web app reads; larger ones get 413")
    web_auth_failures_per_minute: int = Field(
        10, ge=1, description="Failed logins / unverified bearer tokens allowed per client address per minute "
                              "(then 429 with Retry-After)")
    web_auth_failures_global_per_minute: int = Field(
        120, ge=1, description="Failed logins / unverified bearer tokens allowed per minute from all clients together")

    # --- metrics --------------------------------------------------------------------------
    metrics_port: int | None = Field(
        None, ge=0, le=65535,
        description="Port of the Prometheus /metrics endpoint of each long-running process (unset: none)")
    metrics_host: str = Field("127.0.0.1", description="Address the metrics endpoint binds (0.0.0.0 in a container)")

    # --- logging --------------------------------------------------------------------------
    log_level: str = Field("INFO", description="Log level")
    log_format: str = Field("auto", description="auto (console on a terminal, else JSON), console or json")

    @field_validator("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password", "kafka_ssl_cafile",
                     "kafka_ssl_certfile", "kafka_ssl_keyfile", "es_api_key", "es_username", "es_password",
                     "es_ca_certs", "metrics_port", "web_admin_token_hash", "web_session_secret",
                     "web_trusted_proxy_header", "kibana_public_url", "web_public_url", "smtp_host", "smtp_username",
                     "smtp_password", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # A compose file or a Helm template renders an optional setting it has no value for as "".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("ssrf_allowlist", "web_trusted_proxies", "slack_webhook_hosts", "teams_webhook_hosts",
                     "json_webhook_hosts", "email_domains", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def topic(self, name: str) -> str:
        """Full Kafka topic name for a logical name such as ``stories.raw``."""
        return f"{self.topic_prefix}.{name}"

    def consumer_instance_id(self, stage: str) -> str | None:
        """The group.instance.id of this replica of ``stage``, when ``consumer_instance`` is set."""
        return f"{stage}-{self.consumer_instance}" if self.consumer_instance else None

    def index(self, name: str) -> str:
        """Full Elasticsearch index or alias name for a logical name such as ``stories``."""
        return f"{self.index_prefix}-{name}"
