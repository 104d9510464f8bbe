"""The SCRAM users of a secured local Kafka and their credentials file."""

from __future__ import annotations

import json
import stat

import pytest

from contract.kafka_auth import read_security
from contract.settings import Settings
from livetally import kafka_users


def test_credentials_are_written_once_0600_in_the_format_clients_read(tmp_path):
    ca = tmp_path / "kafka" / "tls" / "ca.pem"
    made = kafka_users.ensure_credentials(tmp_path, ca)
    path = tmp_path / "kafka" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == {"protocol", "mechanism", "ca_file", "users", "broker"}
    assert (data["protocol"], data["mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert data["ca_file"] == str(ca.resolve())
    assert {s: u["username"] for s, u in data["users"].items()} == {
        "ingest": "livetally-ingest",
        "worker": "livetally-worker",
        "dashboard": "livetally-dashboard",
        "registrar": "livetally-registrar",
        "admin": "livetally-admin",
    }
    assert data["broker"]["username"] == "livetally-broker"
    passwords = {u.password for u in made.everyone()}
    assert len(passwords) == 6 and all(len(p) >= 32 for p in passwords)
    assert kafka_users.ensure_credentials(tmp_path, ca) == made
    for service in ("ingest", "worker", "dashboard", "registrar", "admin"):
        security = read_security({}, tmp_path, service)
        assert security.username == f"livetally-{service}"
        assert security.password == made.users[service].password
        assert security.ca_file == str(ca.resolve())


def test_every_user_becomes_one_add_scram_argument_for_the_storage_tool(tmp_path):
    made = kafka_users.ensure_credentials(tmp_path, tmp_path / "ca.pem")
    argv = kafka_users.scram_arguments(made)
    assert argv[::2] == ["--add-scram"] * 6
    admin = made.users["admin"]
    assert f"SCRAM-SHA-512=[name=livetally-admin,password={admin.password}]" in argv[1::2]


def test_a_home_is_secure_once_it_has_credentials_and_admin_logs_in_from_them(tmp_path):
    settings = Settings(home=tmp_path)
    assert not kafka_users.is_secure(settings)
    assert kafka_users.admin_security(settings).protocol == "PLAINTEXT"
    made = kafka_users.ensure_credentials(tmp_path, tmp_path / "ca.pem")
    assert kafka_users.is_secure(settings)
    admin = kafka_users.admin_security(settings)
    assert (admin.protocol, admin.mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (admin.username, admin.password) == ("livetally-admin", made.users["admin"].password)


def test_a_broken_credentials_file_is_named(tmp_path):
    path = tmp_path / "kafka" / "credentials.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"users": {}}')
    with pytest.raises(ValueError, match="credentials.json"):
        kafka_users.read_credentials(tmp_path)
