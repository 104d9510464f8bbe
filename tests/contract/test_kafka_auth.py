"""Reading the Kafka security settings: every wrong or missing setting names its variable."""

from __future__ import annotations

import ssl
from pathlib import Path

import orjson
import pytest

from contract.kafka_auth import CREDENTIALS_FILE, KafkaSecurity, SettingsError, read_security
from contract.kafka_login import explain
from contract.settings import KafkaSettings, Settings


def _read(env: dict[str, str], home: Path, service: str = "ingest") -> KafkaSecurity:
    return read_security(env, home, service)


def test_nothing_set_is_plaintext(tmp_path: Path) -> None:
    security = _read({}, tmp_path)
    assert security == KafkaSecurity()
    assert security.kafka_python() == {"security_protocol": "PLAINTEXT"}
    assert security.faust_credentials() is None


def test_sasl_ssl_from_the_environment(tmp_path: Path) -> None:
    env = {
        "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "LIVETALLY_KAFKA_SASL_MECHANISM": "scram-sha-512",
        "LIVETALLY_KAFKA_USERNAME": "ingest",
        "LIVETALLY_KAFKA_PASSWORD": "s3cret",
    }
    security = _read(env, tmp_path)
    assert (security.protocol, security.mechanism, security.username) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "ingest",
    )
    options = security.kafka_python()
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname
    assert "s3cret" not in security.describe()
    credentials = security.faust_credentials()
    assert credentials.username == "ingest"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_SSL"


def test_password_file_gives_its_first_line(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-file\nignored\n", encoding="utf-8")
    env = {
        "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "LIVETALLY_KAFKA_SASL_MECHANISM": "PLAIN",
        "LIVETALLY_KAFKA_USERNAME": "u",
        "LIVETALLY_KAFKA_PASSWORD_FILE": str(secret),
    }
    security = _read(env, tmp_path)
    assert security.password == "from-file"
    assert security.ssl_context() is None
    assert security.faust_credentials().protocol.value == "SASL_PLAINTEXT"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LIVETALLY_KAFKA_SECURITY_PROTOCOL": "TLS"}, "LIVETALLY_KAFKA_SECURITY_PROTOCOL"),
        ({"LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "LIVETALLY_KAFKA_SASL_MECHANISM"),
        (
            {
                "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "LIVETALLY_KAFKA_SASL_MECHANISM": "GSSAPI",
            },
            "LIVETALLY_KAFKA_SASL_MECHANISM",
        ),
        (
            {
                "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "LIVETALLY_KAFKA_SASL_MECHANISM": "PLAIN",
            },
            "LIVETALLY_KAFKA_USERNAME",
        ),
        (
            {
                "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "LIVETALLY_KAFKA_SASL_MECHANISM": "PLAIN",
                "LIVETALLY_KAFKA_USERNAME": "u",
            },
            "LIVETALLY_KAFKA_PASSWORD",
        ),
        ({"LIVETALLY_KAFKA_USERNAME": "u"}, "LIVETALLY_KAFKA_USERNAME"),
        ({"LIVETALLY_KAFKA_CA_FILE": "/nowhere/ca.pem"}, "LIVETALLY_KAFKA_CA_FILE"),
        (
            {"LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SSL", "LIVETALLY_KAFKA_KEY_FILE": __file__},
            "LIVETALLY_KAFKA_CERT_FILE",
        ),
    ],
)
def test_wrong_or_missing_settings_name_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named) as caught:
        _read(env, tmp_path)
    assert "\n" not in str(caught.value)


_SCRAM = {
    "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "LIVETALLY_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "LIVETALLY_KAFKA_USERNAME": "livetally-dashboard",
    "LIVETALLY_KAFKA_PASSWORD": "read-only",
}


def test_the_registrar_logs_in_as_its_own_user_when_named(tmp_path: Path) -> None:
    secret = tmp_path / "registrar"
    secret.write_text("may-write\n", encoding="utf-8")
    env = {
        **_SCRAM,
        "LIVETALLY_REGISTRAR_KAFKA_USERNAME": "livetally-registrar",
        "LIVETALLY_REGISTRAR_KAFKA_PASSWORD_FILE": str(secret),
    }
    registrar = _read(env, tmp_path, "registrar")
    assert (registrar.username, registrar.password) == ("livetally-registrar", "may-write")
    assert (registrar.protocol, registrar.mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert _read(env, tmp_path, "dashboard").username == "livetally-dashboard"
    # Without a user of its own it logs in like the dashboard.
    assert _read(_SCRAM, tmp_path, "registrar") == _read(_SCRAM, tmp_path, "dashboard")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"LIVETALLY_REGISTRAR_KAFKA_PASSWORD": "x"}, "LIVETALLY_REGISTRAR_KAFKA_USERNAME"),
        ({"LIVETALLY_REGISTRAR_KAFKA_USERNAME": "r"}, "LIVETALLY_REGISTRAR_KAFKA_PASSWORD"),
        (
            {
                "LIVETALLY_REGISTRAR_KAFKA_USERNAME": "r",
                "LIVETALLY_REGISTRAR_KAFKA_PASSWORD": "x",
                "LIVETALLY_REGISTRAR_KAFKA_PASSWORD_FILE": __file__,
            },
            "not both",
        ),
    ],
)
def test_a_half_configured_registrar_names_the_variable(
    tmp_path: Path, extra: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        _read({**_SCRAM, **extra}, tmp_path, "registrar")


def test_a_registrar_user_without_the_dashboards_settings_is_refused(tmp_path: Path) -> None:
    env = {"LIVETALLY_REGISTRAR_KAFKA_USERNAME": "r", "LIVETALLY_REGISTRAR_KAFKA_PASSWORD": "x"}
    with pytest.raises(SettingsError, match="LIVETALLY_REGISTRAR_KAFKA_USERNAME is set"):
        _read(env, tmp_path, "registrar")


def test_a_registrar_user_needs_a_protocol_that_logs_in(tmp_path: Path) -> None:
    env = {
        "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SSL",
        "LIVETALLY_REGISTRAR_KAFKA_USERNAME": "r",
        "LIVETALLY_REGISTRAR_KAFKA_PASSWORD": "x",
    }
    with pytest.raises(SettingsError, match="does not log in"):
        _read(env, tmp_path, "registrar")


def test_ca_file_without_tls_is_refused(tmp_path: Path) -> None:
    env = {"LIVETALLY_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "LIVETALLY_KAFKA_CA_FILE": __file__}
    with pytest.raises(SettingsError, match="need TLS"):
        _read(env, tmp_path)


def _credentials(home: Path) -> Path:
    path = home / CREDENTIALS_FILE
    path.parent.mkdir(parents=True)
    users = {
        service: {"username": f"livetally-{service}", "password": f"pw-{service}"}
        for service in ("ingest", "worker", "dashboard", "admin")
    }
    path.write_bytes(
        orjson.dumps(
            {
                "protocol": "SASL_SSL",
                "mechanism": "SCRAM-SHA-512",
                "ca_file": str(home / "ca.pem"),
                "users": users,
            }
        )
    )
    return path


def test_a_secured_home_gives_each_service_its_user(tmp_path: Path) -> None:
    path = _credentials(tmp_path)
    for service in ("ingest", "worker", "dashboard", "admin"):
        security = _read({}, tmp_path, service)
        assert security.username == f"livetally-{service}"
        assert security.password == f"pw-{service}"
        assert security.source == str(path)


def test_environment_wins_over_the_home_file(tmp_path: Path) -> None:
    _credentials(tmp_path)
    security = _read({"LIVETALLY_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}, tmp_path)
    assert security.protocol == "PLAINTEXT"
    assert security.source == "environment"


def test_a_broken_credentials_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / CREDENTIALS_FILE
    path.parent.mkdir(parents=True)
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(SettingsError, match="credentials.json"):
        _read({}, tmp_path)


def test_settings_pick_the_service_user_and_refresh_after_securing(tmp_path: Path) -> None:
    env = {"LIVETALLY_HOME": str(tmp_path)}
    before = Settings.from_env(env, service="worker")
    assert before.kafka.security.protocol == "PLAINTEXT"
    _credentials(tmp_path)
    assert before.with_home_credentials("admin").kafka.security.username == "livetally-admin"
    assert Settings.from_env(env, service="worker").kafka.security.username == "livetally-worker"
    dashboard = Settings.from_env(env, service="dashboard").kafka
    assert dashboard.servers == ["127.0.0.1:9092"]
    assert dashboard.security.username == "livetally-dashboard"


def test_explain_names_authentication_and_permission_errors() -> None:
    from aiokafka.errors import SaslAuthenticationFailed
    from kafka.errors import (
        KafkaConnectionError,
        SaslAuthenticationFailedError,
        TopicAuthorizationFailedError,
    )

    security = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "livetally-ingest", "pw")
    kafka = KafkaSettings(bootstrap="k:9093", security=security)
    for exc in (SaslAuthenticationFailedError("bad"), SaslAuthenticationFailed("bad")):
        reason = explain(exc, kafka)
        assert reason is not None
        assert "authentication failed" in reason
        assert "LIVETALLY_KAFKA_PASSWORD" in reason
        assert "pw" not in reason.replace("PASSWORD", "")
    denied = explain(TopicAuthorizationFailedError("livetally.registry"), kafka)
    assert denied is not None and "'livetally-ingest' is not allowed" in denied
    assert explain(KafkaConnectionError("refused"), kafka) is None
