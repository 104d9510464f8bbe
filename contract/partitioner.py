"""kafka-python's default partitioner (murmur2), exact, for many keys at once.

kafka-python hashes in pure Python, byte by byte (~5 µs a key); a 500-event request would
spend milliseconds there. Here the keys of a request are hashed together with numpy: keys
of equal length form a matrix and each 4-byte word is mixed for all of them in one step.
The result equals ``kafka.partitioner.default.murmur2`` for every input (a property test
checks it), so a record lands exactly where kafka-python would have put its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["murmur2", "murmur2_many", "partition_for", "partitions_for"]

_SEED = 0x9747B28C
_M = np.uint32(0x5BD1E995)
_SMALL = 8
"""Below this many keys a request is hashed key by key (through a cache)."""

U32 = npt.NDArray[np.uint32]


def _finish(h: U32, matrix: npt.NDArray[np.uint8], length: int) -> U32:
    base = length & ~3
    extra = length % 4
    if extra >= 3:
        h ^= matrix[:, base + 2].astype(np.uint32) << np.uint32(16)
    if extra >= 2:
        h ^= matrix[:, base + 1].astype(np.uint32) << np.uint32(8)
    if extra >= 1:
        h ^= matrix[:, base].astype(np.uint32)
        h *= _M
    h ^= h >> np.uint32(13)
    h *= _M
    h ^= h >> np.uint32(15)
    return h


def _hash_equal_length(keys: Sequence[bytes], length: int) -> U32:
    count = len(keys)
    matrix = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(count, length)
    h = np.full(count, (_SEED ^ length) & 0xFFFFFFFF, dtype=np.uint32)
    words = length // 4
    if words:
        blocks = np.ascontiguousarray(matrix[:, : words * 4]).view("<u4").astype(np.uint32)
        for column in range(words):
            k = blocks[:, column] * _M
            k ^= k >> np.uint32(24)
            k *= _M
            h *= _M
            h ^= k
    return _finish(h, matrix, length)


def _murmur2_array(keys: Sequence[bytes]) -> U32:
    by_length: dict[int, list[int]] = {}
    for index, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(index)
    out = np.empty(len(keys), dtype=np.uint32)
    for length, indexes in by_length.items():
        out[indexes] = _hash_equal_length([keys[i] for i in indexes], length)
    return out


def murmur2_many(keys: Sequence[bytes]) -> list[int]:
    """``murmur2(key)`` for every key, in order."""
    return [int(h) for h in _murmur2_array(keys)]


def murmur2(key: bytes) -> int:
    """kafka-python's murmur2 of one key."""
    return murmur2_many([key])[0]


@lru_cache(maxsize=1 << 16)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition kafka-python's default partitioner picks for ``key``."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def partitions_for(keys: Sequence[bytes], partitions: int) -> list[int]:
    """``partition_for`` of every key, hashing them together."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    if len(keys) < _SMALL:
        return [partition_for(key, partitions) for key in keys]
    if partitions == 1:
        return [0] * len(keys)
    hashed = _murmur2_array(keys) & np.uint32(0x7FFFFFFF)
    chosen: list[int] = (hashed % np.uint32(partitions)).tolist()
    return chosen
