"""Sessions that have gone offline, packed into one ``bytes`` each, and back: pure code.

A ``Session`` object costs several hundred bytes of Python objects (the object, its start
array, its list of range tuples and their integers). Most sessions of an evening are over:
their viewer left or stopped sending heartbeats, and no event will come for them unless it
is late or the viewer reconnects under the same session id. ``freeze`` packs such a session
into one ``bytes`` of ~64 bytes; ``thaw`` gives back a ``Session`` equal to it in every
field, so counting goes on exactly as if it had never been packed.

The layout, in native byte order (it never leaves the process; checkpoints have their own,
``stream.snapshot``)::

    first: i64, base - first: i32, n_starts: u16, n_leaves: u16, n_ranges: u16,
    starts (n_starts x i32, relative to base), leaves (n_leaves x i32, relative to base),
    ranges (2 x n_ranges x i32, whole seconds relative to base // 1000)

Only the common shape is packed: 4-byte offsets (``Session.starts.typecode == "i"``), no
start under a non-default timeout, counts that fit 16 bits. Any other session stays an
object (``freeze`` answers None), which changes nothing but its size.
"""

from __future__ import annotations

import struct
from array import array
from typing import Final

from stream.presence import Range, Session, ceil_second

__all__ = ["end_second", "first_of", "freeze", "thaw", "unpack"]

_HEADER: Final = struct.Struct("=qiHHH")
_LIMIT: Final = 0xFFFF
_NARROW: Final = 2**31


def end_second(session: Session) -> int:
    """The whole second from which the session is offline for good, unless more events come:
    the end of its last online range, or its first event's second if it was never online."""
    ranges = session.ranges
    return ranges[-1][1] if ranges else ceil_second(session.first)


def freeze(session: Session) -> bytes | None:
    """The session packed into bytes, or None if its shape is not one that packs."""
    starts = session.starts
    if session.timeout_of is not None or starts.typecode != "i":
        return None
    leaves = session.leaves
    n_leaves = len(leaves) if leaves is not None else 0
    ranges = session.ranges
    if len(starts) > _LIMIT or n_leaves > _LIMIT or len(ranges) > _LIMIT:
        return None
    shift = session.base - session.first
    if not -_NARROW <= shift < _NARROW:
        return None
    base_second = session.base // 1000
    try:
        packed_ranges = array("i", [second - base_second for r in ranges for second in r])
    except OverflowError:
        return None
    header = _HEADER.pack(session.first, shift, len(starts), n_leaves, len(ranges))
    tail = leaves.tobytes() if leaves is not None else b""
    return b"".join((header, starts.tobytes(), tail, packed_ranges.tobytes()))


def unpack(blob: bytes) -> tuple[int, int, array[int], array[int] | None, list[Range]]:
    """A packed session's first event, base, start and leave offsets, and online ranges."""
    first, shift, n_starts, n_leaves, n_ranges = _HEADER.unpack_from(blob)
    at = _HEADER.size
    starts = array("i", blob[at : at + 4 * n_starts])
    at += 4 * n_starts
    leaves = array("i", blob[at : at + 4 * n_leaves]) if n_leaves else None
    at += 4 * n_leaves
    flat = array("i", blob[at : at + 8 * n_ranges])
    base = first + shift
    base_second = base // 1000
    ranges = [(flat[k] + base_second, flat[k + 1] + base_second) for k in range(0, 2 * n_ranges, 2)]
    return first, base, starts, leaves, ranges


def thaw(blob: bytes) -> Session:
    """The ``Session`` that ``freeze`` packed, equal to it in every field."""
    return Session.restored(*unpack(blob))


def first_of(blob: bytes) -> int:
    """A packed session's first event time, without unpacking the rest."""
    first: int = _HEADER.unpack_from(blob)[0]
    return first
