"""Settings of the ingest service."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.settings import Settings, read_int

__all__ = ["IngestConfig"]


@dataclass(frozen=True)
class IngestConfig:
    """Everything the ingest API needs, read once from the environment."""

    shared: Settings = field(default_factory=Settings)
    """Home directory and Kafka cluster."""
    host: str = "127.0.0.1"
    """Interface to listen on (``LIVETALLY_INGEST_HOST``)."""
    port: int = 8080
    """Port to listen on (``LIVETALLY_INGEST_PORT``)."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted, after decompression."""
    max_events: int = 1000
    """Most events accepted in one request."""
    ack_timeout_s: float = 5.0
    """How long to wait for Kafka to acknowledge before answering 503."""
    default_burst_factor: float = 2.0
    """A partner's token bucket holds this many seconds of its rate."""

    @property
    def base_url(self) -> str:
        """The URL partners post to."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestConfig:
        """Read the configuration from ``LIVETALLY_*`` variables."""
        env = os.environ if environ is None else environ
        return cls(
            shared=Settings.from_env(env),
            host=env.get("LIVETALLY_INGEST_HOST", "127.0.0.1"),
            port=read_int(env, "LIVETALLY_INGEST_PORT", 8080),
        )
