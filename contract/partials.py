"""The partials record: one partition's per-second count changes of a partner in one minute.

Every partition of the events topic publishes, per (stream, partner) and per minute, the
*changes* of its numbers at each whole second: ``dc`` (concurrent sessions starting minus
ending), ``dv`` (sessions first seen) and ``du`` (viewers first seen). The topic is compacted
under ``chunk_key``: the newest chunk per (stream, partner, partition, minute) is the truth.
Merging them into series is ``contract.series``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from contract.keys import join_key, split_key

__all__ = [
    "Chunk",
    "Diff",
    "chunk_from_record",
    "chunk_key",
    "decode_chunk",
    "encode_chunk",
    "parse_chunk_key",
]

Diff = tuple[int, int, int]
"""The changes (concurrent, views, uniques) at one second."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One partition's changes for one (stream, partner) within one minute."""

    stream: str
    platform: str
    partition: int
    minute: int
    seconds: Mapping[int, Diff]


def chunk_key(stream: str, platform: str, partition: int, minute: int) -> bytes:
    """The compacted-topic key of a chunk: the newest chunk per key is the truth."""
    return join_key(stream, platform, partition, minute)


def parse_chunk_key(key: bytes | None) -> tuple[str, str, int, int]:
    """(stream, partner, partition, minute) of a partials key; ``ValueError`` if malformed."""
    stream, platform, partition, minute = split_key(key, 4, "partials")
    return stream, platform, int(partition), int(minute)


def encode_chunk(chunk: Chunk) -> bytes:
    """Serialise a chunk (seconds as epoch seconds)."""
    return orjson.dumps(
        {
            "stream": chunk.stream,
            "platform": chunk.platform,
            "partition": chunk.partition,
            "minute": chunk.minute,
            "seconds": {str(s): list(d) for s, d in sorted(chunk.seconds.items())},
        }
    )


def decode_chunk(value: bytes) -> Chunk:
    """Parse a chunk written by ``encode_chunk``."""
    doc: dict[str, Any] = orjson.loads(value)
    seconds = {int(s): (int(d[0]), int(d[1]), int(d[2])) for s, d in doc["seconds"].items()}
    return Chunk(
        stream=str(doc["stream"]),
        platform=str(doc["platform"]),
        partition=int(doc["partition"]),
        minute=int(doc["minute"]),
        seconds=seconds,
    )


def chunk_from_record(key: bytes | None, value: bytes | None) -> Chunk:
    """A partials record as a chunk; a tombstone becomes an empty chunk for its key."""
    if value is not None:
        return decode_chunk(value)
    stream, platform, partition, minute = parse_chunk_key(key)
    return Chunk(stream, platform, partition, minute, {})
