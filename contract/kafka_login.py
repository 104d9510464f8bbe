"""Checking, when a process starts, that it can log in to Kafka, and saying why not.

kafka-python retries a refused login like a lost connection, so a wrong password would
otherwise show as a timeout half a minute later. Every service calls
``check_login`` before it starts its clients; the CLI turns Kafka errors into one line with
``explain``.
"""

from __future__ import annotations

import asyncio
import logging
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


async def _log_in(host: str, port: int, kafka: KafkaSettings, timeout_s: float) -> None:
    from aiokafka.conn import create_conn

    conn = await asyncio.wait_for(
        create_conn(
            host,
            port,
            client_id="livetally-login-check",
            request_timeout_ms=int(timeout_s * 1000),
            **kafka.security.aiokafka(),
        ),
        timeout=timeout_s,
    )
    conn.close()


def check_login(kafka: KafkaSettings, timeout_s: float = 20.0) -> None:
    """Connect and log in to a bootstrap server once; raise ``KafkaLoginError`` if refused.

    One connection with the TLS handshake and the SASL exchange, as every client does it
    (aiokafka's, which reports a refused login as such; kafka-python only times out). A
    cluster that does not accept connections is waited for until ``timeout_s``: services
    start before or while Kafka does. A refused login or certificate is final at once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        last: BaseException | None = None
        for server in kafka.servers:
            host, _, port = server.rpartition(":")
            if not port.isdigit():
                raise KafkaLoginError(f"LIVETALLY_BOOTSTRAP: {server!r} is not host:port")
            try:
                asyncio.run(_log_in(host.strip("[]") or "127.0.0.1", int(port), kafka, 10.0))
                return
            except Exception as exc:  # noqa: BLE001 - every failure is either named or retried
                reason = explain(exc, kafka)
                if reason is not None:
                    raise KafkaLoginError(reason) from None
                last = exc
        if time.monotonic() >= deadline:
            detail = name_of(last) if last is not None else "no bootstrap server"
            raise KafkaLoginError(
                f"Kafka at {kafka.bootstrap} did not answer within {timeout_s:.0f} s "
                f"({kafka.security.describe()}; {detail}); check LIVETALLY_BOOTSTRAP, "
                "LIVETALLY_KAFKA_SECURITY_PROTOCOL and that the brokers are up"
            )
        logger.info("Kafka not answering yet (%s); retrying", name_of(last) if last else "")
        time.sleep(1.0)


def name_of(exc: BaseException) -> str:
    """``Type: message`` of an exception, for one-line reasons."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
