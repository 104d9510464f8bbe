"""The SCRAM users of a secured local Kafka and the credentials file that records them.

One user per kind of livetally process (``contract.kafka_auth.SERVICES``) and one for the
brokers' own traffic, each with a random password, written once to
``$LIVETALLY_HOME/kafka/credentials.json`` (mode 0600) in the format
``contract.kafka_auth`` reads. The file's existence is what makes a home secure.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from contract.kafka_auth import CREDENTIALS_FILE, SERVICES, KafkaSecurity
from contract.settings import Settings
from livetally.kafka_tls import write_private

__all__ = [
    "BROKER_USER",
    "MECHANISM",
    "PROTOCOL",
    "SERVICE_USERS",
    "Credentials",
    "User",
    "admin_security",
    "credentials_path",
    "ensure_credentials",
    "is_secure",
    "read_credentials",
    "scram_arguments",
]

PROTOCOL = "SASL_SSL"
MECHANISM = "SCRAM-SHA-512"
SERVICE_USERS: Mapping[str, str] = {service: f"livetally-{service}" for service in SERVICES}
"""service -> Kafka user name: ``livetally-ingest``, ``-worker``, ``-dashboard``, ``-admin``."""
BROKER_USER = "livetally-broker"
"""The brokers' user on the inter-broker (SASL_SSL) listener; a super user."""


@dataclass(frozen=True)
class User:
    """One SCRAM user."""

    username: str
    password: str


@dataclass(frozen=True)
class Credentials:
    """Every user of a secured local cluster and the CA its clients trust."""

    ca_file: Path
    users: Mapping[str, User]
    """service (``ingest``, ``worker``, ``dashboard``, ``admin``) -> its user."""
    broker: User

    def everyone(self) -> list[User]:
        """The services' users and the broker's."""
        return [*self.users.values(), self.broker]

    def to_json(self) -> bytes:
        """The file's content: the services' users under ``users`` (what clients read),
        the broker's under ``broker``."""
        return orjson.dumps(
            {
                "protocol": PROTOCOL,
                "mechanism": MECHANISM,
                "ca_file": str(self.ca_file),
                "users": {
                    service: {"username": user.username, "password": user.password}
                    for service, user in self.users.items()
                },
                "broker": {"username": self.broker.username, "password": self.broker.password},
            },
            option=orjson.OPT_INDENT_2,
        )


def credentials_path(home: Path) -> Path:
    """``<home>/kafka/credentials.json``."""
    return home / CREDENTIALS_FILE


def is_secure(settings: Settings) -> bool:
    """Whether the local cluster under ``settings.home`` is (to be) a secured one."""
    return credentials_path(settings.home).is_file()


def read_credentials(home: Path) -> Credentials:
    """The credentials file of ``home``; ``ValueError`` when it is missing a part."""
    path = credentials_path(home)
    try:
        data = orjson.loads(path.read_bytes())
        users = {
            service: User(
                str(data["users"][service]["username"]), str(data["users"][service]["password"])
            )
            for service in SERVICE_USERS
        }
        broker = User(str(data["broker"]["username"]), str(data["broker"]["password"]))
        return Credentials(Path(str(data["ca_file"])), users, broker)
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} cannot be read: {exc!r}") from None


def ensure_credentials(home: Path, ca_file: Path) -> Credentials:
    """The credentials of ``home``, created with fresh random passwords the first time."""
    path = credentials_path(home)
    if path.is_file():
        return read_credentials(home)
    credentials = Credentials(
        ca_file=ca_file.resolve(),
        users={service: User(name, _password()) for service, name in SERVICE_USERS.items()},
        broker=User(BROKER_USER, _password()),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, credentials.to_json() + b"\n")
    return credentials


def _password() -> str:
    # URL-safe base64 holds no ',', ']', '"' or '\\': safe inside StorageTool's
    # --add-scram [name=...,password=...] syntax and a JAAS quoted string.
    return secrets.token_urlsafe(24)


def scram_arguments(credentials: Credentials) -> list[str]:
    """StorageTool ``format`` arguments that create every user in the bootstrap metadata."""
    argv: list[str] = []
    for user in credentials.everyone():
        argv += ["--add-scram", f"{MECHANISM}=[name={user.username},password={user.password}]"]
    return argv


def admin_security(settings: Settings) -> KafkaSecurity:
    """How the admin user (a super user) logs in to the secured local cluster of
    ``settings.home``; PLAINTEXT when that home is not secured."""
    if not is_secure(settings):
        return KafkaSecurity()
    credentials = read_credentials(settings.home)
    admin = credentials.users["admin"]
    return KafkaSecurity(
        protocol=PROTOCOL,
        mechanism=MECHANISM,
        username=admin.username,
        password=admin.password,
        ca_file=str(credentials.ca_file),
        source=str(credentials_path(settings.home)),
    )
