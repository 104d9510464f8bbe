"""Checking, when a process starts, that it can log in to Kafka, and saying why not.

kafka-python and aiokafka retry a refused login like a lost connection, so a wrong
password would otherwise show as a timeout half a minute later. Every service calls
``check_login`` before it starts its clients; the CLI turns Kafka errors into one line with
``explain``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time

from contract.kafka_auth import KafkaSecurity, SettingsError
from contract.settings import KafkaSettings

__all__ = ["KafkaLoginError", "check_login", "explain"]

logger = logging.getLogger(__name__)


class KafkaLoginError(SettingsError):
    """Kafka refused this process's login, its TLS handshake, or does not answer."""


def _whose(security: KafkaSecurity) -> str:
    if security.source not in ("default", "environment"):
        return f"the credentials in {security.source}"
    if security.sasl:
        return (
            "LIVETALLY_KAFKA_USERNAME and LIVETALLY_KAFKA_PASSWORD "
            "(or LIVETALLY_KAFKA_PASSWORD_FILE)"
        )
    return "LIVETALLY_KAFKA_SECURITY_PROTOCOL"


def explain(exc: BaseException, kafka: KafkaSettings) -> str | None:
    """A one-line reason for a login or permission error of either client library (None
    when ``exc`` is neither)."""
    security = kafka.security
    name = type(exc).__name__
    text = str(exc)
    where = f"Kafka at {kafka.bootstrap}"
    if name in ("SaslAuthenticationFailedError", "AuthenticationFailedError") or (
        name == "SaslAuthenticationFailed"
    ):
        return f"{where}: authentication failed for {security.describe()}; check {_whose(security)}"
    if name.endswith("AuthorizationFailedError") or name.endswith("AuthorizationFailed"):
        who = repr(security.username) if security.sasl else "this client"
        return (
            f"{where}: {who} is not allowed to do this ({name}: {text}); the Kafka user needs "
            "an ACL for it (see docs/deploy.md)"
        )
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"{where}: the broker's TLS certificate is not trusted ({text}); set "
            "LIVETALLY_KAFKA_CA_FILE to the CA that signed it"
        )
    return None


def _reachable(servers: list[str]) -> bool:
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), 2):
                return True
        except (OSError, ValueError):
            continue
    return False


def check_login(kafka: KafkaSettings, timeout_s: float = 20.0) -> None:
    """Log in once and fetch the cluster's metadata; raise ``KafkaLoginError`` if refused.

    A cluster that does not answer at all is waited for until ``timeout_s``: services start
    before or while Kafka does. A refused login or TLS handshake is final at once.
    """
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    while not _reachable(kafka.servers):
        # Checked first: a kafka-python client whose bootstrap is refused leaks a thread.
        if time.monotonic() >= deadline:
            raise KafkaLoginError(
                f"Kafka at {kafka.bootstrap} does not accept connections (waited "
                f"{timeout_s:.0f} s); check LIVETALLY_BOOTSTRAP and that the brokers are up"
            )
        time.sleep(0.5)
    while True:
        consumer = None
        try:
            consumer = KafkaConsumer(
                **kafka.client_options(),
                client_id="livetally-login-check",
                request_timeout_ms=10_000,
            )
            consumer.topics()
            return
        except (KafkaError, OSError) as exc:
            reason = explain(exc, kafka)
            if reason is not None:
                raise KafkaLoginError(reason) from None
            if time.monotonic() >= deadline:
                raise KafkaLoginError(
                    f"Kafka at {kafka.bootstrap} did not answer within {timeout_s:.0f} s "
                    f"({kafka.security.describe()}; {name_of(exc)})"
                ) from None
            logger.info("Kafka not answering yet (%s); retrying", name_of(exc))
            time.sleep(1.0)
        finally:
            if consumer is not None:
                consumer.close()


def name_of(exc: BaseException) -> str:
    """``Type: message`` of an exception, for one-line reasons."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
