"""The partials chunks and their merge, as the worker's modules import them.

The record, its key and the merge are ``contract.partials`` and ``contract.series``: the
dashboard reads the same format, so it is defined there once.
"""

from __future__ import annotations

from contract.partials import Chunk, chunk_key, decode_chunk, encode_chunk
from contract.series import Numbers, PlatformDiffs, Steps, sum_steps

__all__ = [
    "Chunk",
    "Numbers",
    "PlatformDiffs",
    "Steps",
    "chunk_key",
    "decode_chunk",
    "encode_chunk",
    "sum_steps",
]
