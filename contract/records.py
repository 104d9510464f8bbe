"""How events travel in Kafka: several events of one partner packed into one record.

A record is a *batch* (version 1): one partner's events with the time ingest received them
and the partner's session timeout. Ingest may put the batches of several requests that
share a partition into one *bundle* (version 2), a list of whole batches, so that the worker
pays its per-record cost once for all of them; each batch in a bundle reads exactly as it
would as a record of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import orjson

from contract.events import Event
from contract.keys import KEY_SEP
from contract.wire import JsonInt, WireEvent

__all__ = [
    "BUNDLE_VERSION",
    "DEFAULT_TIMEOUT_MS",
    "RECORD_VERSION",
    "EventBatch",
    "RecordError",
    "WireBatch",
    "bundle_size",
    "decode_batch",
    "decode_batches",
    "decode_wire_batch",
    "encode_batch",
    "encode_bundle",
    "encode_raw_batch",
    "encode_wire_batch",
    "partition_key",
    "split_bundle",
]

RECORD_VERSION = 1
BUNDLE_VERSION = 2


class RecordError(ValueError):
    """A record on the events topic that is not a valid packed batch."""


@dataclass(frozen=True, slots=True)
class EventBatch:
    """A decoded events-topic record: one partner's events, still to be re-checked."""

    platform: str
    received_at: int
    timeout_ms: int
    events: list[Any]


def partition_key(stream: str, platform: str, viewer_key: str) -> bytes:
    """The Kafka key of an event: one viewer's events always share a partition."""
    return f"{stream}{KEY_SEP}{platform}{KEY_SEP}{viewer_key}".encode()


DEFAULT_TIMEOUT_MS = 30_000


def encode_batch(
    platform: str,
    received_at: int,
    events: Iterable[Event],
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> bytes:
    """Pack one partner's events (already in the same partition) into one record value.

    ``timeout_ms`` is the partner's session timeout when the events were accepted; it
    travels with them so that replaying the log later gives the same numbers.
    """
    return encode_raw_batch(
        platform, received_at, [event.to_record() for event in events], timeout_ms=timeout_ms
    )


def encode_raw_batch(
    platform: str,
    received_at: int,
    events: Iterable[Mapping[str, Any]],
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> bytes:
    """Pack events as given, unchecked (a partner producing straight to Kafka); the stream
    app checks each one when it reads the record. Raises ``TypeError`` if one is not JSON."""
    listed = events if isinstance(events, list) else list(events)
    return orjson.dumps(_envelope(platform, received_at, timeout_ms, listed))


def _envelope(
    platform: str, received_at: int, timeout_ms: int, events: list[Any]
) -> dict[str, Any]:
    """The record value around a list of events: the record format, in one place."""
    return {
        "v": RECORD_VERSION,
        "platform": platform,
        "received_at": received_at,
        "timeout_ms": timeout_ms,
        "events": events,
    }


class WireBatch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A record as ingest writes it, typed: the record members and nothing else, every
    event fitting ``WireEvent``, every integer one orjson reads as an integer."""

    v: Literal[1]  # RECORD_VERSION
    platform: Annotated[str, msgspec.Meta(min_length=1)]
    received_at: JsonInt
    events: list[WireEvent]
    timeout_ms: Annotated[int, msgspec.Meta(gt=0, le=2**63 - 1)] = DEFAULT_TIMEOUT_MS


_WIRE_ENCODER = msgspec.json.Encoder()
_WIRE_DECODER = msgspec.json.Decoder(WireBatch)


def encode_wire_batch(
    platform: str,
    received_at: int,
    events: list[WireEvent],
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> bytes:
    """``encode_batch`` for events checked on ingest's fast path (without ``platform``):
    the same record, written by msgspec straight from the typed events."""
    return _WIRE_ENCODER.encode(_envelope(platform, received_at, timeout_ms, events))


def decode_wire_batch(value: bytes) -> WireBatch | None:
    """The record typed if it has exactly the shape ingest writes, else None.

    None says nothing about validity: a record from a partner producing straight to Kafka
    may be a good batch that only does not fit the schema (an RFC 3339 ``ts``, one invalid
    event); ``decode_batch`` and the full check per event decide about it.
    """
    try:
        return _WIRE_DECODER.decode(value)
    except (ValueError, RecursionError):  # msgspec.DecodeError, or UnicodeDecodeError
        return None


def decode_batch(value: bytes | None) -> EventBatch:
    """Unpack a record value; raise ``RecordError`` saying why it is not a batch."""
    if value is None:
        raise RecordError("record has no value")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"record is not JSON: {exc}") from None
    if not isinstance(doc, Mapping):
        raise RecordError("record is not a JSON object")
    if doc.get("v") != RECORD_VERSION:
        raise RecordError(f"record version must be {RECORD_VERSION}")
    platform = doc.get("platform")
    received_at = doc.get("received_at")
    events = doc.get("events")
    if not isinstance(platform, str) or not platform:
        raise RecordError("record platform must be a non-empty string")
    if isinstance(received_at, bool) or not isinstance(received_at, int):
        raise RecordError("record received_at must be integer epoch milliseconds")
    if not isinstance(events, list):
        raise RecordError("record events must be a list")
    timeout_ms = doc.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise RecordError("record timeout_ms must be a positive integer")
    return EventBatch(
        platform=platform, received_at=received_at, timeout_ms=timeout_ms, events=events
    )


_BUNDLE_HEAD = b'{"v":2,"batches":['  # BUNDLE_VERSION
_BUNDLE_TAIL = b"]}"


class _Bundle(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A bundle as ingest writes it: the batches kept as their raw bytes."""

    v: Literal[2]  # BUNDLE_VERSION
    batches: list[msgspec.Raw]


_BUNDLE_DECODER = msgspec.json.Decoder(_Bundle)


def bundle_size(sizes: Sequence[int]) -> int:
    """The length of the bundle of batch values of these lengths (``encode_bundle``)."""
    return len(_BUNDLE_HEAD) + len(_BUNDLE_TAIL) + sum(sizes) + max(len(sizes) - 1, 0)


def encode_bundle(batches: Sequence[bytes]) -> bytes:
    """Several batch record values (as ``encode_*batch`` wrote them) as one record value.

    The batches are copied in as they are, never decoded again.
    """
    if not batches:
        raise ValueError("a bundle holds at least one batch")
    return _BUNDLE_HEAD + b",".join(batches) + _BUNDLE_TAIL


def split_bundle(value: bytes) -> list[bytes] | None:
    """The batch values a bundle holds, in order; None if ``value`` is not a bundle.

    Each value is to be read as a record of its own (``decode_wire_batch``,
    ``decode_batch``); one of them being no batch says nothing about the others.
    """
    try:
        bundle = _BUNDLE_DECODER.decode(value)
    except (ValueError, RecursionError):  # msgspec.DecodeError, or UnicodeDecodeError
        return None
    return [bytes(raw) for raw in bundle.batches]


def decode_batches(value: bytes | None) -> list[EventBatch]:
    """The batches of a record, a bundle's or the record's own; ``RecordError`` if the
    record, or any batch of a bundle, is not a batch. For readers of the whole topic
    (tests, tools); the worker reads each batch of a bundle on its own."""
    parts = split_bundle(value) if value is not None else None
    if parts is None:
        return [decode_batch(value)]
    return [decode_batch(part) for part in parts]
