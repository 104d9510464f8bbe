"""Settings of the dashboard service."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.settings import KafkaSettings, Settings, read_int

__all__ = ["DashboardConfig"]


@dataclass(frozen=True)
class DashboardConfig:
    """Everything the dashboard needs, read once from the environment."""

    shared: Settings = field(default_factory=Settings)
    """Home directory and Kafka cluster, as the dashboard's (read-only) Kafka user."""
    registry_kafka: KafkaSettings | None = None
    """The Kafka identity ``/admin`` writes the registry with. On a secured local cluster
    that is the ``livetally-admin`` user from its credentials file, since the dashboard's
    own user may only read; otherwise the same as ``shared.kafka``."""
    host: str = "127.0.0.1"
    """Interface to listen on (``LIVETALLY_DASHBOARD_HOST``)."""
    port: int = 8050
    """Port to listen on (``LIVETALLY_DASHBOARD_PORT``)."""
    refresh_ms: int = 1000
    """How often pages refresh their numbers."""
    exports_per_token: int = 2
    """Exports and reports one token may have in progress at once
    (``LIVETALLY_DASHBOARD_EXPORTS_PER_TOKEN``); more are answered 429."""
    exports_total: int = 4
    """Exports and reports in progress at once over all tokens
    (``LIVETALLY_DASHBOARD_EXPORTS_TOTAL``)."""

    def __post_init__(self) -> None:
        if self.exports_per_token < 1 or self.exports_total < 1:
            raise ValueError(
                "LIVETALLY_DASHBOARD_EXPORTS_PER_TOKEN and LIVETALLY_DASHBOARD_EXPORTS_TOTAL "
                "must be at least 1"
            )

    @property
    def registry_writer_kafka(self) -> KafkaSettings:
        """Kafka settings of the registry writes ``/admin`` makes."""
        return self.registry_kafka or self.shared.kafka

    @property
    def base_url(self) -> str:
        """The dashboard's address."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DashboardConfig:
        """Read the configuration from ``LIVETALLY_*`` variables."""
        env = os.environ if environ is None else environ
        return cls(
            shared=Settings.from_env(env, service="dashboard"),
            registry_kafka=Settings.from_env(env, service="admin").kafka,
            host=env.get("LIVETALLY_DASHBOARD_HOST", "127.0.0.1"),
            port=read_int(env, "LIVETALLY_DASHBOARD_PORT", 8050),
            exports_per_token=read_int(env, "LIVETALLY_DASHBOARD_EXPORTS_PER_TOKEN", 2),
            exports_total=read_int(env, "LIVETALLY_DASHBOARD_EXPORTS_TOTAL", 4),
        )
