"""Where the ingest API listens, read once from ``LIVETALLY_INGEST_HOST`` and ``_PORT``.

The ingest service listens there and ``livetally send`` posts there by default; the
partner SDK reads it from here, so it never imports the service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from contract.settings import read_int

__all__ = ["IngestAddress"]


@dataclass(frozen=True)
class IngestAddress:
    """The interface and port of the ingest API."""

    host: str = "127.0.0.1"
    """Interface to listen on (``LIVETALLY_INGEST_HOST``)."""
    port: int = 8080
    """Port to listen on (``LIVETALLY_INGEST_PORT``)."""

    @property
    def base_url(self) -> str:
        """The URL partners post to."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestAddress:
        """Read the address from the environment (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("LIVETALLY_INGEST_HOST", cls.host),
            port=read_int(env, "LIVETALLY_INGEST_PORT", cls.port),
        )
