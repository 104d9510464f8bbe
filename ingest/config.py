"""Settings of the ingest service."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from contract.ingest_address import IngestAddress
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


def _read_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class IngestConfig:
    """Everything the ingest API needs, read once from the environment."""

    shared: Settings = field(default_factory=Settings)
    """Home directory and Kafka cluster."""
    host: str = IngestAddress.host
    """Interface to listen on (``LIVETALLY_INGEST_HOST``)."""
    port: int = IngestAddress.port
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
    partner_requests_per_s: float = 500.0
    """Requests per second each partner may make (``LIVETALLY_INGEST_PARTNER_REQUESTS_PER_S``),
    in bursts of ``default_burst_factor`` times that; checked before the body is read."""
    max_errors_per_min: int = 30
    """/readyz answers 503 while more requests than this failed unexpectedly in the last
    minute and they were at least half of its requests
    (``LIVETALLY_INGEST_MAX_ERRORS_PER_MIN``)."""
    limit_concurrency: int = 1000
    """Open connections plus requests in progress one process takes before uvicorn answers
    503 (``LIVETALLY_INGEST_LIMIT_CONCURRENCY``; 0 = no limit)."""
    keep_alive_s: int = 5
    """An idle keep-alive connection is closed after this many seconds
    (``LIVETALLY_INGEST_KEEP_ALIVE_S``)."""
    header_timeout_s: float = 10.0
    """A request's headers must arrive within this many seconds of its first byte (or of the
    connection opening), else 408 and the connection closes
    (``LIVETALLY_INGEST_HEADER_TIMEOUT_S``)."""
    body_timeout_s: float = 30.0
    """A request's body must arrive within this many seconds, else 408 and the connection
    closes (``LIVETALLY_INGEST_BODY_TIMEOUT_S``)."""
    coalesce_linger_ms: float = 5.0
    """How long the records of concurrent requests are gathered per partition before they
    go out as one record (``LIVETALLY_INGEST_COALESCE_LINGER_MS``; 0 = every request's
    records go out on their own)."""
    coalesce_max_events: int = 5000
    """Most events in one gathered record; a fuller one goes out at once
    (``LIVETALLY_INGEST_COALESCE_MAX_EVENTS``). Records also stay under 900 KiB."""

    def __post_init__(self) -> None:
        positive = {
            "partner_requests_per_s": self.partner_requests_per_s,
            "keep_alive_s": self.keep_alive_s,
            "header_timeout_s": self.header_timeout_s,
            "body_timeout_s": self.body_timeout_s,
        }
        for name, value in positive.items():
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.max_errors_per_min < 0 or self.limit_concurrency < 0:
            raise ValueError("max_errors_per_min and limit_concurrency must not be negative")
        linger = self.coalesce_linger_ms
        if not (0 <= linger <= 1000 and math.isfinite(linger)):
            raise ValueError(f"coalesce_linger_ms must be between 0 and 1000, got {linger!r}")
        if self.coalesce_max_events < 1:
            raise ValueError(
                f"coalesce_max_events must be at least 1, got {self.coalesce_max_events!r}"
            )

    @property
    def base_url(self) -> str:
        """The URL partners post to."""
        return IngestAddress(self.host, self.port).base_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestConfig:
        """Read the configuration from ``LIVETALLY_*`` variables."""
        env = os.environ if environ is None else environ
        address = IngestAddress.from_env(env)
        return cls(
            shared=Settings.from_env(env, service="ingest"),
            host=address.host,
            port=address.port,
            workers=max(1, read_int(env, "LIVETALLY_INGEST_WORKERS", 1)),
            loop=_choice(env, "LIVETALLY_INGEST_LOOP", get_args(LoopKind), "auto"),  # type: ignore[arg-type]
            http=_choice(env, "LIVETALLY_INGEST_HTTP", get_args(HttpParser), "auto"),  # type: ignore[arg-type]
            partner_requests_per_s=_read_float(
                env, "LIVETALLY_INGEST_PARTNER_REQUESTS_PER_S", cls.partner_requests_per_s
            ),
            max_errors_per_min=read_int(
                env, "LIVETALLY_INGEST_MAX_ERRORS_PER_MIN", cls.max_errors_per_min
            ),
            limit_concurrency=read_int(
                env, "LIVETALLY_INGEST_LIMIT_CONCURRENCY", cls.limit_concurrency
            ),
            keep_alive_s=read_int(env, "LIVETALLY_INGEST_KEEP_ALIVE_S", cls.keep_alive_s),
            header_timeout_s=_read_float(
                env, "LIVETALLY_INGEST_HEADER_TIMEOUT_S", cls.header_timeout_s
            ),
            body_timeout_s=_read_float(env, "LIVETALLY_INGEST_BODY_TIMEOUT_S", cls.body_timeout_s),
            coalesce_linger_ms=_read_float(
                env, "LIVETALLY_INGEST_COALESCE_LINGER_MS", cls.coalesce_linger_ms
            ),
            coalesce_max_events=read_int(
                env, "LIVETALLY_INGEST_COALESCE_MAX_EVENTS", cls.coalesce_max_events
            ),
        )
