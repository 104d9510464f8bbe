"""kafka-python's default partitioner for many keys at once: in ``contract.partitioner``,
as part of the record format (where a record lands); this module keeps ingest's name."""

from __future__ import annotations

from contract.partitioner import murmur2, murmur2_many, partition_for, partitions_for

__all__ = ["murmur2", "murmur2_many", "partition_for", "partitions_for"]
