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

    Kept compact because a large evening holds millions of them: start and leave times are
    stored in ``array('i')`` as milliseconds relative to ``base`` (the time of the first event
    seen), 4 bytes each; a session whose times stray more than ~24 days from its base is
    widened to ``array('q')`` of absolute times (``base`` 0), so the times stay exact.
    """

    __slots__ = ("base", "first", "leaves", "ranges", "starts", "timeout_of")

    def __init__(self, first: int) -> None:
        self.first = first
        """Time of the session's earliest event of any type."""
        self.base = first
        """The instant ``starts`` and ``leaves`` are relative to."""
        self.starts: array[int] = array("i")
        self.leaves: array[int] | None = None
        self.timeout_of: dict[int, int] | None = None
        """Timeouts of starts (absolute ms) accepted under a non-default timeout."""
        self.ranges: list[Range] = []
        """The whole seconds the session is online (kept in sync by ``add``)."""

    def start_times(self) -> list[int]:
        """The distinct join/heartbeat instants, sorted (absolute ms)."""
        base = self.base
        return [h + base for h in self.starts]

    def leave_times(self) -> list[int]:
        """The distinct leave instants, sorted (absolute ms)."""
        base = self.base
        return [t + base for t in self.leaves or ()]

    def add(
        self, kind: str, ts: int, timeout_ms: int, default_timeout_ms: int
    ) -> list[tuple[int, int]]:
        """Add one event; return how concurrency changes: ``(second, delta)`` points.

        ``timeout_ms`` is the timeout the event was accepted under, ``default_timeout_ms``
        the one most of the partner's events carry (only exceptions are stored).
        """
        changes: dict[int, int] = {}
        self.add_into(kind, ts, timeout_ms, default_timeout_ms, changes)
        return sorted((s, d) for s, d in changes.items() if d)

    def add_into(
        self,
        kind: str,
        ts: int,
        timeout_ms: int,
        default_timeout_ms: int,
        changes: dict[int, int],
    ) -> None:
        """Add one event, adding how concurrency changes per second into ``changes``."""
        if ts < self.first:
            self.first = ts
        starts = self.starts
        rel = ts - self.base
        if (
            kind != "leave"
            and timeout_ms == default_timeout_ms
            and (not starts or rel > starts[-1])
            and (self.leaves is None or not self.leaves or rel > self.leaves[-1])
            and -(2**31) <= rel < 2**31
        ):
            # In-order fast path (the common heartbeat): the newest start, after every
            # leave, only adds its own interval [ts, ts + timeout).
            starts.append(rel)
            self._append_interval(ts, timeout_ms, changes)
            return
        try:
            if kind == "leave":
                self._add_leave(ts, default_timeout_ms, changes)
            else:
                self._add_start(ts, timeout_ms, default_timeout_ms, changes)
        except OverflowError:
            # Too far from ``base`` for 4-byte offsets: switch to absolute 8-byte times.
            self._widen()
            self.add_into(kind, ts, timeout_ms, default_timeout_ms, changes)

    def _append_interval(self, h: int, timeout_ms: int, changes: dict[int, int]) -> None:
        """Add the online seconds of a start that is newer than every start and leave."""
        start, end = -(-h // 1000), -(-(h + timeout_ms) // 1000)
        if start >= end:
            return
        ranges = self.ranges
        if ranges:
            last_start, last_end = ranges[-1]
            if start <= last_end:
                if end > last_end:
                    ranges[-1] = (last_start, end)
                    changes[last_end] = changes.get(last_end, 0) + 1
                    changes[end] = changes.get(end, 0) - 1
                return
        ranges.append((start, end))
        changes[start] = changes.get(start, 0) + 1
        changes[end] = changes.get(end, 0) - 1

    def _widen(self) -> None:
        base = self.base
        self.starts = array("q", [h + base for h in self.starts])
        if self.leaves is not None:
            self.leaves = array("q", [t + base for t in self.leaves])
        self.base = 0

    def _add_start(
        self, h: int, timeout_ms: int, default_timeout_ms: int, changes: dict[int, int]
    ) -> None:
        starts = self.starts
        rel = h - self.base
        n = len(starts)
        leaves = self.leaves
        if (not n or rel > starts[-1]) and (not leaves or rel > leaves[-1]):
            # In-order fast path: the newest start, after every leave, only adds its own
            # interval [h, h + timeout).
            starts.append(rel)
            if timeout_ms != default_timeout_ms:
                self._set_timeout(h, timeout_ms, default_timeout_ms)
            self._append_interval(h, timeout_ms, changes)
            return
        i = bisect_left(starts, rel)
        if i < n and starts[i] == rel:
            if timeout_ms <= self._timeout(h, default_timeout_ms):
                return
            # The same start under a longer timeout: the longer one is the larger set.
            self._set_timeout(h, timeout_ms, default_timeout_ms)
        else:
            starts.insert(i, rel)
            if timeout_ms != default_timeout_ms:
                self._set_timeout(h, timeout_ms, default_timeout_ms)
        # A start only ever adds its own interval [h, min(h + timeout, first leave >= h))
        # to the online set; the other starts' intervals do not depend on it.
        end = h + timeout_ms
        if leaves:
            j = bisect_left(leaves, rel)
            if j < len(leaves) and leaves[j] + self.base < end:
                end = leaves[j] + self.base
        if end > h:
            self._union(-(-h // 1000), -(-end // 1000), changes)

    def _union(self, start: int, end: int, changes: dict[int, int]) -> None:
        """Add the seconds ``[start, end)`` to the online ranges; count the newly online ones."""
        if start >= end:
            return
        ranges = self.ranges
        # Ranges before ``lo`` end before ``start``; from ``hi`` on they start after ``end``
        # (touching ranges merge, as in ``merge_ranges``). A session has few ranges.
        lo = len(ranges)
        while lo and ranges[lo - 1][1] >= start:
            lo -= 1
        hi = lo
        covered = start
        new_start, new_end = start, end
        while hi < len(ranges) and ranges[hi][0] <= end:
            r_start, r_end = ranges[hi]
            if r_start > covered:
                changes[covered] = changes.get(covered, 0) + 1
                changes[r_start] = changes.get(r_start, 0) - 1
            covered = max(covered, r_end)
            new_start = min(new_start, r_start)
            new_end = max(new_end, r_end)
            hi += 1
        if covered < end:
            changes[covered] = changes.get(covered, 0) + 1
            changes[end] = changes.get(end, 0) - 1
        ranges[lo:hi] = [(new_start, new_end)]

    def _add_leave(self, leave: int, default_timeout_ms: int, changes: dict[int, int]) -> None:
        if self.leaves is None:
            self.leaves = array(self.starts.typecode)
        leaves = self.leaves
        rel = leave - self.base
        i = bisect_left(leaves, rel)
        if i < len(leaves) and leaves[i] == rel:
            return
        leaves.insert(i, rel)
        starts = self.starts
        if i == len(leaves) - 1 and (not starts or rel >= starts[-1]):
            # In-order fast path: a leave after every start cuts the online set at it.
            cut = -(-leave // 1000)
            kept: list[Range] = []
            for start, end in self.ranges:
                if start >= cut:
                    changes[start] = changes.get(start, 0) - 1
                    changes[end] = changes.get(end, 0) + 1
                elif end > cut:
                    kept.append((start, cut))
                    changes[cut] = changes.get(cut, 0) - 1
                    changes[end] = changes.get(end, 0) + 1
                else:
                    kept.append((start, end))
            self.ranges = kept
            return
        self._recompute(default_timeout_ms, changes)

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

    def _recompute(self, default_timeout_ms: int, changes: dict[int, int]) -> None:
        old = self.ranges
        new = online_ranges(
            self.start_times(), self.leave_times(), self.timeout_of, default_timeout_ms
        )
        self.ranges = new
        for start, end in old:
            changes[start] = changes.get(start, 0) - 1
            changes[end] = changes.get(end, 0) + 1
        for start, end in new:
            changes[start] = changes.get(start, 0) + 1
            changes[end] = changes.get(end, 0) - 1
