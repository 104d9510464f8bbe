"""Packing accepted events into Kafka records: the record format's, in ``contract.packing``.

Ingest and the operator's backfill client (``livetally.client.KafkaClient``) write the
same records, so the packing lives in the contract; this module keeps ingest's name for it.
"""

from __future__ import annotations

from contract.packing import (
    MAX_RECORD_BYTES,
    OutRecord,
    pack_events,
    pack_raw_events,
    pack_wire_events,
    partition_for,
    raw_partition_key,
)

__all__ = [
    "MAX_RECORD_BYTES",
    "OutRecord",
    "pack_events",
    "pack_raw_events",
    "pack_wire_events",
    "partition_for",
    "raw_partition_key",
]
