"""When one viewing session is online: the definition in docs/metrics.md, as pure code.

A session is online at instant t if it has a join or heartbeat at some h with
h <= t < h + timeout and no leave at some l with h <= l <= t. The online set is a union
of intervals ``[h, min(h + timeout, first leave >= h))``. What the counts need is the set of
*whole seconds* s (epoch seconds) with ``1000 * s`` online; since taking whole seconds
commutes with unions, a session is kept as merged half-open ranges of whole seconds.

Everything here is a set function of the events: adding an event that is already there
changes nothing, and the result does not depend on the order events were added in.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence

__all__ = ["Range", "Session", "ceil_second", "merge_ranges", "online_ranges"]

Range = tuple[int, int]
"""Half-open range of whole epoch seconds ``[start, end)``."""


def ceil_second(ms: int) -> int:
    """The first whole second at or after an instant in milliseconds."""
    return -(-ms // 1000)


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Sort and merge overlapping or touching ranges; drop empty ones."""
    merged: list[Range] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def online_ranges(
    starts: Sequence[int],
    leaves: Sequence[int],
    timeout_of: dict[int, int] | None,
    timeout_ms: int,
) -> list[Range]:
    """The whole seconds a session is online, from its sorted start and leave times.

    ``timeout_of`` holds the timeout of starts whose timeout differs from ``timeout_ms``.
    """
    ranges: list[Range] = []
    for h in starts:
        timeout = timeout_ms if timeout_of is None else timeout_of.get(h, timeout_ms)
        end = h + timeout
        i = bisect_left(leaves, h)
        if i < len(leaves) and leaves[i] < end:
            end = leaves[i]
        if end > h:
            ranges.append((ceil_second(h), ceil_second(end)))
    return merge_ranges(ranges)


class Session:
    """The state of one session: its distinct start and leave times and what they imply.

    Kept compact (one object, two arrays) because a large evening holds millions of them.
    """

    __slots__ = ("first", "leaves", "ranges", "starts", "timeout_of")

    def __init__(self, first: int) -> None:
        self.first = first
        """Time of the session's earliest event of any type."""
        self.starts: array[int] = array("q")
        self.leaves: array[int] | None = None
        self.timeout_of: dict[int, int] | None = None
        self.ranges: list[Range] = []
        """The whole seconds the session is online (kept in sync by ``add``)."""

    def add(
        self, kind: str, ts: int, timeout_ms: int, default_timeout_ms: int
    ) -> list[tuple[int, int]]:
        """Add one event; return how concurrency changes: ``(second, +1/-1)`` points.

        ``timeout_ms`` is the timeout the event was accepted under, ``default_timeout_ms``
        the one most of the partner's events carry (only exceptions are stored).
        """
        if ts < self.first:
            self.first = ts
        if kind == "leave":
            return self._add_leave(ts, default_timeout_ms)
        return self._add_start(ts, timeout_ms, default_timeout_ms)

    def _add_start(self, h: int, timeout_ms: int, default_timeout_ms: int) -> list[tuple[int, int]]:
        starts = self.starts
        i = bisect_left(starts, h)
        if i < len(starts) and starts[i] == h:
            if timeout_ms <= self._timeout(h, default_timeout_ms):
                return []
            # The same start under a longer timeout: the longer one is the larger set.
            self._set_timeout(h, timeout_ms, default_timeout_ms)
            return self._recompute(default_timeout_ms)
        starts.insert(i, h)
        if timeout_ms != default_timeout_ms:
            self._set_timeout(h, timeout_ms, default_timeout_ms)
        leaves = self.leaves
        if i == len(starts) - 1 and (not leaves or h > leaves[-1]):
            # In-order fast path: the newest start, after every leave, only adds its own
            # interval [h, h + timeout).
            start, end = ceil_second(h), ceil_second(h + timeout_ms)
            ranges = self.ranges
            if start >= end:
                return []
            if ranges and start <= ranges[-1][1]:
                last_start, last_end = ranges[-1]
                if end <= last_end:
                    return []
                ranges[-1] = (last_start, end)
                return [(last_end, 1), (end, -1)]
            ranges.append((start, end))
            return [(start, 1), (end, -1)]
        return self._recompute(default_timeout_ms)

    def _add_leave(self, leave: int, default_timeout_ms: int) -> list[tuple[int, int]]:
        if self.leaves is None:
            self.leaves = array("q")
        leaves = self.leaves
        i = bisect_left(leaves, leave)
        if i < len(leaves) and leaves[i] == leave:
            return []
        leaves.insert(i, leave)
        starts = self.starts
        if i == len(leaves) - 1 and (not starts or leave >= starts[-1]):
            # In-order fast path: a leave after every start cuts the online set at it.
            cut = ceil_second(leave)
            kept: list[Range] = []
            changes: list[tuple[int, int]] = []
            for start, end in self.ranges:
                if start >= cut:
                    changes += [(start, -1), (end, 1)]
                elif end > cut:
                    kept.append((start, cut))
                    changes += [(cut, -1), (end, 1)]
                else:
                    kept.append((start, end))
            self.ranges = kept
            return changes
        return self._recompute(default_timeout_ms)

    def _timeout(self, h: int, default_timeout_ms: int) -> int:
        if self.timeout_of is None:
            return default_timeout_ms
        return self.timeout_of.get(h, default_timeout_ms)

    def _set_timeout(self, h: int, timeout_ms: int, default_timeout_ms: int) -> None:
        if timeout_ms == default_timeout_ms:
            if self.timeout_of is not None:
                self.timeout_of.pop(h, None)
            return
        if self.timeout_of is None:
            self.timeout_of = {}
        self.timeout_of[h] = timeout_ms

    def _recompute(self, default_timeout_ms: int) -> list[tuple[int, int]]:
        old = self.ranges
        new = online_ranges(self.starts, self.leaves or (), self.timeout_of, default_timeout_ms)
        self.ranges = new
        changes: list[tuple[int, int]] = []
        for start, end in old:
            changes += [(start, -1), (end, 1)]
        for start, end in new:
            changes += [(start, 1), (end, -1)]
        return changes
