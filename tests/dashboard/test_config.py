"""The dashboard's settings: its Kafka identities and the limits it checks."""

from __future__ import annotations

import orjson
import pytest

from contract.kafka_auth import CREDENTIALS_FILE, SERVICES
from contract.settings import SettingsError
from dashboard.config import DashboardConfig


def test_in_a_secured_home_the_dashboard_reads_as_itself_and_registers_as_the_registrar(tmp_path):
    path = tmp_path / CREDENTIALS_FILE
    path.parent.mkdir(parents=True)
    users = {s: {"username": f"livetally-{s}", "password": f"pw-{s}"} for s in SERVICES}
    doc = {"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-512", "ca_file": "ca.pem"}
    path.write_bytes(orjson.dumps({**doc, "users": users}))
    config = DashboardConfig.from_env({"LIVETALLY_HOME": str(tmp_path)})
    assert config.shared.kafka.security.username == "livetally-dashboard"
    assert config.registry_writer_kafka.security.username == "livetally-registrar"
    assert "pw-admin" not in repr(config)  # nor is any other password


def test_configured_by_environment_the_dashboard_has_one_user(tmp_path):
    env = {
        "LIVETALLY_HOME": str(tmp_path),
        "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "LIVETALLY_KAFKA_SASL_MECHANISM": "PLAIN",
        "LIVETALLY_KAFKA_USERNAME": "dash",
        "LIVETALLY_KAFKA_PASSWORD": "secret-dash",
    }
    config = DashboardConfig.from_env(env)
    assert config.registry_writer_kafka.security.username == "dash"
    assert "secret-dash" not in repr(config)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVETALLY_SESSION_HOURS", "0"),
        ("LIVETALLY_SESSION_HOURS", "nan"),
        ("LIVETALLY_DASHBOARD_THREADS", "0"),
        ("LIVETALLY_SECRET_KEY", "short"),
        ("LIVETALLY_TRUSTED_PROXIES", "proxy.example"),
    ],
)
def test_bad_settings_name_their_variable(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        DashboardConfig.from_env({"LIVETALLY_HOME": str(tmp_path), name: value})
