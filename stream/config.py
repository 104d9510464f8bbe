"""Settings of the Faust stream worker."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.settings import Settings, read_int

__all__ = ["StreamConfig"]


@dataclass(frozen=True)
class StreamConfig:
    """Everything the worker needs, read once from the environment."""

    shared: Settings = field(default_factory=Settings)
    """Home directory and Kafka cluster."""
    app_id: str = "livetally-stream"
    """Faust app id, also the Kafka consumer group (``LIVETALLY_STREAM_APP_ID``)."""
    web_port: int = 6066
    """Port of the worker's health page (``LIVETALLY_WORKER_PORT``)."""
    flush_interval_s: float = 0.25
    """How often changed per-second chunks are published."""

    @property
    def health_url(self) -> str:
        """Where the worker answers when it is up."""
        return f"http://127.0.0.1:{self.web_port}/healthz"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StreamConfig:
        """Read the configuration from ``LIVETALLY_*`` variables."""
        env = os.environ if environ is None else environ
        return cls(
            shared=Settings.from_env(env),
            app_id=env.get("LIVETALLY_STREAM_APP_ID", "livetally-stream"),
            web_port=read_int(env, "LIVETALLY_WORKER_PORT", 6066),
        )
