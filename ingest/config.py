"""Settings of the ingest service."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from contract.settings import Settings, read_int

__all__ = ["HttpParser", "IngestConfig", "LoopKind"]

LoopKind = Literal["auto", "asyncio", "uvloop"]
"""uvicorn's event loop: ``auto`` takes uvloop when it is installed."""
HttpParser = Literal["auto", "h11", "httptools"]
"""uvicorn's HTTP/1.1 parser: ``auto`` takes httptools when it is installed."""


def _choice(env: Mapping[str, str], name: str, options: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


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
    workers: int = 1
    """Server processes sharing the port (``LIVETALLY_INGEST_WORKERS``); each has its own
    rate-limit buckets, so a partner's effective rate is up to ``workers`` times its rate."""
    loop: LoopKind = "auto"
    """Event loop (``LIVETALLY_INGEST_LOOP``): auto, asyncio or uvloop."""
    http: HttpParser = "auto"
    """HTTP parser (``LIVETALLY_INGEST_HTTP``): auto, h11 or httptools."""
    metrics_interval_s: float = 2.0
    """How often the ingest figures are published to the metrics topic (0 = never)."""

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
            workers=max(1, read_int(env, "LIVETALLY_INGEST_WORKERS", 1)),
            loop=_choice(env, "LIVETALLY_INGEST_LOOP", get_args(LoopKind), "auto"),  # type: ignore[arg-type]
            http=_choice(env, "LIVETALLY_INGEST_HTTP", get_args(HttpParser), "auto"),  # type: ignore[arg-type]
        )
