"""Settings shared by every livetally process, read from ``LIVETALLY_*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from contract.kafka_auth import KafkaSecurity, SettingsError, read_security

__all__ = [
    "KafkaSecurity",
    "KafkaSettings",
    "Settings",
    "SettingsError",
    "read_float",
    "read_int",
]


def read_int(environ: Mapping[str, str], name: str, default: int) -> int:
    """Read an integer variable, naming the variable when its value is not a number."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def read_float(environ: Mapping[str, str], name: str, default: float) -> float:
    """Read a finite number, naming the variable when its value is not one."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingsError(f"{name} must be a finite number, got {raw!r}")
    return value


@dataclass(frozen=True)
class KafkaSettings:
    """Where Kafka is and how livetally's topics are laid out on it."""

    bootstrap: str = "127.0.0.1:9092"
    """Bootstrap servers (``LIVETALLY_BOOTSTRAP``, else 127.0.0.1:$LIVETALLY_KAFKA_PORT)."""
    external: bool = False
    """True when ``LIVETALLY_BOOTSTRAP`` names a cluster livetally must not start or stop."""
    port: int = 9092
    """Client port of the first local broker (``LIVETALLY_KAFKA_PORT``)."""
    topic_prefix: str = "livetally."
    """Prefix of every topic name (``LIVETALLY_TOPIC_PREFIX``)."""
    partitions: int = 4
    """Partitions of the events and partials topics (``LIVETALLY_PARTITIONS``)."""
    replication_factor: int = 1
    """Replication factor of new topics (``LIVETALLY_REPLICATION_FACTOR``)."""
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    """How this process logs in to Kafka (``LIVETALLY_KAFKA_SECURITY_PROTOCOL`` and the rest,
    see ``contract/kafka_auth.py``)."""

    def topic(self, name: str) -> str:
        """The full name of one of livetally's topics."""
        return f"{self.topic_prefix}{name}"

    @property
    def servers(self) -> list[str]:
        """The bootstrap servers as a list."""
        return [s.strip() for s in self.bootstrap.split(",") if s.strip()]

    def client_options(self) -> dict[str, Any]:
        """``bootstrap_servers`` and the security options of a kafka-python or aiokafka
        client of this cluster (both libraries take the same names)."""
        return {"bootstrap_servers": self.servers, **self.security.kafka_python()}


@dataclass(frozen=True)
class Settings:
    """Settings every process shares: the state directory and the Kafka cluster."""

    home: Path = field(default_factory=lambda: Path(".livetally").resolve())
    """Directory for Kafka data, logs and pid files (``LIVETALLY_HOME``)."""
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    """The Kafka cluster."""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, service: str = "admin"
    ) -> Settings:
        """Read the shared settings from the environment (``os.environ`` by default).

        ``service`` picks the Kafka user when the credentials come from a secured local
        cluster's file: ``ingest``, ``worker``, ``dashboard`` or ``admin`` (the CLI).
        """
        env = os.environ if environ is None else environ
        home = Path(env.get("LIVETALLY_HOME", ".livetally")).expanduser().resolve()
        port = read_int(env, "LIVETALLY_KAFKA_PORT", 9092)
        bootstrap = env.get("LIVETALLY_BOOTSTRAP", "").strip()
        kafka = KafkaSettings(
            bootstrap=bootstrap or f"127.0.0.1:{port}",
            external=bool(bootstrap),
            port=port,
            topic_prefix=env.get("LIVETALLY_TOPIC_PREFIX", "livetally."),
            partitions=read_int(env, "LIVETALLY_PARTITIONS", 4),
            replication_factor=read_int(env, "LIVETALLY_REPLICATION_FACTOR", 1),
            security=read_security(env, home, service),
        )
        return cls(home=home, kafka=kafka)

    def with_home_credentials(self, service: str = "admin") -> Settings:
        """These settings with the secured local cluster's credentials for ``service``, when
        no security was configured and the cluster under ``home`` has been secured since
        (``livetally kafka start --secure`` writes them)."""
        if self.kafka.security.source != "default":
            return self
        security = read_security({}, self.home, service)
        return replace(self, kafka=replace(self.kafka, security=security))
