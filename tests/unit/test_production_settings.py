"""Production connection settings: Kafka SASL/TLS and Elasticsearch credentials/TLS become client arguments."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from govwatch.adapters import es_io, kafka_io
from govwatch.errors import ConfigError
from govwatch.settings import Settings


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)


def test_local_defaults_stay_plaintext() -> None:
    """With default settings Kafka is PLAINTEXT without SASL and Elasticsearch gets no credentials or TLS options."""
    settings = _settings()
    # the address may come from the environment (a stack on other ports); the security settings may not
    assert kafka_io.client_config(settings) == {"bootstrap_servers": settings.kafka_bootstrap,
                                                "security_protocol": "PLAINTEXT"}
    assert kafka_io.client_config("kafka:9092") == {"bootstrap_servers": "kafka:9092"}
    assert es_io.security_options(settings) == {}


def test_kafka_sasl_ssl_with_ca(tmp_path: Path) -> None:
    """SASL_SSL with SCRAM gives kafka-python the mechanism, the credentials and a verifying TLS context."""
    ca = tmp_path / "ca.pem"
    ca.write_text(_ca_pem())
    config = kafka_io.client_config(_settings(
        kafka_bootstrap="kafka-0:9094", kafka_security_protocol="sasl_ssl", kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="govwatch", kafka_sasl_password="s3cret", kafka_ssl_cafile=ca))
    context = config.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert config == {"bootstrap_servers": "kafka-0:9094", "security_protocol": "SASL_SSL",
                      "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "govwatch",
                      "sasl_plain_password": "s3cret"}


@pytest.mark.parametrize(("values", "names"), [
    ({"kafka_security_protocol": "TLS"}, "GOVWATCH_KAFKA_SECURITY_PROTOCOL"),
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u", "kafka_sasl_password": "p"},
     "GOVWATCH_KAFKA_SASL_MECHANISM"),
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN"}, "GOVWATCH_KAFKA_SASL_PASSWORD"),
    ({"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u"}, "GOVWATCH_KAFKA_SECURITY_PROTOCOL"),
    ({"kafka_ssl_cafile": Path("/etc/ca.pem")}, "GOVWATCH_KAFKA_SSL_CAFILE"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": Path("/nonexistent/ca.pem")}, "GOVWATCH_KAFKA_SSL_CAFILE"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_certfile": Path(__file__)}, "GOVWATCH_KAFKA_SSL_KEYFILE"),
])
def test_kafka_security_mistakes_name_the_setting(values: dict[str, object], names: str) -> None:
    """Each unusable Kafka security combination is a ConfigError naming the setting to fix."""
    with pytest.raises(ConfigError, match=names):
        kafka_io.security_config(_settings(**values))


def test_kafka_replication_factor_and_min_isr() -> None:
    """Topics get the configured replication factor and min.insync.replicas 2 on three brokers, 1 and none locally."""
    assert kafka_io._replication(_settings(kafka_replication_factor=3)) == (3, {"min.insync.replicas": "2"})
    assert kafka_io._replication(_settings()) == (1, {})
    assert kafka_io._replication("127.0.0.1:9092") == (1, {})


def test_es_api_key_and_basic_auth(tmp_path: Path) -> None:
    """An API key or user/password plus a CA bundle become client options; the client sends the credentials."""
    ca = tmp_path / "ca.pem"
    ca.write_text(_ca_pem())
    options = es_io.security_options(_settings(es_url="https://es:9200", es_api_key="a2V5", es_ca_certs=ca))
    assert options == {"api_key": "a2V5", "ca_certs": str(ca), "verify_certs": True}
    basic = es_io.security_options(_settings(es_url="https://es:9200", es_username="govwatch", es_password="pw"))
    assert basic == {"basic_auth": ("govwatch", "pw"), "verify_certs": True}
    client = es_io.make_client(_settings(es_url="https://es:9200", es_api_key="a2V5", es_ca_certs=ca))
    assert client._headers["authorization"] == "ApiKey a2V5"


@pytest.mark.parametrize(("values", "names"), [
    ({"es_api_key": "k", "es_username": "u", "es_password": "p"}, "not both"),
    ({"es_username": "u"}, "GOVWATCH_ES_PASSWORD"),
    ({"es_ca_certs": Path(__file__)}, "GOVWATCH_ES_URL"),
    ({"es_url": "https://es:9200", "es_ca_certs": Path("/nonexistent/ca.pem")}, "GOVWATCH_ES_CA_CERTS"),
])
def test_es_security_mistakes_name_the_setting(values: dict[str, object], names: str) -> None:
    """Each unusable Elasticsearch credential or TLS combination is a ConfigError naming the setting to fix."""
    with pytest.raises(ConfigError, match=names):
        es_io.security_options(_settings(**values))


def test_secrets_stay_hidden() -> None:
    """The new passwords and the API key are SecretStr: absent from the settings' repr."""
    settings = _settings(kafka_sasl_password="kafkaSECRET", es_api_key="esKEYSECRET", es_password="esPWSECRET")
    assert not any(word in repr(settings) for word in ("kafkaSECRET", "esKEYSECRET", "esPWSECRET"))


def _ca_pem() -> str:
    """A real CA certificate (PEM) for ssl.create_default_context to load: the one certifi ships first."""
    import certifi

    text = Path(certifi.where()).read_text(encoding="ascii")
    end = "-----END CERTIFICATE-----"
    return text[text.index("-----BEGIN CERTIFICATE-----"):text.index(end) + len(end)] + "\n"


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """An optional production setting rendered empty (GOVWATCH_METRICS_PORT=, GOVWATCH_ES_API_KEY=) counts as unset."""
    monkeypatch.setenv("GOVWATCH_METRICS_PORT", "")
    monkeypatch.setenv("GOVWATCH_ES_API_KEY", " ")
    monkeypatch.setenv("GOVWATCH_KAFKA_SSL_CAFILE", "")
    settings = Settings(_env_file=None)
    assert settings.metrics_port is None and settings.es_api_key is None and settings.kafka_ssl_cafile is None
