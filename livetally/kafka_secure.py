"""What makes a local Kafka node secure: its listener, TLS and authorizer properties.

Clients use a SASL_SSL listener (SCRAM-SHA-512) on the client port, and so do the brokers
among themselves, as ``User:livetally-broker``. The controller listener uses mutual TLS
instead: KRaft controllers cannot use SCRAM, whose credentials live in the very metadata
log the controllers serve, and SASL/PLAIN would put one more static password in every
properties file, whereas mTLS reuses the CA and authenticates both ends by certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contract.settings import Settings
from livetally.kafka_tls import CONTROLLER_CN, TlsFiles, ensure_tls
from livetally.kafka_users import (
    BROKER_USER,
    MECHANISM,
    SERVICE_USERS,
    User,
    ensure_credentials,
)

__all__ = [
    "AUTHORIZER",
    "SUPER_USERS",
    "Listener",
    "NodeSecurity",
    "listener_lines",
    "prepare_security",
    "secure_lines",
]

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
SUPER_USERS = (BROKER_USER, CONTROLLER_CN, SERVICE_USERS["admin"])
"""The brokers (SCRAM), the nodes on the controller listener (certificate CN) and the
admin user livetally's CLI logs in as."""

_LISTENER = "SASL_SSL"
_CONTROLLER = "CONTROLLER"
_PRINCIPAL_RULES = "RULE:^CN=([A-Za-z0-9.-]+)$/$1/,DEFAULT"
"""Certificate DN ``CN=livetally-controller`` -> principal ``User:livetally-controller``."""


@dataclass(frozen=True)
class NodeSecurity:
    """What a secure node's properties refer to: its TLS files and the brokers' user."""

    tls: TlsFiles
    broker: User


@dataclass(frozen=True)
class Listener:
    """One SASL_SSL client listener of a node: its name, where it binds and what it
    advertises (the address clients then connect to)."""

    name: str
    bind: str
    advertised: str


def prepare_security(settings: Settings) -> NodeSecurity:
    """Create the TLS material and the users of ``settings.home`` unless they exist."""
    tls = ensure_tls(settings.home / "kafka" / "tls")
    credentials = ensure_credentials(settings.home, tls.ca_cert)
    return NodeSecurity(tls, credentials.broker)


def secure_lines(client_port: int, controller_port: int, security: NodeSecurity) -> list[str]:
    """The listener, TLS, SASL and authorizer lines of one local node's server.properties."""
    tls = security.tls
    address = f"127.0.0.1:{client_port}"
    return listener_lines(
        [Listener(_LISTENER, address, address)],
        f"127.0.0.1:{controller_port}",
        security.broker,
        ca=str(tls.ca_cert),
        broker_keystore=str(tls.broker_keystore),
        controller_keystore=str(tls.controller_keystore),
    )


def listener_lines(
    clients: Sequence[Listener],
    controller: str,
    broker: User,
    *,
    ca: str,
    broker_keystore: str,
    controller_keystore: str,
) -> list[str]:
    """The listener, TLS, SASL and authorizer lines of a secured node: SASL_SSL on each of
    ``clients`` (the first also carries the brokers' own traffic), mutual TLS on the
    controller listener bound at ``controller``, the PEM files at the paths given."""
    if not clients:
        raise ValueError("a node needs at least one client listener")
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{broker.username}" password="{broker.password}";'
    )
    mechanism = MECHANISM.lower()
    binds = [f"{c.name}://{c.bind}" for c in clients] + [f"{_CONTROLLER}://{controller}"]
    protocols = [f"{c.name}:SASL_SSL" for c in clients] + [f"{_CONTROLLER}:SSL"]
    return [
        "listeners=" + ",".join(binds),
        "advertised.listeners=" + ",".join(f"{c.name}://{c.advertised}" for c in clients),
        f"controller.listener.names={_CONTROLLER}",
        f"inter.broker.listener.name={clients[0].name}",
        "listener.security.protocol.map=" + ",".join(protocols),
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        *(f"listener.name.{c.name.lower()}.{mechanism}.sasl.jaas.config={jaas}" for c in clients),
        # PEM files read as they are; their keys are unencrypted PKCS#8 (mode 0600), so
        # no ssl.key.password is set.
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={broker_keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={ca}",
        "ssl.endpoint.identification.algorithm=https",
        f"ssl.principal.mapping.rules={_PRINCIPAL_RULES}",
        f"listener.name.{_CONTROLLER.lower()}.ssl.keystore.location={controller_keystore}",
        f"listener.name.{_CONTROLLER.lower()}.ssl.client.auth=required",
        f"authorizer.class.name={AUTHORIZER}",
        "allow.everyone.if.no.acl.found=false",
        "super.users=" + ";".join(f"User:{user}" for user in SUPER_USERS),
        "auto.create.topics.enable=false",
    ]
