"""The shared settings: read from a mapping passed in, never from the process environment."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from contract.kafka_auth import CREDENTIALS_FILE, KafkaSecurity
from contract.settings import KafkaSettings, Settings, SettingsError, read_float, read_int


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, 7),
        ({"N": ""}, 7),
        ({"N": "12"}, 12),
        ({"N": "-3"}, -3),
        ({"N": " 42 "}, 42),
        ({"N": "0"}, 0),
        ({"OTHER": "5"}, 7),
    ],
)
def test_an_integer_variable_is_read_or_defaulted_when_unset_or_empty(environ, expected):
    assert read_int(environ, "N", 7) == expected


@pytest.mark.parametrize("raw", ["1.5", "ten", "0x10", "1e3", "--1"])
def test_an_integer_variable_that_is_not_one_is_named_with_its_value(raw):
    with pytest.raises(SettingsError) as refused:
        read_int({"LIVETALLY_PARTITIONS": raw}, "LIVETALLY_PARTITIONS", 4)
    assert str(refused.value) == f"LIVETALLY_PARTITIONS must be an integer, got {raw!r}"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, 2.5), ({"X": ""}, 2.5), ({"X": "0.25"}, 0.25), ({"X": "3"}, 3.0), ({"X": "1e3"}, 1000.0)],
)
def test_a_number_variable_is_read_or_defaulted(environ, expected):
    assert read_float(environ, "X", 2.5) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("soon", "X must be a number, got 'soon'"),
        ("1,5", "X must be a number, got '1,5'"),
        ("nan", "X must be a finite number, got 'nan'"),
        ("inf", "X must be a finite number, got 'inf'"),
        ("-Infinity", "X must be a finite number, got '-Infinity'"),
    ],
)
def test_a_number_variable_that_is_not_a_finite_number_is_named(raw, message):
    with pytest.raises(SettingsError) as refused:
        read_float({"X": raw}, "X", 1.0)
    assert str(refused.value) == message


def test_a_settings_error_is_a_value_error():
    with pytest.raises(ValueError, match="N must be an integer"):
        read_int({"N": "x"}, "N", 0)


@pytest.mark.parametrize(
    ("bootstrap", "servers"),
    [
        ("127.0.0.1:9092", ["127.0.0.1:9092"]),
        ("k1:9092,k2:9093", ["k1:9092", "k2:9093"]),
        (" k1:9092 , ,k2:9093 ,", ["k1:9092", "k2:9093"]),
        ("", []),
    ],
)
def test_bootstrap_servers_are_split_on_commas_and_trimmed(bootstrap, servers):
    kafka = KafkaSettings(bootstrap=bootstrap)
    assert kafka.servers == servers
    assert kafka.client_options() == {
        "bootstrap_servers": servers,
        "security_protocol": "PLAINTEXT",
    }


def test_client_options_carry_the_login_of_the_security_settings():
    security = KafkaSecurity("SASL_PLAINTEXT", "PLAIN", "ingest", "pw")
    options = KafkaSettings(bootstrap="k:9092", security=security).client_options()
    assert options == {
        "bootstrap_servers": ["k:9092"],
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "ingest",
        "sasl_plain_password": "pw",
    }


@pytest.mark.parametrize(
    ("prefix", "name", "full"),
    [
        ("livetally.", "events", "livetally.events"),
        ("", "alerts", "alerts"),
        ("t-1.", "x", "t-1.x"),
    ],
)
def test_a_topic_name_is_the_prefix_and_the_name(prefix, name, full):
    assert KafkaSettings(topic_prefix=prefix).topic(name) == full


def test_nothing_set_gives_a_local_plaintext_cluster(tmp_path: Path):
    settings = Settings.from_env({"LIVETALLY_HOME": str(tmp_path)})
    assert settings.home == tmp_path.resolve()
    kafka = settings.kafka
    assert (kafka.bootstrap, kafka.external, kafka.port) == ("127.0.0.1:9092", False, 9092)
    assert (kafka.topic_prefix, kafka.partitions, kafka.replication_factor) == (
        "livetally.",
        4,
        1,
    )
    assert kafka.security == KafkaSecurity()


@pytest.mark.parametrize(
    ("environ", "bootstrap", "external", "port"),
    [
        ({"LIVETALLY_KAFKA_PORT": "19092"}, "127.0.0.1:19092", False, 19092),
        ({"LIVETALLY_BOOTSTRAP": "k1:9092,k2:9092"}, "k1:9092,k2:9092", True, 9092),
        ({"LIVETALLY_BOOTSTRAP": "  k1:9092  "}, "k1:9092", True, 9092),
        ({"LIVETALLY_BOOTSTRAP": "   ", "LIVETALLY_KAFKA_PORT": "9"}, "127.0.0.1:9", False, 9),
        (
            {"LIVETALLY_BOOTSTRAP": "k:9092", "LIVETALLY_KAFKA_PORT": "19092"},
            "k:9092",
            True,
            19092,
        ),
    ],
)
def test_a_named_bootstrap_is_an_external_cluster_else_the_local_port(
    tmp_path, environ, bootstrap, external, port
):
    kafka = Settings.from_env({"LIVETALLY_HOME": str(tmp_path), **environ}).kafka
    assert (kafka.bootstrap, kafka.external, kafka.port) == (bootstrap, external, port)


def test_the_topic_layout_is_read_from_its_variables(tmp_path):
    kafka = Settings.from_env(
        {
            "LIVETALLY_HOME": str(tmp_path),
            "LIVETALLY_TOPIC_PREFIX": "prod.",
            "LIVETALLY_PARTITIONS": "12",
            "LIVETALLY_REPLICATION_FACTOR": "3",
        }
    ).kafka
    assert (kafka.topic_prefix, kafka.partitions, kafka.replication_factor) == ("prod.", 12, 3)
    assert kafka.topic("events") == "prod.events"


@pytest.mark.parametrize(
    "name", ["LIVETALLY_KAFKA_PORT", "LIVETALLY_PARTITIONS", "LIVETALLY_REPLICATION_FACTOR"]
)
def test_a_bad_number_names_its_variable(tmp_path, name):
    with pytest.raises(SettingsError, match=f"^{name} must be an integer, got 'many'$"):
        Settings.from_env({"LIVETALLY_HOME": str(tmp_path), name: "many"})


def test_the_home_is_expanded_and_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"LIVETALLY_HOME": "state"}).home == tmp_path.resolve() / "state"
    assert Settings.from_env({}).home == tmp_path.resolve() / ".livetally"
    home = Settings.from_env({"LIVETALLY_HOME": "~/lt"}).home
    assert home == Path("~/lt").expanduser().resolve()
    assert "~" not in str(home)


def _secure(home: Path) -> None:
    path = home / CREDENTIALS_FILE
    path.parent.mkdir(parents=True)
    users = {s: {"username": f"livetally-{s}", "password": f"pw-{s}"} for s in ("admin", "ingest")}
    doc = {"protocol": "SASL_SSL", "mechanism": "PLAIN", "ca_file": "ca.pem", "users": users}
    path.write_bytes(orjson.dumps(doc))


def test_configured_security_is_kept_when_the_home_is_secured_later(tmp_path):
    env = {"LIVETALLY_HOME": str(tmp_path), "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "plaintext"}
    settings = Settings.from_env(env)
    assert settings.kafka.security.source == "environment"
    _secure(tmp_path)
    assert settings.with_home_credentials("ingest") is settings


def test_an_unsecured_home_leaves_the_default_security(tmp_path):
    settings = Settings.from_env({"LIVETALLY_HOME": str(tmp_path)})
    refreshed = settings.with_home_credentials("ingest")
    assert refreshed.kafka.security == KafkaSecurity()
    assert refreshed.kafka.bootstrap == settings.kafka.bootstrap


def test_home_credentials_replace_only_the_security(tmp_path):
    env = {"LIVETALLY_HOME": str(tmp_path), "LIVETALLY_PARTITIONS": "8"}
    settings = Settings.from_env(env)
    _secure(tmp_path)
    refreshed = settings.with_home_credentials("ingest")
    assert refreshed.kafka.security.username == "livetally-ingest"
    assert refreshed.kafka.security.protocol == "SASL_SSL"
    assert refreshed.kafka.partitions == 8
    assert refreshed.home == settings.home
    assert settings.kafka.security == KafkaSecurity()  # the original is frozen, unchanged


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        KafkaSettings().partitions = 8  # type: ignore[misc]
