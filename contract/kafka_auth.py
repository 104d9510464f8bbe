"""How every livetally process authenticates to Kafka: TLS and SASL settings, one block.

Read from ``LIVETALLY_KAFKA_*`` variables, or, when none is set and ``$LIVETALLY_HOME``
holds the credentials a secured local cluster wrote (``kafka/credentials.json``), from
there with the user of the process's service. The same block turns into the options of
each client library livetally uses: kafka-python, aiokafka and Faust.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "CREDENTIALS_FILE",
    "MECHANISMS",
    "PROTOCOLS",
    "SERVICES",
    "KafkaSecurity",
    "SettingsError",
    "read_security",
]

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SERVICES = ("ingest", "worker", "dashboard", "registrar", "admin")
"""The Kafka identities of a secured local cluster, one per kind of process; ``registrar``
is the dashboard's second one, which may only write the registry (for ``/admin``)."""
CREDENTIALS_FILE = Path("kafka") / "credentials.json"
"""Where, under ``$LIVETALLY_HOME``, a secured local cluster keeps its users (mode 0600)."""

_VARIABLES = (
    "LIVETALLY_KAFKA_SECURITY_PROTOCOL",
    "LIVETALLY_KAFKA_SASL_MECHANISM",
    "LIVETALLY_KAFKA_USERNAME",
    "LIVETALLY_KAFKA_PASSWORD",
    "LIVETALLY_KAFKA_PASSWORD_FILE",
    "LIVETALLY_KAFKA_CA_FILE",
    "LIVETALLY_KAFKA_CERT_FILE",
    "LIVETALLY_KAFKA_KEY_FILE",
)
_REGISTRAR_VARIABLES = (
    "LIVETALLY_REGISTRAR_KAFKA_USERNAME",
    "LIVETALLY_REGISTRAR_KAFKA_PASSWORD",
    "LIVETALLY_REGISTRAR_KAFKA_PASSWORD_FILE",
)


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class KafkaSecurity:
    """TLS and SASL settings of a Kafka client. The default is PLAINTEXT, no login."""

    protocol: str = "PLAINTEXT"
    """``LIVETALLY_KAFKA_SECURITY_PROTOCOL``: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    mechanism: str = ""
    """``LIVETALLY_KAFKA_SASL_MECHANISM`` (SASL only): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512."""
    username: str = ""
    """``LIVETALLY_KAFKA_USERNAME`` (SASL only)."""
    password: str = field(default="", repr=False)
    """``LIVETALLY_KAFKA_PASSWORD``, or the first line of ``LIVETALLY_KAFKA_PASSWORD_FILE``
    (never in ``repr``, so never in a traceback or log line)."""
    ca_file: str = ""
    """``LIVETALLY_KAFKA_CA_FILE``: PEM CA bundle to verify brokers by (TLS; default: the
    system's trust store)."""
    cert_file: str = ""
    """``LIVETALLY_KAFKA_CERT_FILE``: PEM client certificate, for mutual TLS."""
    key_file: str = ""
    """``LIVETALLY_KAFKA_KEY_FILE``: PEM private key of the client certificate."""
    source: str = "default"
    """Where the settings came from: ``default``, ``environment`` or the credentials file."""

    @property
    def tls(self) -> bool:
        """Whether connections are encrypted."""
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        """Whether the client logs in with a user name and password."""
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def describe(self) -> str:
        """One line for logs and errors (never the password)."""
        if self.sasl:
            return f"{self.protocol} as {self.username!r} ({self.mechanism})"
        return self.protocol

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context every client uses, or None without TLS."""
        if not self.tls:
            return None
        context = ssl.create_default_context(
            purpose=ssl.Purpose.SERVER_AUTH, cafile=self.ca_file or None
        )
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file or None)
        return context

    def kafka_python(self) -> dict[str, Any]:
        """Options of a kafka-python client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.sasl:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options

    def aiokafka(self) -> dict[str, Any]:
        """Options of an aiokafka client; the same names as kafka-python's."""
        return self.kafka_python()

    def faust_credentials(self) -> Any:
        """Faust's ``broker_credentials`` for these settings (None for PLAINTEXT)."""
        import faust
        from faust.types.auth import SASLMechanism

        context = self.ssl_context()
        if self.sasl:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password,
                ssl_context=context,
                mechanism=SASLMechanism(self.mechanism),
            )
        if context is not None:
            return faust.SSLCredentials(context)
        return None


def _file(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if value and not Path(value).is_file():
        raise SettingsError(f"{name}={value}: no such file")
    return value


def _from_environment(env: Mapping[str, str]) -> KafkaSecurity:
    protocol = env.get("LIVETALLY_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").strip().upper()
    if protocol not in PROTOCOLS:
        raise SettingsError(
            f"LIVETALLY_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, "
            f"got {protocol!r}"
        )
    ca_file = _file(env, "LIVETALLY_KAFKA_CA_FILE")
    cert_file = _file(env, "LIVETALLY_KAFKA_CERT_FILE")
    key_file = _file(env, "LIVETALLY_KAFKA_KEY_FILE")
    if key_file and not cert_file:
        raise SettingsError("LIVETALLY_KAFKA_KEY_FILE is set but LIVETALLY_KAFKA_CERT_FILE is not")
    tls = protocol in ("SSL", "SASL_SSL")
    if not tls and (ca_file or cert_file):
        raise SettingsError(
            f"LIVETALLY_KAFKA_CA_FILE / LIVETALLY_KAFKA_CERT_FILE need TLS, but "
            f"LIVETALLY_KAFKA_SECURITY_PROTOCOL is {protocol}; use SSL or SASL_SSL"
        )
    sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
    mechanism = env.get("LIVETALLY_KAFKA_SASL_MECHANISM", "").strip().upper()
    username = env.get("LIVETALLY_KAFKA_USERNAME", "").strip()
    password = env.get("LIVETALLY_KAFKA_PASSWORD", "")
    password_file = _file(env, "LIVETALLY_KAFKA_PASSWORD_FILE")
    if not sasl:
        stray = [
            name
            for name in ("LIVETALLY_KAFKA_SASL_MECHANISM", "LIVETALLY_KAFKA_USERNAME")
            if env.get(name, "").strip()
        ]
        if stray or password or password_file:
            names = stray or ["LIVETALLY_KAFKA_PASSWORD"]
            raise SettingsError(
                f"{names[0]} is set but LIVETALLY_KAFKA_SECURITY_PROTOCOL is {protocol}, "
                "which does not log in; use SASL_SSL or SASL_PLAINTEXT"
            )
        return KafkaSecurity(protocol, "", "", "", ca_file, cert_file, key_file, "environment")
    if mechanism not in MECHANISMS:
        raise SettingsError(
            f"LIVETALLY_KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)} with "
            f"{protocol}, got {mechanism!r}"
        )
    if not username:
        raise SettingsError(f"LIVETALLY_KAFKA_USERNAME is required with {protocol}")
    password = _password(env, "LIVETALLY_KAFKA", protocol)
    return KafkaSecurity(
        protocol, mechanism, username, password, ca_file, cert_file, key_file, "environment"
    )


def _password(env: Mapping[str, str], prefix: str, protocol: str) -> str:
    """``<prefix>_PASSWORD``, or the first line of ``<prefix>_PASSWORD_FILE``: one of them."""
    password = env.get(f"{prefix}_PASSWORD", "")
    password_file = _file(env, f"{prefix}_PASSWORD_FILE")
    if password and password_file:
        raise SettingsError(f"set {prefix}_PASSWORD or {prefix}_PASSWORD_FILE, not both")
    if password_file:
        lines = Path(password_file).read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    if not password:
        raise SettingsError(
            f"{prefix}_PASSWORD (or {prefix}_PASSWORD_FILE) is required with {protocol}"
        )
    return password


def _registrar(env: Mapping[str, str], base: KafkaSecurity) -> KafkaSecurity:
    """The dashboard's registry writer: ``base`` (the dashboard's settings) with the user of
    ``LIVETALLY_REGISTRAR_KAFKA_USERNAME`` and its password, when that is set."""
    prefix = "LIVETALLY_REGISTRAR_KAFKA"
    username = env.get(f"{prefix}_USERNAME", "").strip()
    if not username:
        stray = [n for n in _REGISTRAR_VARIABLES[1:] if env.get(n)]
        if stray:
            raise SettingsError(f"{stray[0]} is set but {prefix}_USERNAME is not")
        return base
    if not base.sasl:
        raise SettingsError(
            f"{prefix}_USERNAME is set but LIVETALLY_KAFKA_SECURITY_PROTOCOL is "
            f"{base.protocol}, which does not log in; use SASL_SSL or SASL_PLAINTEXT"
        )
    return replace(base, username=username, password=_password(env, prefix, base.protocol))


def _from_credentials(path: Path, service: str) -> KafkaSecurity:
    try:
        data = json.loads(path.read_bytes())
        user = data["users"][service]
        return KafkaSecurity(
            protocol=str(data["protocol"]),
            mechanism=str(data["mechanism"]),
            username=str(user["username"]),
            password=str(user["password"]),
            ca_file=str(data["ca_file"]),
            source=str(path),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:  # ValueError: not JSON
        raise SettingsError(
            f"{path} (the secured local Kafka's credentials) cannot be read for the "
            f"{service} user: {exc}"
        ) from None


def read_security(env: Mapping[str, str], home: Path, service: str) -> KafkaSecurity:
    """The security settings of a process of ``service`` (one of ``SERVICES``).

    Any ``LIVETALLY_KAFKA_*`` security variable means the environment decides; otherwise a
    secured local cluster's credentials file under ``home`` does; otherwise PLAINTEXT. From
    the environment, the ``registrar`` logs in like the dashboard unless
    ``LIVETALLY_REGISTRAR_KAFKA_USERNAME`` and its password name a user of its own.
    """
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    if any(env.get(name, "").strip() for name in _VARIABLES):
        security = _from_environment(env)
        return _registrar(env, security) if service == "registrar" else security
    stray = [name for name in _REGISTRAR_VARIABLES if env.get(name, "").strip()]
    if stray:
        raise SettingsError(
            f"{stray[0]} is set but no LIVETALLY_KAFKA_* variable is: the registrar logs in "
            "like the dashboard, so set LIVETALLY_KAFKA_SECURITY_PROTOCOL and the rest too"
        )
    credentials = home / CREDENTIALS_FILE
    if credentials.is_file():
        return _from_credentials(credentials, service)
    return KafkaSecurity()
