"""The secrets of the secured compose variant (``docker-compose.secure.yml``).

``livetally kafka secrets DIR`` writes them (the compose file's one-shot ``secrets``
service, as root), each part into the volume of the one container that reads it:

- ``DIR/private``: the CA's key and every user's password, laid out like a secured local
  home (``kafka/tls/``, ``kafka/credentials.json``). Only the secrets service mounts it;
  a run on an existing volume keeps the CA and the passwords, and issues a node
  certificate close to expiry again.
- ``DIR/kafka``: what the broker reads (``KAFKA_FILES``): its certificates, its
  ``server.properties``, ``client.properties`` (its health check logs in as the brokers'
  user, a super user it already holds the password of), ``scram.args`` (the users
  ``StorageTool format`` creates, one argument per line) and ``cluster.id``.
- ``DIR/<service>`` for each of ``SERVICE_DIRS``: ``ca.pem`` and ``password``, the one
  user that service logs in as; the dashboard's also ``registrar-password``, the user its
  ``/admin`` page writes the registry with.

The broker's files name paths inside its container (``ComposeBroker.mount``), and its
listeners are the compose network's: ``kafka:19092`` for the containers, ``localhost:9092``
for programs on the host, ``kafka:9093`` for the controller.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from livetally.kafka_layout import new_cluster_id, replication_lines
from livetally.kafka_secure import Listener, listener_lines
from livetally.kafka_tls import ensure_tls, write_private
from livetally.kafka_users import (
    MECHANISM,
    PROTOCOL,
    Credentials,
    User,
    ensure_credentials,
    scram_arguments,
)

__all__ = [
    "KAFKA_FILES",
    "SERVICE_DIRS",
    "ComposeBroker",
    "Owner",
    "client_properties",
    "server_properties",
    "write_secrets",
]

SERVICE_DIRS: Mapping[str, str] = {
    "ingest": "ingest",
    "worker": "worker",
    "dashboard": "dashboard",
    "admin": "admin",
}
"""Directory under DIR -> the service whose user it holds (``contract.kafka_auth``)."""
KAFKA_FILES = (
    "ca.pem",
    "broker.pem",
    "controller.pem",
    "server.properties",
    "client.properties",
    "scram.args",
    "cluster.id",
)
"""What ``DIR/kafka`` holds."""


@dataclass(frozen=True)
class ComposeBroker:
    """Where the single broker of the compose network listens and finds its files."""

    internal: Listener = Listener("INTERNAL", "0.0.0.0:19092", "kafka:19092")
    external: Listener = Listener("EXTERNAL", "0.0.0.0:9092", "localhost:9092")
    controller_bind: str = "0.0.0.0:9093"
    controller_voter: str = "kafka:9093"
    mount: str = "/etc/kafka/secrets"
    """Where ``DIR/kafka`` is mounted in the broker's container."""
    data_dir: str = "/var/lib/kafka/data"


@dataclass(frozen=True)
class Owner:
    """A numeric ``uid:gid`` files are handed to (the secrets service runs as root)."""

    uid: int
    gid: int

    @classmethod
    def parse(cls, text: str) -> Owner:
        """``"1000:1000"`` (or ``"1000"``, the gid then equal) -> Owner."""
        uid, _, gid = text.partition(":")
        try:
            return cls(int(uid), int(gid or uid))
        except ValueError:
            raise ValueError(f"owner must be UID[:GID] in numbers, got {text!r}") from None


def server_properties(broker: ComposeBroker, node: User) -> str:
    """The broker's ``server.properties``: combined broker and controller, SASL_SSL on both
    client listeners, mutual TLS between controllers, ACLs."""
    mount = broker.mount
    lines = [
        "# Written by `livetally kafka secrets`; rewritten on every run.",
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{broker.controller_voter}",
        *listener_lines(
            [broker.internal, broker.external],
            broker.controller_bind,
            node,
            ca=f"{mount}/ca.pem",
            broker_keystore=f"{mount}/broker.pem",
            controller_keystore=f"{mount}/controller.pem",
        ),
        f"log.dirs={broker.data_dir}",
        *replication_lines(1),
    ]
    return "\n".join(lines) + "\n"


def client_properties(broker: ComposeBroker, node: User) -> str:
    """A Kafka command-line tool's ``--command-config``, logged in as the brokers' user."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{node.username}" password="{node.password}";'
    )
    return (
        "\n".join(
            [
                f"security.protocol={PROTOCOL}",
                f"sasl.mechanism={MECHANISM}",
                f"sasl.jaas.config={jaas}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={broker.mount}/ca.pem",
            ]
        )
        + "\n"
    )


def _write(path: Path, data: bytes, owner: Owner | None) -> None:
    write_private(path, data)
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)


def _directory(path: Path, owner: Owner | None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)
    return path


def write_secrets(
    out: Path,
    broker: ComposeBroker | None = None,
    *,
    kafka_owner: Owner | None = None,
    service_owner: Owner | None = None,
) -> Credentials:
    """Write (or refresh) every part under ``out``; return the users."""
    broker = broker or ComposeBroker()
    private = _directory(out / "private", None)
    _directory(private / "kafka", None)
    tls = ensure_tls(private / "kafka" / "tls")
    credentials = ensure_credentials(private, tls.ca_cert)
    cluster_id_file = private / "kafka" / "cluster.id"
    if not cluster_id_file.is_file():
        write_private(cluster_id_file, new_cluster_id().encode() + b"\n")
    ca = tls.ca_cert.read_bytes()

    kafka = _directory(out / "kafka", kafka_owner)
    for source, name in (
        (tls.ca_cert, "ca.pem"),
        (tls.broker_keystore, "broker.pem"),
        (tls.controller_keystore, "controller.pem"),
        (cluster_id_file, "cluster.id"),
    ):
        _write(kafka / name, source.read_bytes(), kafka_owner)
    _write(
        kafka / "server.properties",
        server_properties(broker, credentials.broker).encode(),
        kafka_owner,
    )
    _write(
        kafka / "client.properties",
        client_properties(broker, credentials.broker).encode(),
        kafka_owner,
    )
    _write(
        kafka / "scram.args",
        "".join(f"{a}\n" for a in scram_arguments(credentials)).encode(),
        kafka_owner,
    )

    for directory, service in SERVICE_DIRS.items():
        target = _directory(out / directory, service_owner)
        _write(target / "ca.pem", ca, service_owner)
        password = credentials.users[service].password
        _write(target / "password", password.encode() + b"\n", service_owner)
        if service == "dashboard":
            registrar = credentials.users["registrar"].password
            _write(target / "registrar-password", registrar.encode() + b"\n", service_owner)
    return credentials
