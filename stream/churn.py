"""Recently started sessions that are already offline, and how many had a single event. Pure code.

A partner client that makes a new ``session_id`` per heartbeat leaves behind a stream of
sessions with one event each, which go offline one timeout later. ``ChurnCounter`` keeps,
for one (stream, partner) in one partition, the sessions whose first event lies in the last
``WINDOW_S`` seconds of event time, as counts keyed by (start second, end second):

- the *start second* of a session is ``first // 1000`` (its earliest event of any type);
- its *end second* is where its online set ends (the end of its last range of online
  seconds, ``docs/metrics.md``), or its start second if it is never online; it is offline at
  whole second ``now`` when ``end <= now`` (a single join/heartbeat at h with timeout T is
  offline from h + T on);
- a session has a *single event* while it has exactly one distinct instant, a start (join or
  heartbeat) or a leave: a resent event changes nothing, any other event ends it.

"Now" is an event time the caller gives: ``PartitionState`` gives its partner's newest event
``ts`` (``last_event_ts``), at the whole second at or before it. The window
``(now - WINDOW_S, now]`` of start seconds slides with it; whatever starts before the window
is dropped, so memory is bounded by the window. Each event costs O(1) amortised (a session
moves between at most two cells); the figures cost O(distinct end seconds), at most
``WINDOW_S`` plus the longest timeout, however many sessions there are. The counts are a
function of the set of events and of "now", whatever the order the events came in.

Only ``Session.first``, ``Session.ranges`` and, when catching up with a restored state,
``start_times`` and ``leave_times`` are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from stream.presence import Session

__all__ = ["NEW", "WINDOW_S", "ChurnCounter", "RecentFigures", "combine"]

WINDOW_S: Final = 300
"""Seconds of event time a session counts as recently started."""

_NO_FLOOR: Final = -(2**63)

Before = tuple[int, int] | None
"""What ``before`` saw of a session: its (start, end) seconds, None if it is not counted."""

NEW: Final[tuple[int, int]] = (_NO_FLOOR, _NO_FLOOR)
"""``before``'s answer for a session that is being created."""


@dataclass(frozen=True, slots=True)
class RecentFigures:
    """Sessions started in the window before ``as_of`` that are offline at ``as_of``."""

    as_of: int | None
    """The event time (ms) the figures refer to; None when no session event was seen."""
    offline: int = 0
    """Sessions that started in the window and are offline at ``as_of``."""
    single: int = 0
    """Those of them that had a single event."""


def combine(parts: Iterable[RecentFigures], window_s: int = WINDOW_S) -> RecentFigures:
    """Sum the figures of several partitions, as of the newest of them.

    A partition whose figures are a whole window older than the newest describes sessions
    that have all left the window since, and is left out.
    """
    dated = [(part.as_of, part) for part in parts if part.as_of is not None]
    if not dated:
        return RecentFigures(None)
    newest = max(as_of for as_of, _ in dated)
    kept = [part for as_of, part in dated if as_of > newest - window_s * 1000]
    return RecentFigures(newest, sum(p.offline for p in kept), sum(p.single for p in kept))


def _end_of(session: Session, start: int) -> int:
    ranges = session.ranges
    return ranges[-1][1] if ranges else start


def _single_key(kind: str, ts: int) -> int:
    """One distinct event instant, whatever the event's kind.

    A start and a leave at the very same millisecond count as one instant: a session that
    joined and left at once was never online, like a bounce. It is also what a restored
    session can still tell (``catch_up``): folding keeps only the leave of such a pair.
    """
    return ts


class ChurnCounter:
    """The recently started sessions of one (stream, partner) in one partition, in counts.

    ``before`` and ``after`` take each event; ``slide`` moves the window up to an event time
    (once per record is enough: until then a few more sessions are followed than needed);
    ``figures`` slides to its ``as_of`` and answers.
    """

    __slots__ = (
        "cells",
        "ends",
        "floor",
        "floor_ms",
        "single_cells",
        "single_ends",
        "singles",
        "window_s",
    )

    def __init__(self, window_s: int = WINDOW_S) -> None:
        self.window_s = window_s
        self.floor = _NO_FLOOR
        """The oldest start second followed; what started before it is dropped."""
        self.floor_ms = _NO_FLOOR
        """``floor`` in ms: a session is followed if its first event is at or after it."""
        self.cells: dict[int, dict[int, int]] = {}
        """Start second → end second → sessions."""
        self.ends: dict[int, int] = {}
        """End second → sessions, summed over ``cells``."""
        self.single_cells: dict[int, dict[int, int]] = {}
        """``cells`` of the single-event sessions only."""
        self.single_ends: dict[int, int] = {}
        """``ends`` of the single-event sessions only."""
        self.singles: dict[int, dict[str, int]] = {}
        """Start second → single-event session id → its one event (``_single_key``)."""

    def before(self, session: Session | None, ts: int) -> Before:
        """Call before adding an event at ``ts`` to ``session`` (None: the session is new);
        unless the answer is None, call ``after`` once the event is added."""
        if session is None:
            return NEW if ts >= self.floor_ms else None
        first = session.first
        if first < self.floor_ms:
            return None
        start = first // 1000
        ranges = session.ranges
        return (start, ranges[-1][1] if ranges else start)

    def after(
        self, session_id: str, session: Session, kind: str, ts: int, before: tuple[int, int]
    ) -> None:
        """Call after adding the event (``kind``, ``ts``) to ``session``, with what ``before``
        answered."""
        ranges = session.ranges
        start = session.first // 1000
        end = ranges[-1][1] if ranges else start
        if before is NEW:
            self._put(start, end, 1, True)
            singles = self.singles.get(start)
            if singles is None:
                singles = self.singles[start] = {}
            singles[session_id] = _single_key(kind, ts)
            return
        old_start, old_end = before
        singles = self.singles.get(old_start)
        if singles is not None and session_id in singles:
            self._single_changed(session_id, kind, ts, before, start, end)
        elif start == old_start:
            if end != old_end:
                # The usual heartbeat of a session in the window: its end moves on.
                cells = self.cells[start]
                left = cells[old_end] - 1
                if left:
                    cells[old_end] = left
                else:
                    del cells[old_end]
                cells[end] = cells.get(end, 0) + 1
                ends = self.ends
                left = ends[old_end] - 1
                if left:
                    ends[old_end] = left
                else:
                    del ends[old_end]
                ends[end] = ends.get(end, 0) + 1
        else:
            self._put(old_start, old_end, -1, False)
            if start >= self.floor:
                self._put(start, end, 1, False)

    def _single_changed(
        self, session_id: str, kind: str, ts: int, before: tuple[int, int], start: int, end: int
    ) -> None:
        """An event for a session that had a single one: a resent one, or its second."""
        old_start, old_end = before
        singles = self.singles[old_start]
        single = singles[session_id] == _single_key(kind, ts)
        if not single:
            del singles[session_id]
            if not singles:
                del self.singles[old_start]
        if start != old_start or end != old_end or not single:
            self._put(old_start, old_end, -1, True)
            # A session whose first event moved earlier had a second event: single sessions
            # never change start second.
            if start >= self.floor:
                self._put(start, end, 1, single)

    def _put(self, start: int, end: int, delta: int, single: bool) -> None:
        """Add ``delta`` sessions at (start, end), to the single-event ones too if ``single``."""
        for cells, ends in (
            ((self.cells, self.ends), (self.single_cells, self.single_ends))
            if single
            else ((self.cells, self.ends),)
        ):
            row = cells.get(start)
            if row is None:
                row = cells[start] = {}
            count = row.get(end, 0) + delta
            if count:
                row[end] = count
            else:
                del row[end]
                if not row:
                    del cells[start]
            count = ends.get(end, 0) + delta
            if count:
                ends[end] = count
            else:
                del ends[end]

    def slide(self, now_ms: int | None) -> None:
        """Move the window up to the event time ``now_ms`` (never down); drop what left it."""
        if now_ms is None:
            return
        floor = now_ms // 1000 - self.window_s + 1
        old = self.floor
        if floor <= old:
            return
        self.floor = floor
        self.floor_ms = floor * 1000
        for cells, ends in ((self.cells, self.ends), (self.single_cells, self.single_ends)):
            if floor - old <= len(cells):
                gone = [s for s in range(old, floor) if s in cells]
            else:
                gone = [s for s in cells if s < floor]
            for start in gone:
                for end, count in cells.pop(start).items():
                    left = ends[end] - count
                    if left:
                        ends[end] = left
                    else:
                        del ends[end]
        if floor - old <= len(self.singles):
            for start in range(old, floor):
                self.singles.pop(start, None)
        else:
            for start in [s for s in self.singles if s < floor]:
                del self.singles[start]

    def figures(self, as_of: int | None) -> RecentFigures:
        """Sessions started in the window before ``as_of`` (event time, ms) that are offline
        at it, and how many of them had a single event."""
        if as_of is None:
            return RecentFigures(None)
        self.slide(as_of)
        now = as_of // 1000
        offline = sum(count for end, count in self.ends.items() if end <= now)
        single = sum(count for end, count in self.single_ends.items() if end <= now)
        return RecentFigures(as_of, offline, single)

    def catch_up(self, sessions: Mapping[str, Session], as_of: int | None) -> None:
        """Count the sessions of a state that was restored without its counter.

        A no-op once the counter has slid (its state counted a record), so calling it after
        every rebuild is cheap; otherwise one pass over the sessions given. It slides the
        window even when none is given: ``before`` follows every session whose first event is
        at or after the floor, so a counter restored with no recent session must still have
        one, or the next event of an older session would look like one it counts. The
        caller gives at least every session whose first event is in the window before
        ``as_of``; the others are skipped. A restored session
        counts as single when every instant it keeps is its first event's: folding keeps at
        least one instant in every whole second that had an event, and in the second of the
        first event an instant after it whenever there was a later event, so this is exactly
        "all its events were at one instant".
        """
        if self.floor != _NO_FLOOR or as_of is None:
            return
        self.slide(as_of)
        floor = self.floor
        for session_id, session in sessions.items():
            start = session.first // 1000
            if start < floor:
                continue
            kept = {*session.start_times(), *session.leave_times()}
            single = kept == {session.first}
            self._put(start, _end_of(session, start), 1, single)
            if single:
                self.singles.setdefault(start, {})[session_id] = _single_key("", session.first)
