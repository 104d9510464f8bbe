"""Packing accepted events into Kafka records: one record per partition per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contract.events import Event
from contract.records import encode_batch, partition_key
from ingest.partitioner import partition_for, partitions_for

__all__ = ["MAX_RECORD_BYTES", "OutRecord", "pack_events", "partition_for"]

MAX_RECORD_BYTES = 900 * 1024
"""Records are split below the broker's default 1 MiB message limit."""


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to produce: where it goes, its key and its packed events."""

    partition: int
    key: bytes
    value: bytes
    count: int


def pack_events(
    events: Sequence[Event],
    *,
    platform: str,
    received_at_ms: int,
    partitions: int,
    timeout_ms: int,
) -> list[OutRecord]:
    """Group events by the partition their key maps to and pack each group into a record.

    The record key is the first event's key; the partition is explicit, so every event
    sits in the partition its own key maps to. A group too big for one record is split.
    ``timeout_ms`` is the partner's session timeout, which travels with the events.
    """
    keys = [partition_key(e.stream, platform, e.viewer_id or e.session_id or "") for e in events]
    groups: dict[int, tuple[bytes, list[Event]]] = {}
    for key, partition, event in zip(keys, partitions_for(keys, partitions), events, strict=True):
        group = groups.get(partition)
        if group is None:
            groups[partition] = (key, [event])
        else:
            group[1].append(event)
    records: list[OutRecord] = []
    for partition, (key, group_events) in sorted(groups.items()):
        records.extend(_encode(partition, key, group_events, platform, received_at_ms, timeout_ms))
    return records


def _encode(
    partition: int,
    key: bytes,
    events: list[Event],
    platform: str,
    received_at_ms: int,
    timeout_ms: int,
) -> list[OutRecord]:
    value = encode_batch(platform, received_at_ms, events, timeout_ms=timeout_ms)
    if len(value) <= MAX_RECORD_BYTES or len(events) == 1:
        return [OutRecord(partition, key, value, len(events))]
    half = len(events) // 2
    second_key = partition_key(events[half].stream, platform, events[half].viewer_key)
    head = _encode(partition, key, events[:half], platform, received_at_ms, timeout_ms)
    tail = _encode(partition, second_key, events[half:], platform, received_at_ms, timeout_ms)
    return head + tail
