"""Asking a Kafka cluster whether it answers, and granting the services' ACLs on it."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

from contract.kafka_auth import KafkaSecurity
from contract.settings import Settings
from livetally.kafka_acls import grant_services
from livetally.kafka_layout import NodeLayout, local_servers
from livetally.kafka_users import admin_security

__all__ = ["apply_acls", "describe", "port_open", "quiet_kafka_client"]


@contextlib.contextmanager
def quiet_kafka_client() -> Iterator[None]:
    """kafka-python logs every refused connection; probing is expected to be refused."""
    client_logger = logging.getLogger("kafka")
    level = client_logger.level
    client_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        client_logger.setLevel(level)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _servers_reachable(servers: list[str]) -> bool:
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), 2):
                return True
        except (OSError, ValueError):
            continue
    return False


def describe(
    servers: list[str], timeout_s: float = 5.0, security: KafkaSecurity | None = None
) -> dict[str, Any] | None:
    """``describe_cluster()`` of the cluster at ``servers``, or None when it does not answer
    (or does not let ``security``'s user in)."""
    if not _servers_reachable(servers):
        return None  # a refused bootstrap leaks kafka-python's IO thread; check first
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    timeout_ms = int(timeout_s * 1000)
    with quiet_kafka_client():
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=servers,
                client_id="livetally-kafka-probe",
                bootstrap_timeout_ms=timeout_ms,
                request_timeout_ms=timeout_ms,
                **(security or KafkaSecurity()).kafka_python(),
            )
        except (KafkaError, OSError):
            return None
        try:
            result: dict[str, Any] = admin.describe_cluster()
            return result
        except (KafkaError, OSError):
            return None
        finally:
            admin.close()


def apply_acls(settings: Settings, nodes: list[NodeLayout]) -> None:
    """Create the services' ACLs (idempotent) as the admin user."""
    options = {
        "bootstrap_servers": local_servers(nodes),
        **admin_security(settings).kafka_python(),
    }
    with quiet_kafka_client():
        grant_services(options, settings.kafka)
