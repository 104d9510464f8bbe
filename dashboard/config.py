"""Settings of the dashboard service."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.settings import Settings, read_int

__all__ = ["DashboardConfig"]


@dataclass(frozen=True)
class DashboardConfig:
    """Everything the dashboard needs, read once from the environment."""

    shared: Settings = field(default_factory=Settings)
    """Home directory and Kafka cluster."""
    host: str = "127.0.0.1"
    """Interface to listen on (``LIVETALLY_DASHBOARD_HOST``)."""
    port: int = 8050
    """Port to listen on (``LIVETALLY_DASHBOARD_PORT``)."""
    refresh_ms: int = 1000
    """How often pages refresh their numbers."""

    @property
    def base_url(self) -> str:
        """The dashboard's address."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DashboardConfig:
        """Read the configuration from ``LIVETALLY_*`` variables."""
        env = os.environ if environ is None else environ
        return cls(
            shared=Settings.from_env(env),
            host=env.get("LIVETALLY_DASHBOARD_HOST", "127.0.0.1"),
            port=read_int(env, "LIVETALLY_DASHBOARD_PORT", 8050),
        )
