"""The compose files keep Kafka private and its data, let SIGTERM reach the apps, and (the
secured variant) give each container its own Kafka user and nothing of another's.

There is no Docker engine where the suite runs, so this reads the files as Compose would;
tests/livetally/test_kafka_compose.py runs the broker's start script on a real Kafka.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from livetally.kafka_compose import KAFKA_FILES, SERVICE_DIRS, ComposeBroker
from livetally.kafka_users import MECHANISM, PROTOCOL, SERVICE_USERS
from tests.livetally import compose

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
APPS = ("stream", "ingest", "dashboard")


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def test_kafka_is_published_on_loopback_only_and_keeps_its_data_in_a_volume():
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    kafka = doc["services"]["kafka"]
    assert kafka["ports"] and all(str(p).startswith("127.0.0.1:") for p in kafka["ports"])
    mounts = {m.split(":")[1]: m.split(":")[0] for m in kafka["volumes"]}
    data_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert mounts[data_dir] in doc["volumes"]
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_every_app_runs_under_an_init_with_a_health_check():
    services = _services()
    for name in APPS:
        service = services[name]
        assert service["init"] is True, name
        assert "healthz" in " ".join(service["healthcheck"]["test"]), name
    assert services["kafka"]["init"] is True
    assert services["dashboard"]["ports"] == ["127.0.0.1:8050:8050", "127.0.0.1:8051:8051"]
    # The session-signing key's volume is the dashboard's alone.
    (key_volume,) = [m.split(":")[0] for m in services["dashboard"]["volumes"]]
    others = [
        m.split(":")[0] for n in APPS if n != "dashboard" for m in services[n].get("volumes", [])
    ]
    assert key_volume not in others


# --- the secured variant ---------------------------------------------------------------

KAFKA_CLIENTS = {
    "stream": "worker",
    "ingest": "ingest",
    "dashboard": "dashboard",
    "topics": "admin",
    "admin": "admin",
}
"""Services of the merged files that log in to Kafka -> the user they log in as."""


def _secured() -> dict:
    return compose.load(compose.BASE, compose.SECURE)


def test_every_kafka_client_logs_in_as_its_own_user_with_its_own_password(tmp_path):
    doc = _secured()
    for name, service in KAFKA_CLIENTS.items():
        env = doc["services"][name]["environment"]
        assert env["LIVETALLY_KAFKA_SECURITY_PROTOCOL"] == PROTOCOL, name
        assert env["LIVETALLY_KAFKA_SASL_MECHANISM"] == MECHANISM, name
        assert env["LIVETALLY_KAFKA_USERNAME"] == SERVICE_USERS[service], name
        # Its password file is on the volume the secrets service fills for that user.
        password = compose.host_path(doc, name, env["LIVETALLY_KAFKA_PASSWORD_FILE"], tmp_path)
        assert password == tmp_path / _dir_of(service) / "password", name
        ca = compose.host_path(doc, name, env["LIVETALLY_KAFKA_CA_FILE"], tmp_path)
        assert ca == tmp_path / _dir_of(service) / "ca.pem", name
    dashboard = doc["services"]["dashboard"]["environment"]
    assert dashboard["LIVETALLY_REGISTRAR_KAFKA_USERNAME"] == SERVICE_USERS["registrar"]
    registrar = compose.host_path(
        doc, "dashboard", dashboard["LIVETALLY_REGISTRAR_KAFKA_PASSWORD_FILE"], tmp_path
    )
    assert registrar == tmp_path / "dashboard" / "registrar-password"


def _dir_of(service: str) -> str:
    (directory,) = [d for d, s in SERVICE_DIRS.items() if s == service]
    return directory


def test_no_container_but_the_secrets_service_sees_another_users_secrets():
    doc = _secured()
    secrets = compose.mounts(doc["services"]["secrets"])
    assert set(secrets) == {f"/secrets/{d}" for d in (*SERVICE_DIRS, "kafka", "private")}
    owners: dict[str, set[str]] = {}
    for name, service in doc["services"].items():
        if name == "secrets":
            continue
        for volume in compose.mounts(service).values():
            if volume.startswith("secrets-"):
                owners.setdefault(volume, set()).add(name)
    assert "secrets-private" not in owners
    assert owners["secrets-kafka"] == {"kafka"}
    assert owners["secrets-admin"] == {"topics", "admin"}
    for directory in ("ingest", "worker", "dashboard"):
        assert len(owners[f"secrets-{directory}"]) == 1, directory
    for volume in secrets.values():
        assert volume in doc["volumes"]


def test_the_broker_starts_from_the_files_the_secrets_service_writes():
    doc = _secured()
    kafka = doc["services"]["kafka"]
    broker = ComposeBroker()
    assert compose.mounts(kafka)[broker.mount] == "secrets-kafka"
    assert compose.mounts(kafka)[broker.data_dir] == "kafka-data"
    script = kafka["entrypoint"][-1]
    health = " ".join(kafka["healthcheck"]["test"])
    named = set(re.findall(r"[\w.-]+\.(?:properties|args|id)\b", script + health))
    # Kafka's own meta.properties (in the data volume) aside, every file is one of ours.
    assert named - {"meta.properties"} and named - {"meta.properties"} <= set(KAFKA_FILES)
    assert f"{broker.mount}/client.properties" in health
    assert "--ignore-formatted" in script  # a restart keeps the data and the users
    # The broker runs as the user the secrets service hands its files and data to.
    command = doc["services"]["secrets"]["command"]
    assert f"--kafka-owner={kafka['user']}" in command
    dockerfile = (compose.ROOT / "Dockerfile").read_text(encoding="utf-8")
    (uid,) = re.findall(r"useradd .*--uid (\d+)", dockerfile)
    assert f"--service-owner={uid}:{uid}" in command
    assert all(str(p).startswith("127.0.0.1:") for p in kafka["ports"])


def test_topics_are_created_with_acls_before_the_apps_start():
    doc = _secured()
    assert doc["services"]["topics"]["command"] == ["kafka", "setup", "--acls"]
    for name in APPS:
        depends = doc["services"][name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully"
    assert doc["services"]["kafka"]["depends_on"]["secrets"]["condition"] == (
        "service_completed_successfully"
    )
