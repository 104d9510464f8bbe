"""Entries that are seldom read again, held column-wise outside Python objects: pure code.

A dict of a million ``str`` keys costs ~64 B per key object and ~28 B of dict per entry
before its values. Most of what a partition holds by the end of an evening is read again
only if a late event or a reconnect comes for it: the sessions that went offline, the first
times of viewers seen long ago. ``ColdStore`` keeps such entries as bytes in two
append-only buffers (the ids, each followed by ``\\n``, and the values) with, per entry, the
end of its id and of its value and whether it is alive, and an index of the ids'
``hash`` sorted for lookups: 21 B of columns per entry (29 B once a buffer passes 4 GiB)
besides the id's and the value's own bytes.

``pop`` takes an entry out (the caller holds it as an object again); a later ``extend`` may
put it back as a new entry. The bytes of entries taken out stay until ``compact``, which
``extend`` runs once they outnumber the live ones. Ids are printable (``contract.events``),
so they never hold a ``\\n``.

Python's ``str`` hash differs from process to process, so the index is never written
anywhere: ``raw`` gives the ids and values for a checkpoint and ``from_raw`` rebuilds the
index from them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["ColdStore"]

Offsets = npt.NDArray[np.uint32] | npt.NDArray[np.int64]
_NARROW: Final = 2**32
"""Offsets below this are held in 4 bytes."""
_HASH_CHUNK: Final = 1 << 18
"""Ids decoded at a time when rebuilding the index (bounds the str objects alive at once)."""


def _ends(start: int, lengths: npt.NDArray[np.int64], old: Offsets) -> Offsets:
    """``old`` extended by the running ends of ``lengths`` after ``start``, kept narrow while
    every end fits 4 bytes."""
    ends = np.cumsum(lengths) + start
    if old.dtype == np.uint32 and (not len(ends) or int(ends[-1]) < _NARROW):
        narrow: npt.NDArray[np.uint32] = np.concatenate((old, ends.astype(np.uint32)))
        return narrow
    wide: npt.NDArray[np.int64] = np.concatenate((old.astype(np.int64), ends))
    return wide


def _starts(ends: Offsets) -> npt.NDArray[np.int64]:
    """Where each entry begins, from where each one ends."""
    out = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        out[0] = 0
        out[1:] = ends[:-1]
    return out


class ColdStore:
    """A mapping of ``str`` ids to ``bytes`` values held in flat buffers (module docstring)."""

    __slots__ = ("_alive", "_hashes", "_id_end", "_ids", "_live", "_order", "_value_end", "_values")

    def __init__(self) -> None:
        self._ids = bytearray()
        self._values = bytearray()
        self._id_end: Offsets = np.empty(0, dtype=np.uint32)
        """Per entry in the order they were added, the end of its id and ``\\n`` in ``_ids``."""
        self._value_end: Offsets = np.empty(0, dtype=np.uint32)
        self._alive: npt.NDArray[np.bool_] = np.empty(0, dtype=np.bool_)
        self._hashes: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        """Every entry's id hash, sorted (entries taken out included, until ``compact``)."""
        self._order: npt.NDArray[np.uint32] = np.empty(0, dtype=np.uint32)
        """The entry each of ``_hashes`` belongs to."""
        self._live = 0

    def __len__(self) -> int:
        return self._live

    @property
    def dead(self) -> int:
        """Entries taken out whose bytes are still held."""
        return len(self._alive) - self._live

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers and columns."""
        columns = (self._id_end, self._value_end, self._alive, self._hashes, self._order)
        return len(self._ids) + len(self._values) + sum(c.nbytes for c in columns)

    def _id_bytes(self, entry: int) -> bytearray:
        end = int(self._id_end[entry]) - 1
        start = int(self._id_end[entry - 1]) if entry else 0
        return self._ids[start:end]

    def _value(self, entry: int) -> bytes:
        end = int(self._value_end[entry])
        start = int(self._value_end[entry - 1]) if entry else 0
        return bytes(self._values[start:end])

    def _find(self, key: str) -> int:
        """The live entry holding ``key``, or -1."""
        hashes = self._hashes
        size = len(hashes)
        if not size:
            return -1
        wanted = hash(key)
        at = int(np.searchsorted(hashes, wanted))
        if at == size or hashes[at] != wanted:
            return -1
        encoded = key.encode()
        alive = self._alive
        while at < size and hashes[at] == wanted:
            entry = int(self._order[at])
            if alive[entry] and self._id_bytes(entry) == encoded:
                return entry
            at += 1
        return -1

    def get(self, key: str) -> bytes | None:
        """The value held for ``key``, or None."""
        entry = self._find(key)
        return None if entry < 0 else self._value(entry)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) >= 0

    def pop(self, key: str) -> bytes | None:
        """Take ``key`` out and return its value, or None if it is not held."""
        entry = self._find(key)
        if entry < 0:
            return None
        self._alive[entry] = False
        self._live -= 1
        return self._value(entry)

    def extend(self, keys: Sequence[str], values: Sequence[bytes]) -> None:
        """Add entries for keys that are not held (the caller's guarantee)."""
        count = len(keys)
        if count != len(values):
            raise ValueError("keys and values differ in number")
        if not count:
            return
        encoded = [key.encode() for key in keys]
        id_lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=count) + 1
        value_lengths = np.fromiter(map(len, values), dtype=np.int64, count=count)
        self._id_end = _ends(len(self._ids), id_lengths, self._id_end)
        self._value_end = _ends(len(self._values), value_lengths, self._value_end)
        self._ids += b"\n".join(encoded)
        self._ids += b"\n"
        self._values += b"".join(values)
        first = len(self._alive)
        self._alive = np.concatenate((self._alive, np.ones(count, dtype=np.bool_)))
        self._live += count
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=count)
        entries = np.arange(first, first + count, dtype=np.uint32)
        self._index(np.concatenate((self._hashes, hashes)), np.concatenate((self._order, entries)))
        if self.dead > self._live:
            self.compact()

    def _index(self, hashes: npt.NDArray[np.int64], order: npt.NDArray[np.uint32]) -> None:
        # A stable sort of two sorted runs is a merge (timsort), linear in the entries.
        by_hash = np.argsort(hashes, kind="stable")
        self._hashes = hashes[by_hash]
        self._order = order[by_hash]

    def compact(self) -> None:
        """Drop the bytes and index entries of every entry taken out."""
        if not self.dead:
            return
        alive = self._alive
        id_starts, value_starts = _starts(self._id_end), _starts(self._value_end)
        entry_hash = np.empty(len(alive), dtype=np.int64)
        entry_hash[self._order] = self._hashes
        # Runs of consecutive live entries are copied whole.
        edges = np.diff(np.concatenate(([0], alive.view(np.int8), [0])))
        run_starts, run_ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        ids = bytearray()
        values = bytearray()
        for first, stop in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
            ids += self._ids[int(id_starts[first]) : int(self._id_end[stop - 1])]
            values += self._values[int(value_starts[first]) : int(self._value_end[stop - 1])]
        keep = np.flatnonzero(alive)
        id_lengths = (self._id_end.astype(np.int64) - id_starts)[keep]
        value_lengths = (self._value_end.astype(np.int64) - value_starts)[keep]
        empty: Offsets = np.empty(0, dtype=np.uint32)
        self._ids, self._values = ids, values
        self._id_end = _ends(0, id_lengths, empty)
        self._value_end = _ends(0, value_lengths, empty)
        self._alive = np.ones(len(keep), dtype=np.bool_)
        hashes = entry_hash[keep]
        by_hash = np.argsort(hashes)
        self._hashes = hashes[by_hash]
        self._order = by_hash.astype(np.uint32)

    def items(self) -> Iterator[tuple[str, bytes]]:
        """Every live entry, in the order they were added."""
        for entry in np.flatnonzero(self._alive).tolist():
            yield self._id_bytes(entry).decode(), self._value(entry)

    def keys(self) -> Iterator[str]:
        """Every live id, in the order of ``items`` (without copying the values)."""
        for entry in np.flatnonzero(self._alive).tolist():
            yield self._id_bytes(entry).decode()

    def leading_i64(self) -> npt.NDArray[np.int64]:
        """The first 8 bytes of every live value as a native int64 (values shorter than that
        give 0), in the order of ``items``; read without one Python object per entry."""
        keep = np.flatnonzero(self._alive)
        starts = _starts(self._value_end)[keep]
        lengths = self._value_end.astype(np.int64)[keep] - starts
        out = np.zeros(len(keep), dtype=np.int64)
        if not len(keep) or not len(self._values):
            return out
        data = np.frombuffer(self._values, dtype=np.uint8)
        whole = np.flatnonzero(lengths >= 8)
        step = np.arange(8, dtype=np.int64)
        for lo in range(0, len(whole), _HASH_CHUNK):
            rows = whole[lo : lo + _HASH_CHUNK]
            gathered = data[starts[rows][:, None] + step]
            out[rows] = np.ascontiguousarray(gathered).view(np.int64).ravel()
        del data  # the bytearray cannot grow while a view of it is alive
        return out

    def keys_at(self, positions: npt.NDArray[np.intp]) -> list[str]:
        """The ids of the live entries at ``positions`` in the order of ``items``."""
        entries = np.flatnonzero(self._alive)[positions]
        return [self._id_bytes(entry).decode() for entry in entries.tolist()]

    def raw(self) -> tuple[int, memoryview, memoryview, npt.NDArray[np.int64]]:
        """The live entries for a checkpoint: their number, their ids joined by ``\\n``, their
        values concatenated, and each value's length (``compact`` runs first).

        The ids and values are views of the store's buffers, not copies (a checkpoint of a
        million cold entries would otherwise hold them twice more): release them before the
        store next changes, which refuses to grow its buffers while a view is alive.
        """
        self.compact()
        lengths = np.diff(self._value_end.astype(np.int64), prepend=0).astype(np.int64)
        ids = memoryview(self._ids)[: max(len(self._ids) - 1, 0)]
        return self._live, ids, memoryview(self._values), lengths

    @classmethod
    def from_raw(cls, ids: bytes, values: bytes, lengths: npt.NDArray[np.int64]) -> ColdStore:
        """A store of what ``raw`` gave (ids joined by ``\\n``, values, their lengths).

        Raises ValueError if the parts do not fit together.
        """
        store = cls()
        count = len(lengths)
        if not count:
            if ids or values:
                raise ValueError("ids or values without entries")
            return store
        if int(lengths.min()) < 0 or int(lengths.sum()) != len(values):
            raise ValueError("value lengths do not add up to the values")
        store._ids = bytearray(ids)
        store._ids += b"\n"
        newline = np.frombuffer(store._ids, dtype=np.uint8) == ord("\n")
        ends = np.flatnonzero(newline).astype(np.int64) + 1
        del newline
        if len(ends) != count:
            raise ValueError("the number of ids differs from the number of values")
        empty: Offsets = np.empty(0, dtype=np.uint32)
        store._id_end = _ends(0, np.diff(ends, prepend=0), empty)
        store._value_end = _ends(0, lengths.astype(np.int64), empty)
        store._values = bytearray(values)
        store._alive = np.ones(count, dtype=np.bool_)
        store._live = count
        hashes = np.empty(count, dtype=np.int64)
        starts = _starts(store._id_end)
        for lo in range(0, count, _HASH_CHUNK):
            hi = min(lo + _HASH_CHUNK, count)
            text = bytes(store._ids[int(starts[lo]) : int(store._id_end[hi - 1]) - 1]).decode()
            hashes[lo:hi] = np.fromiter(map(hash, text.split("\n")), dtype=np.int64, count=hi - lo)
        store._index(hashes, np.arange(count, dtype=np.uint32))
        return store
