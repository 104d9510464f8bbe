"""What makes a local Kafka node secure: its listener, TLS and authorizer properties.

Clients use a SASL_SSL listener (SCRAM-SHA-512) on the client port, and so do the brokers
among themselves, as ``User:livetally-broker``. The controller listener uses mutual TLS
instead: KRaft controllers cannot use SCRAM, whose credentials live in the very metadata
log the controllers serve, and SASL/PLAIN would put one more static password in every
properties file, whereas mTLS reuses the CA and authenticates both ends by certificate.
"""

from __future__ import annotations

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

__all__ = ["AUTHORIZER", "SUPER_USERS", "NodeSecurity", "prepare_security", "secure_lines"]

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


def prepare_security(settings: Settings) -> NodeSecurity:
    """Create the TLS material and the users of ``settings.home`` unless they exist."""
    tls = ensure_tls(settings.home / "kafka" / "tls")
    credentials = ensure_credentials(settings.home, tls.ca_cert)
    return NodeSecurity(tls, credentials.broker)


def secure_lines(client_port: int, controller_port: int, security: NodeSecurity) -> list[str]:
    """The listener, TLS, SASL and authorizer lines of one node's server.properties."""
    tls = security.tls
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{security.broker.username}" password="{security.broker.password}";'
    )
    mechanism = MECHANISM.lower()
    return [
        f"listeners={_LISTENER}://127.0.0.1:{client_port},"
        f"{_CONTROLLER}://127.0.0.1:{controller_port}",
        f"advertised.listeners={_LISTENER}://127.0.0.1:{client_port}",
        f"controller.listener.names={_CONTROLLER}",
        f"inter.broker.listener.name={_LISTENER}",
        f"listener.security.protocol.map={_LISTENER}:SASL_SSL,{_CONTROLLER}:SSL",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f"listener.name.{_LISTENER.lower()}.{mechanism}.sasl.jaas.config={jaas}",
        # PEM files read as they are; their keys are unencrypted PKCS#8 (mode 0600), so
        # no ssl.key.password is set.
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={tls.broker_keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={tls.ca_cert}",
        "ssl.endpoint.identification.algorithm=https",
        f"ssl.principal.mapping.rules={_PRINCIPAL_RULES}",
        f"listener.name.{_CONTROLLER.lower()}.ssl.keystore.location={tls.controller_keystore}",
        f"listener.name.{_CONTROLLER.lower()}.ssl.client.auth=required",
        f"authorizer.class.name={AUTHORIZER}",
        "allow.everyone.if.no.acl.found=false",
        "super.users=" + ";".join(f"User:{user}" for user in SUPER_USERS),
        "auto.create.topics.enable=false",
    ]
