"""Packing accepted events into Kafka records: one record per partition per request."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contract.events import Event
from contract.partitioner import partition_for, partitions_for
from contract.records import encode_raw_batch, encode_wire_batch, partition_key
from contract.wire import WireEvent, viewer_key

__all__ = [
    "MAX_RECORD_BYTES",
    "OutRecord",
    "pack_events",
    "pack_raw_events",
    "pack_wire_events",
    "partition_for",
    "raw_partition_key",
]

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
    docs = [event.to_record() for event in events]
    return _pack(keys, docs, encode_raw_batch, platform, received_at_ms, partitions, timeout_ms)


def pack_wire_events(
    events: list[WireEvent],
    *,
    platform: str,
    received_at_ms: int,
    partitions: int,
    timeout_ms: int,
) -> list[OutRecord]:
    """``pack_events`` for the events of ingest's fast path: the same keys, partitions and
    records, encoded straight from the typed events."""
    keys = [partition_key(e.stream, platform, viewer_key(e)) for e in events]
    return _pack(keys, events, encode_wire_batch, platform, received_at_ms, partitions, timeout_ms)


def _text_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""


def raw_partition_key(event: Mapping[str, Any], platform: str) -> bytes:
    """The key of an unchecked event: as ``partition_key`` for a valid one; fields that are
    missing or not strings count as empty (the stream app rejects such an event anyway)."""
    viewer = _text_or_empty(event.get("viewer_id")) or _text_or_empty(event.get("session_id"))
    return partition_key(_text_or_empty(event.get("stream")), platform, viewer)


def pack_raw_events(
    events: Sequence[Mapping[str, Any]],
    *,
    platform: str,
    received_at_ms: int,
    partitions: int,
    timeout_ms: int,
) -> list[OutRecord]:
    """``pack_events`` for events not checked here (a partner producing straight to Kafka):
    the same keys, partitions and record layout; the stream app checks each event when it
    reads the record and sends the invalid ones to the dead-letter topic. A ``platform``
    field is dropped, as ingest drops it (the record names the platform)."""
    keys = [raw_partition_key(event, platform) for event in events]
    docs = [{k: v for k, v in event.items() if k != "platform"} for event in events]
    return _pack(keys, docs, encode_raw_batch, platform, received_at_ms, partitions, timeout_ms)


Encoder = Callable[..., bytes]
"""How a group of events becomes a record value: ``encode(platform, received_at, docs,
timeout_ms=...)``."""


def _pack(
    keys: list[bytes],
    docs: Sequence[Any],
    encode: Encoder,
    platform: str,
    received_at_ms: int,
    partitions: int,
    timeout_ms: int,
) -> list[OutRecord]:
    groups: dict[int, tuple[list[bytes], list[Any]]] = {}
    for key, partition, doc in zip(keys, partitions_for(keys, partitions), docs, strict=True):
        group = groups.get(partition)
        if group is None:
            groups[partition] = ([key], [doc])
        else:
            group[0].append(key)
            group[1].append(doc)
    records: list[OutRecord] = []
    for partition, (group_keys, group_docs) in sorted(groups.items()):
        records.extend(
            _encode(partition, group_keys, group_docs, encode, platform, received_at_ms, timeout_ms)
        )
    return records


def _encode(
    partition: int,
    keys: list[bytes],
    docs: list[Any],
    encode: Encoder,
    platform: str,
    received_at_ms: int,
    timeout_ms: int,
) -> list[OutRecord]:
    value = encode(platform, received_at_ms, docs, timeout_ms=timeout_ms)
    if len(value) <= MAX_RECORD_BYTES or len(docs) == 1:
        return [OutRecord(partition, keys[0], value, len(docs))]
    half = len(docs) // 2
    rest = (encode, platform, received_at_ms, timeout_ms)
    return _encode(partition, keys[:half], docs[:half], *rest) + _encode(
        partition, keys[half:], docs[half:], *rest
    )
