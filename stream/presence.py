"""When one viewing session is online: the definition in docs/metrics.md, as pure code.

A session is online at instant t if it has a join or heartbeat at some h with
h <= t < h + timeout and no leave at some l with h <= l <= t. The online set is a union
of intervals ``[h, min(h + timeout, first leave >= h))``. What the counts need is the set of
*whole seconds* s (epoch seconds) with ``1000 * s`` online; since taking whole seconds
commutes with unions, a session is kept as merged half-open ranges of whole seconds.

Everything here is a set function of the events: adding an event that is already there
changes nothing, and the result does not depend on the order events were added in.

Only whole seconds are sampled, so within one *second group* (the instants with the same
``ceil_second``, the interval ``(1000(k-1), 1000k]``) only some instants can change a
number, whatever arrives later; a session keeps those (``Session`` folds the others away on
arrival):

- a start ``h1`` is covered by a start ``h2 >= h1`` of its group that reaches at least as
  far (``ceil_second(h2 + timeout2) >= ceil_second(h1 + timeout1)``): every whole second
  ``h1`` could make online is at or after ``h2``, and a leave that cuts such a second off
  from ``h2`` cuts it off from ``h1`` as well. With one timeout, only the latest start of a
  group stays;
- a leave only cuts whole seconds of its group or later, so the latest leave of a group cuts
  everything an earlier one of the group does;
- a start at or before a leave of its own group is never online at a whole second.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from operator import itemgetter

__all__ = ["Range", "Session", "ceil_second", "merge_ranges", "online_ranges"]

Range = tuple[int, int]
"""Half-open range of whole epoch seconds ``[start, end)``."""

_START = itemgetter(0)
_END = itemgetter(1)
_NARROW = 2**31
"""Offsets from ``base`` must lie in ``[-_NARROW, _NARROW)`` to fit ``array('i')``."""


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


def _bump(changes: dict[int, int], start: int, end: int, delta: int) -> None:
    """Count the seconds ``[start, end)`` as ``delta`` more sessions online."""
    if start < end:
        changes[start] = changes.get(start, 0) + delta
        changes[end] = changes.get(end, 0) - delta


class Session:
    """The state of one session: the start and leave times that matter, and what they imply.

    Kept compact because a large evening holds millions of them: start and leave times are
    stored in ``array('i')`` as milliseconds relative to ``base`` (the time of the first event
    seen), 4 bytes each; a session whose times stray more than ~24 days from its base is
    widened to ``array('q')`` of absolute times (``base`` 0), so the times stay exact.

    Instants that can never change a whole-second number are folded away on arrival (see
    the module docstring): per whole second it spans, a session holds at most one leave and
    one start per timeout in use. Every event then costs O(log n + k) for the k seconds it
    can change (plus moving the arrays' tails when it lands in the middle).
    """

    __slots__ = ("base", "first", "leaves", "longest", "ranges", "starts", "timeout_of")

    def __init__(self, first: int) -> None:
        self.first = first
        """Time of the session's earliest event of any type."""
        self.base = first
        """The instant ``starts`` and ``leaves`` are relative to."""
        self.starts: array[int] = array("i")
        self.leaves: array[int] | None = None
        self.timeout_of: dict[int, int] | None = None
        """Timeouts of starts (absolute ms) accepted under a non-default timeout."""
        self.longest = 0
        """At least the longest timeout in ``timeout_of``: how far back a leave can cut."""
        self.ranges: list[Range] = []
        """The whole seconds the session is online (kept in sync by ``add``)."""

    @classmethod
    def restored(
        cls,
        first: int,
        base: int,
        starts: array[int],
        leaves: array[int] | None,
        ranges: list[Range],
    ) -> Session:
        """A session from the fields it keeps (a checkpoint, a packed session), with no
        start under a non-default timeout; the caller adds those (``timeout_of``, ``longest``)."""
        session = cls.__new__(cls)
        session.first = first
        session.base = base
        session.starts = starts
        session.leaves = leaves
        session.timeout_of = None
        session.longest = 0
        session.ranges = ranges
        return session

    def start_times(self) -> list[int]:
        """The start instants kept, sorted (absolute ms)."""
        base = self.base
        return [h + base for h in self.starts]

    def leave_times(self) -> list[int]:
        """The leave instants kept, sorted (absolute ms)."""
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
        base = self.base
        rel = ts - base
        leaves = self.leaves
        last = starts[-1] if starts else None
        if (
            kind != "leave"
            and timeout_ms == default_timeout_ms
            and (last is None or rel > last)
            and (not leaves or rel > leaves[-1])
            and (-(2**31) <= rel < 2**31 or starts.typecode == "q")
        ):
            # In-order fast path (the common heartbeat): the newest start, after every leave,
            # only adds its own interval [ts, ts + timeout).
            if last is None or rel - last >= 1000 or -(-ts // 1000) != -(-(last + base) // 1000):
                starts.append(rel)
                self._append_interval(ts, timeout_ms, changes)
                return
            group_start = -(-ts // 1000) * 1000 - 999 - base  # its second's first instant
            if (len(starts) < 2 or starts[-2] < group_start) and (
                self.timeout_of is None or last + base not in self.timeout_of
            ):
                # The previous start, alone in the same second under the same timeout, is
                # covered by this one.
                starts[-1] = rel
                self._append_interval(ts, timeout_ms, changes)
                return
        if starts.typecode == "i" and not -_NARROW <= rel < _NARROW:
            # Too far from ``base`` for 4-byte offsets: switch to absolute 8-byte times.
            self._widen()
        if kind == "leave":
            self._add_leave(ts, default_timeout_ms, changes)
        else:
            self._add_start(ts, timeout_ms, default_timeout_ms, changes)

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
        base = self.base
        rel = h - base
        second = -(-h // 1000)
        top = second * 1000 - base  # the group's last instant, relative to base
        # A start only ever adds its own interval [h, min(h + timeout, first leave >= h))
        # to the online set; the other starts' intervals do not depend on it.
        end = h + timeout_ms
        leaves = self.leaves
        if leaves:
            j = bisect_left(leaves, rel)
            if j < len(leaves):
                if leaves[j] <= top:
                    return  # cut off in its own second: never online at a whole second
                end = min(end, leaves[j] + base)
        reach = -(-(h + timeout_ms) // 1000)
        starts = self.starts
        lo = bisect_left(starts, top - 999)
        hi = bisect_right(starts, top, lo)
        i = bisect_left(starts, rel, lo, hi)
        for k in range(i, hi):
            other = starts[k] + base
            if -(-(other + self._timeout(other, default_timeout_ms)) // 1000) >= reach:
                return  # a start of the group at or after h that reaches as far covers it
        group = [rel]
        for k in range(lo, hi):
            other = starts[k] + base
            if starts[k] > rel or (
                starts[k] < rel
                and -(-(other + self._timeout(other, default_timeout_ms)) // 1000) > reach
            ):
                group.append(starts[k])
            elif self.timeout_of is not None:
                self.timeout_of.pop(other, None)  # covered by h
        group.sort()
        starts[lo:hi] = array(starts.typecode, group)
        self._set_timeout(h, timeout_ms, default_timeout_ms)
        if end > h:
            self._union(second, -(-end // 1000), changes)

    def _union(self, start: int, end: int, changes: dict[int, int]) -> None:
        """Add the seconds ``[start, end)`` to the online ranges; count the newly online ones."""
        if start >= end:
            return
        ranges = self.ranges
        # Ranges before ``lo`` end before ``start``; from ``hi`` on they start after ``end``
        # (touching ranges merge, as in ``merge_ranges``).
        lo = bisect_left(ranges, start, key=_END)
        hi = lo
        covered = start
        new_start, new_end = start, end
        while hi < len(ranges) and ranges[hi][0] <= end:
            r_start, r_end = ranges[hi]
            if r_start > covered:
                _bump(changes, covered, r_start, 1)
            covered = max(covered, r_end)
            new_start = min(new_start, r_start)
            new_end = max(new_end, r_end)
            hi += 1
        if covered < end:
            _bump(changes, covered, end, 1)
        ranges[lo:hi] = [(new_start, new_end)]

    def _add_leave(self, leave: int, default_timeout_ms: int, changes: dict[int, int]) -> None:
        if self.leaves is None:
            self.leaves = array(self.starts.typecode)
        leaves = self.leaves
        base = self.base
        rel = leave - base
        second = -(-leave // 1000)
        top = second * 1000 - base
        i = bisect_left(leaves, rel)
        if i < len(leaves) and leaves[i] <= top:
            return  # the same leave, or a later one of its second, cuts all this one would
        # Earlier leaves of the same second cut nothing this one does not: it replaces them.
        lo = bisect_left(leaves, top - 999, 0, i)
        leaves[lo:i] = array(leaves.typecode, [rel])
        after = leaves[lo + 1] + base if lo + 1 < len(leaves) else None
        # Starts of its second at or before it are never online at a whole second now.
        starts = self.starts
        s_lo = bisect_left(starts, top - 999)
        s_hi = bisect_right(starts, rel, s_lo)
        if s_lo < s_hi:
            if self.timeout_of is not None:
                for dropped in starts[s_lo:s_hi]:
                    self.timeout_of.pop(dropped + base, None)
            del starts[s_lo:s_hi]
        # Every interval running at the leave now ends there. Those intervals reached no
        # further than the longest timeout, nor past the next leave: the seconds from the
        # leave's to that limit are recomputed from the starts after the leave (the leave
        # changes nothing before its second, nor for starts after it).
        limit = leave + max(default_timeout_ms, self.longest)
        if after is not None and after < limit:
            limit = after
        window_end = -(-limit // 1000)
        if window_end <= second:
            return
        # Those starts are before the next leave, so ``window_end`` is all that cuts them.
        pieces: list[Range] = []
        last = (window_end - 1) * 1000 - base  # later starts begin at window_end or after
        timeout_of = self.timeout_of
        for offset in starts[s_lo : bisect_right(starts, last, s_lo)]:
            h = offset + base
            timeout = (
                default_timeout_ms if timeout_of is None else timeout_of.get(h, default_timeout_ms)
            )
            start, end = -(-h // 1000), -(-(h + timeout) // 1000)
            if end > window_end:
                end = window_end
            if start >= end:
                continue
            if pieces and start <= pieces[-1][1]:  # starts come in order: merge as they come
                if end > pieces[-1][1]:
                    pieces[-1] = (pieces[-1][0], end)
            else:
                pieces.append((start, end))
        self._replace(second, window_end, pieces, changes)

    def _replace(self, start: int, end: int, pieces: list[Range], changes: dict[int, int]) -> None:
        """Make ``pieces`` (merged, inside ``[start, end)``) the online seconds of that window."""
        ranges = self.ranges
        lo = bisect_left(ranges, start, key=_END)
        hi = bisect_right(ranges, end, lo, key=_START)
        kept: list[Range] = []
        for r_start, r_end in ranges[lo:hi]:
            _bump(changes, max(r_start, start), min(r_end, end), -1)
            if r_start < start:
                kept.append((r_start, start))
            if r_end > end:
                kept.append((end, r_end))
        for p_start, p_end in pieces:
            _bump(changes, p_start, p_end, 1)
        ranges[lo:hi] = merge_ranges(kept + pieces)

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
        if timeout_ms > self.longest:
            self.longest = timeout_ms
