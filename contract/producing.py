"""How records are produced to the events topic: the kafka-python settings of every writer.

Ingest and the operator's backfill client (``livetally.client.KafkaClient``) produce the
same records and must produce them the same way: every replica acknowledges, and an
idempotent producer never writes a retried batch twice.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["producer_options"]


def producer_options(ack_timeout_s: float) -> dict[str, Any]:
    """The kafka-python settings events are produced with."""
    # lz4 only if it is installed anyway; it is not worth a dependency of its own.
    compression = "lz4" if importlib.util.find_spec("lz4") is not None else None
    block_ms = int(ack_timeout_s * 1000)
    return {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "compression_type": compression,
        "batch_size": 256 * 1024,
        "max_request_size": 4 * 1024 * 1024,
        "max_block_ms": block_ms,
        "bootstrap_timeout_ms": block_ms,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
        # Come back quickly after a broker restart instead of backing off for 30 s.
        "reconnect_backoff_max_ms": 1_000,
        # The events topic is created with its partition count by ensure_topics; never
        # let a metadata request create it with the broker's default.
        "allow_auto_create_topics": False,
        "client_id": "livetally-ingest",
    }
