"""A stream's programme: its segments in order, where each ends, which one is on at a time.

Segments are registry records (``contract.registry.Segment``); a segment without an end
lasts until the next one starts, the last one until the stream ends. Segments never
overlap (``check_fits`` refuses one that would), so every second is in at most one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from contract.registry import Clash, Segment

__all__ = ["Slot", "check_fits", "segment_at", "slot_at", "slots"]


@dataclass(frozen=True, slots=True)
class Slot:
    """A segment and the second its time on stage ends (exclusive; None: still on)."""

    segment: Segment
    end: int | None

    @property
    def start(self) -> int:
        """The segment's first second."""
        return self.segment.start

    def covers(self, second: int) -> bool:
        """Whether ``second`` is in this segment."""
        return self.start <= second and (self.end is None or second < self.end)


def _ordered(programme: Sequence[Segment]) -> list[Segment]:
    return sorted(programme, key=lambda s: (s.start, s.id))


def slots(programme: Sequence[Segment]) -> list[Slot]:
    """The segments in order of start, each with its end: its own, else the next start."""
    ordered = _ordered(programme)
    out: list[Slot] = []
    for i, segment in enumerate(ordered):
        following = ordered[i + 1].start if i + 1 < len(ordered) else None
        if segment.end:
            end: int | None = segment.end if following is None else min(segment.end, following)
        else:
            end = following
        out.append(Slot(segment, end))
    return out


def slot_at(programme: Sequence[Segment], second: int) -> Slot | None:
    """The segment on stage at ``second`` with when it ends, if any."""
    timeline = slots(programme)
    i = bisect_right([s.start for s in timeline], second) - 1
    return timeline[i] if i >= 0 and timeline[i].covers(second) else None


def segment_at(programme: Sequence[Segment], second: int) -> Segment | None:
    """The segment on stage at ``second``, if any."""
    slot = slot_at(programme, second)
    return None if slot is None else slot.segment


def check_fits(programme: Sequence[Segment], new: Segment) -> None:
    """Refuse (``Clash``) a segment that starts with, or overlaps, another one of
    ``programme`` (a segment with ``new``'s id is the one it replaces, so it is ignored)."""
    others = [s for s in programme if s.id != new.id]
    for other in others:
        if other.start == new.start:
            raise Clash(f"segment {other.id!r} ({other.title}) already starts at that second")
    ordered = _ordered([*others, new])
    for first, second in zip(ordered, ordered[1:], strict=False):
        if first.end and first.end > second.start:
            raise Clash(
                f"segment {first.title!r} would end after {second.title!r} starts; "
                "segments must not overlap"
            )
