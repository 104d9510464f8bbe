"""A partition's state as compact bytes and back: the payload of a checkpoint. Pure code.

The layout is a small JSON header followed by flat binary sections (``array.tobytes``), so
that a million sessions serialise in a few seconds of CPU and a few bytes per stored time:

    MAGIC, u32 header length, header JSON, then per (stream, partner) the sections the
    header lists, each as u64 length + bytes.

Sessions held as objects are stored column-wise: ids joined by ``\\n`` (ids are printable,
so they never contain one), their first/base times, start/leave/range counts, and the start
and leave offsets of all sessions concatenated. Packed sessions (``stream.frozen``) are
stored as they are held: their ids, the packed bytes concatenated and each one's length, so
writing and reading them costs a copy. Packed bytes are in the writer's byte order; a
snapshot written on a machine of the other byte order is refused when it holds any (the
partition is then rebuilt from the events topic). Version 1 snapshots, which hold no packed
sessions, are read as before.

Restoring gives a state whose numbers and future behaviour are identical to the original's;
all of its minutes are marked to be republished.
"""

from __future__ import annotations

import gc
import struct
import sys
from array import array
from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from stream.cold_store import ColdStore
from stream.partition_state import DEFAULT_FREEZING, Freezing, PartitionState, PlatformState
from stream.presence import Session

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["SNAPSHOT_VERSION", "SnapshotError", "dump_state", "load_state", "split_chunks"]

SNAPSHOT_VERSION = 2
_READS = (1, 2)
_MAGIC = b"LTSNAP1\n"
_SECTIONS = (
    "session_ids",
    "firsts",
    "bases",
    "wide",
    "n_starts",
    "n_leaves",
    "n_ranges",
    "starts32",
    "leaves32",
    "starts64",
    "leaves64",
    "ranges",
    "viewer_ids",
    "viewer_firsts",
    "cells",
)
_PACKED_SECTIONS = ("packed_ids", "packed", "packed_sizes")


class SnapshotError(ValueError):
    """Bytes that are not a snapshot this code can read."""


def _array(typecode: str, data: bytes, swap: bool) -> array[int]:
    out = array(typecode)
    out.frombytes(data)
    if swap:
        out.byteswap()
    return out


def _dump_platform(state: PlatformState) -> tuple[dict[str, Any], list[tuple[Buffer, ...]]]:
    # Column by column with comprehensions and bytes joins: several times faster than one
    # loop appending to many arrays, which matters for a million sessions.
    ids: list[str] = []
    sessions: list[Session] = []
    packed_ids: list[str] = []
    packed: list[bytes] = []
    for session_id, held in state.sessions.items():
        if isinstance(held, bytes):
            packed_ids.append(session_id)
            packed.append(held)
        else:
            ids.append(session_id)
            sessions.append(held)
    firsts = array("q", [s.first for s in sessions])
    bases = array("q", [s.base for s in sessions])
    wide_flags = [s.starts.typecode == "q" for s in sessions]
    wide = array("b", wide_flags)
    n_starts = array("I", [len(s.starts) for s in sessions])
    n_leaves = array("I", [len(s.leaves) if s.leaves else 0 for s in sessions])
    n_ranges = array("I", [len(s.ranges) for s in sessions])
    narrow_sessions = [s for s in sessions if s.starts.typecode != "q"] if any(wide) else sessions
    wide_sessions = [s for s in sessions if s.starts.typecode == "q"] if any(wide) else []
    starts32 = b"".join([s.starts.tobytes() for s in narrow_sessions])
    leaves32 = b"".join([s.leaves.tobytes() for s in narrow_sessions if s.leaves])
    starts64 = b"".join([s.starts.tobytes() for s in wide_sessions])
    leaves64 = b"".join([s.leaves.tobytes() for s in wide_sessions if s.leaves])
    ranges = array("q", chain.from_iterable(chain.from_iterable(s.ranges for s in sessions)))
    timeouts = [
        [index, h, t]
        for index, s in enumerate(sessions)
        if s.timeout_of
        for h, t in s.timeout_of.items()
    ]
    viewer_firsts = array("q", state.viewers.values())
    cold_viewers, cold_viewer_ids, cold_firsts, _ = state.cold_viewers.raw()
    cold_count, cold_ids, cold_packed, cold_sizes = state.cold_sessions.raw()
    cells = array("q")
    for minute in state.changes:
        seconds = state.session_cells(minute)
        # A minute whose changes went back to zero is kept (with one zero cell) until the
        # next drain has published it.
        for second, cell in (seconds or {60 * minute: (0, 0, 0)}).items():
            cells.extend((second, *cell))
    header = {
        "stream": state.stream,
        "platform": state.platform,
        "default_timeout_ms": state.default_timeout_ms,
        "sessions": len(ids),
        "viewers": len(viewer_firsts) + cold_viewers,
        "packed": len(packed_ids) + cold_count,
        "timeouts": timeouts,
        "reports": [[ts, *report] for ts, report in state.reports.items()],
        "last_event_ts": state.last_event_ts,
        "last_arrival": state.last_arrival,
        "events": state.events,
        "rejected": state.rejected,
    }
    # Each section is the parts it is made of, joined only once, into the whole snapshot.
    sections: list[tuple[Buffer, ...]] = [
        ("\n".join(ids).encode(),),
        (firsts,),
        (bases,),
        (wide,),
        (n_starts,),
        (n_leaves,),
        (n_ranges,),
        (starts32,),
        (leaves32,),
        (starts64,),
        (leaves64,),
        (ranges,),
        _joined("\n".join(state.viewers).encode(), cold_viewer_ids),
        (viewer_firsts, cold_firsts),
        (cells,),
        _joined("\n".join(packed_ids).encode(), cold_ids),
        (*packed, cold_packed),
        (array("I", [len(blob) for blob in packed]), cold_sizes.astype(np.uint32).tobytes()),
    ]
    return header, sections


def _joined(first: Buffer, second: Buffer) -> tuple[Buffer, ...]:
    """Two lists of ids, each joined by ``\n``, as the parts of one."""
    if _nbytes(first) and _nbytes(second):
        return (first, b"\n", second)
    return (first,) if _nbytes(first) else (second,)


def _nbytes(part: Buffer) -> int:
    """The bytes of a buffer (``len`` of an array counts its items)."""
    with memoryview(part) as view:
        return view.nbytes


def dump_state(state: PartitionState) -> bytes:
    """Serialise a partition's counting state (not its unpublished dead letters).

    Every session offline for the grace period is packed first, due or not: the sweep costs
    a fraction of the dump, and a stream whose event time has stopped (the evening is over)
    would otherwise keep its last sessions unpacked in memory and in every checkpoint.
    """
    for platform in state.platforms.values():
        platform.fold()
        if platform.last_event_ts is not None:
            platform.pack_offline(platform.last_event_ts)
    headers: list[dict[str, Any]] = []
    body: list[Buffer] = []
    for platform in state.platforms.values():
        header, sections = _dump_platform(platform)
        headers.append(header)
        for parts in sections:
            body.append(struct.pack("<Q", sum(map(_nbytes, parts))))
            body.extend(parts)
    top = orjson.dumps(
        {
            "version": SNAPSHOT_VERSION,
            "byteorder": sys.byteorder,
            "partition": state.partition,
            "next_offset": state.next_offset,
            "streams": sorted(state.known_streams),
            "platforms": headers,
        }
    )
    try:
        return b"".join([_MAGIC, struct.pack("<I", len(top)), top, *body])
    finally:  # the cold stores' views, so that they may grow again
        for part in body:
            if isinstance(part, memoryview):
                part.release()


def _sections(data: memoryview, pos: int) -> Iterator[bytes]:
    while True:
        if pos + 8 > len(data):
            raise SnapshotError("snapshot is truncated")
        (size,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        if pos + size > len(data):
            raise SnapshotError("snapshot is truncated")
        yield bytes(data[pos : pos + size])
        pos += size


def _ids(blob: bytes, count: int) -> list[str]:
    if count == 0:
        return []
    ids = blob.decode().split("\n")
    if len(ids) != count:
        raise SnapshotError("snapshot id list does not match its count")
    return ids


def _load_platform(
    header: dict[str, Any], raw: dict[str, bytes], swap: bool, freezing: Freezing
) -> PlatformState:
    state = PlatformState(
        str(header["stream"]),
        str(header["platform"]),
        int(header["default_timeout_ms"]),
        freezing,
    )
    count = int(header["sessions"])
    ids = _ids(raw["session_ids"], count)
    firsts = _array("q", raw["firsts"], swap)
    bases = _array("q", raw["bases"], swap)
    wide = array("b", raw["wide"])
    n_starts = _array("I", raw["n_starts"], swap)
    n_leaves = _array("I", raw["n_leaves"], swap)
    n_ranges = _array("I", raw["n_ranges"], swap)
    starts32 = _array("i", raw["starts32"], swap)
    leaves32 = _array("i", raw["leaves32"], swap)
    starts64 = _array("q", raw["starts64"], swap)
    leaves64 = _array("q", raw["leaves64"], swap)
    flat = _array("q", raw["ranges"], swap).tolist()
    pairs = list(zip(flat[0::2], flat[1::2], strict=True))
    if not len(firsts) == len(bases) == len(wide) == len(n_starts) == count:
        raise SnapshotError("snapshot session columns differ in length")
    objects: dict[str, Session] = {}
    restored = Session.restored
    s32 = l32 = s64 = l64 = r = 0
    for i, session_id in enumerate(ids):
        ns, nl, nr = n_starts[i], n_leaves[i], n_ranges[i]
        if wide[i]:
            starts = starts64[s64 : s64 + ns]
            s64 += ns
            leaves = leaves64[l64 : l64 + nl] if nl else None
            l64 += nl
        else:
            starts = starts32[s32 : s32 + ns]
            s32 += ns
            leaves = leaves32[l32 : l32 + nl] if nl else None
            l32 += nl
        objects[session_id] = restored(firsts[i], bases[i], starts, leaves, pairs[r : r + nr])
        r += nr
    if s32 != len(starts32) or l32 != len(leaves32) or s64 != len(starts64) or r != len(pairs):
        raise SnapshotError("snapshot session arrays do not add up")
    for index, h, timeout in header["timeouts"]:
        session = objects[ids[index]]
        if session.timeout_of is None:
            session.timeout_of = {}
        session.timeout_of[int(h)] = int(timeout)
        session.longest = max(session.longest, int(timeout))
    state.unpacked = set(objects)
    # The same dict, widened to hold packed sessions (no copy of millions of entries).
    state.sessions = cast(dict[str, Session | bytes], objects)
    # Packed sessions and viewers go to the cold stores: an event brings one back.
    state.cold_sessions = _load_packed(header, raw, swap)
    viewer_firsts = _array("q", raw["viewer_firsts"], swap)
    state.cold_viewers = _cold(
        raw["viewer_ids"],
        int(header["viewers"]),
        viewer_firsts.tobytes(),
        np.full(len(viewer_firsts), 8, dtype=np.int64),
    )
    cells = _array("q", raw["cells"], swap).tolist()
    for k in range(0, len(cells), 4):
        for index in range(3):
            state.add_change(cells[k], index, cells[k + 1 + index])
    for ts, concurrent, cumulative, uniques in header["reports"]:
        state.reports[int(ts)] = (concurrent, cumulative, uniques)
    state.forget_published_reports()
    state.last_event_ts = header["last_event_ts"]
    state.last_arrival = header["last_arrival"]
    state.events = int(header["events"])
    state.rejected = int(header["rejected"])
    return state


def _cold(ids: bytes, count: int, values: bytes, lengths: npt.NDArray[np.int64]) -> ColdStore:
    if len(lengths) != count:
        raise SnapshotError("snapshot id list does not match its count")
    try:
        return ColdStore.from_raw(ids, values, lengths)
    except ValueError as exc:
        raise SnapshotError(f"snapshot entries do not add up: {exc}") from None


def _load_packed(header: dict[str, Any], raw: dict[str, bytes], swap: bool) -> ColdStore:
    count = int(header.get("packed", 0))
    if not count:
        return ColdStore()
    if swap:
        raise SnapshotError("snapshot holds packed sessions of another byte order")
    sizes = np.frombuffer(raw["packed_sizes"], dtype=np.uint32).astype(np.int64)
    return _cold(raw["packed_ids"], count, raw["packed"], sizes)


def load_state(data: bytes, freezing: Freezing = DEFAULT_FREEZING) -> PartitionState:
    """Rebuild a partition state from ``dump_state``'s bytes, every minute marked dirty."""
    # Millions of new objects would trigger the cyclic GC over and over (none of them can
    # form a cycle), which makes loading several times slower.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_state(data, freezing)
    finally:
        if enabled:
            gc.enable()


def _load_state(data: bytes, freezing: Freezing) -> PartitionState:
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 4:
        raise SnapshotError("not a livetally snapshot")
    view = memoryview(data)
    (size,) = struct.unpack_from("<I", view, len(_MAGIC))
    start = len(_MAGIC) + 4
    try:
        top = orjson.loads(view[start : start + size])
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot header is not JSON: {exc}") from None
    if not isinstance(top, dict) or top.get("version") not in _READS:
        raise SnapshotError(f"snapshot version must be one of {_READS}")
    names = _SECTIONS if top["version"] == 1 else _SECTIONS + _PACKED_SECTIONS
    swap = top["byteorder"] != sys.byteorder
    state = PartitionState(int(top["partition"]), freezing)
    state.next_offset = int(top["next_offset"])
    state.known_streams.update(top["streams"])
    sections = _sections(view, start + size)
    try:
        for header in top["platforms"]:
            raw = {name: next(sections) for name in names}
            platform = _load_platform(header, raw, swap, freezing)
            state.platforms[(platform.stream, platform.platform)] = platform
    except (KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"snapshot is damaged: {exc!r}") from None
    state.mark_all_dirty()
    return state


def split_chunks(data: bytes, chunk_bytes: int) -> Iterator[bytes]:
    """Cut a snapshot into pieces of at most ``chunk_bytes`` (at least one piece), one at a
    time: a writer that sends each before taking the next holds one copy, not the whole."""
    if chunk_bytes <= 0:
        raise ValueError("chunk_bytes must be positive")
    for start in range(0, max(len(data), 1), chunk_bytes):
        yield data[start : start + chunk_bytes]
