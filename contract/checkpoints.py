"""The checkpoints topic's records: keys of the pieces of a checkpoint, and its manifest.

A checkpoint of events partition ``p`` is written as pieces ``p<p>/<epoch>/<i>`` (snapshot
bytes) followed by the manifest ``p<p>/manifest`` naming them; writing and finding them is
``stream.checkpoints``.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

__all__ = [
    "MANIFEST_VERSION",
    "Manifest",
    "decode_manifest",
    "encode_manifest",
    "key_prefix",
    "manifest_key",
    "piece_key",
]

MANIFEST_VERSION = 1


def manifest_key(partition: int) -> bytes:
    """Key of the newest checkpoint manifest of an events partition."""
    return f"p{partition}/manifest".encode()


def piece_key(partition: int, epoch: str, index: int) -> bytes:
    """Key of one piece of a checkpoint."""
    return key_prefix(partition, epoch) + str(index).encode()


def key_prefix(partition: int, epoch: str | None = None) -> bytes:
    """What every key of an events partition's checkpoints starts with (its manifest's
    too); with ``epoch``, every key of that checkpoint's pieces."""
    return f"p{partition}/".encode() + (f"{epoch}/".encode() if epoch is not None else b"")


@dataclass(frozen=True)
class Manifest:
    """What a checkpoint holds and where its pieces are."""

    partition: int
    epoch: str
    offset: int
    """The events offset the checkpointed state ends before (its ``next_offset``)."""
    chunks: tuple[int, ...]
    """Offsets of the piece records in the checkpoints topic, in order."""
    size: int
    crc32: int
    written_at: int


def encode_manifest(manifest: Manifest) -> bytes:
    """The manifest record's value."""
    return orjson.dumps(
        {
            "v": MANIFEST_VERSION,
            "partition": manifest.partition,
            "epoch": manifest.epoch,
            "offset": manifest.offset,
            "chunks": list(manifest.chunks),
            "size": manifest.size,
            "crc32": manifest.crc32,
            "written_at": manifest.written_at,
        }
    )


def decode_manifest(value: bytes) -> Manifest:
    """Parse a manifest; ``ValueError`` says what is wrong with it."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"manifest is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") != MANIFEST_VERSION:
        raise ValueError(f"manifest version must be {MANIFEST_VERSION}")
    try:
        return Manifest(
            partition=int(doc["partition"]),
            epoch=str(doc["epoch"]),
            offset=int(doc["offset"]),
            chunks=tuple(int(o) for o in doc["chunks"]),
            size=int(doc["size"]),
            crc32=int(doc["crc32"]),
            written_at=int(doc["written_at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"manifest field missing or malformed: {exc!r}") from None
