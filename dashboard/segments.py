"""Each programme segment's numbers, for the report: peak, peak time, views gained,
average concurrency. Pure: a step function of the total and the programme in, rows out."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from contract.programme import Slot, segment_at, slots
from contract.registry import Segment
from contract.series import Numbers, Steps

__all__ = ["SegmentFigures", "peak_segment", "segment_figures"]


@dataclass(frozen=True, slots=True)
class SegmentFigures:
    """A segment's numbers over the seconds it was on (``start`` through ``end`` - 1)."""

    segment: Segment
    start: int
    end: int
    """First second after the segment (its end, the next start, or the report's end + 1)."""
    peak: int
    """Most concurrent viewers at any second of the segment."""
    peak_at: int | None
    """The first second that peak held (None when no one watched)."""
    views_gained: int
    """View-times begun during the segment: views at its last second minus views just
    before it."""
    average_concurrent: float
    """Concurrent viewers averaged over every second of the segment."""


def _over(steps: Steps, start: int, end: int) -> tuple[int, int | None, float, Numbers]:
    """Peak, first second of the peak, mean concurrent over [start, end), value before."""
    i = bisect_right(steps.seconds, start)
    current = steps.values[i - 1] if i else Numbers()
    before = steps.at(start - 1)
    peak, peak_at = current.concurrent, start if current.concurrent > 0 else None
    weighted = 0
    second = start
    while i < len(steps.seconds) and steps.seconds[i] < end:
        weighted += current.concurrent * (steps.seconds[i] - second)
        second, current = steps.seconds[i], steps.values[i]
        if current.concurrent > peak:
            peak, peak_at = current.concurrent, second
        i += 1
    weighted += current.concurrent * (end - second)
    return peak, peak_at, weighted / (end - start), before


def segment_figures(
    steps: Steps | None, programme: Sequence[Segment], last_second: int
) -> list[SegmentFigures]:
    """The numbers of every segment that began by ``last_second`` (the report's end); an
    open segment counts through ``last_second``."""
    out: list[SegmentFigures] = []
    totals = steps if steps is not None else Steps()
    for slot in slots(programme):
        if slot.start > last_second:
            break
        end = min(_end(slot, last_second), last_second + 1)
        if end <= slot.start:
            continue  # a segment with no second of its own (two writers gave one start)
        peak, peak_at, mean, before = _over(totals, slot.start, end)
        gained = totals.at(end - 1).views - before.views
        out.append(SegmentFigures(slot.segment, slot.start, end, peak, peak_at, gained, mean))
    return out


def _end(slot: Slot, last_second: int) -> int:
    return last_second + 1 if slot.end is None else slot.end


def peak_segment(programme: Sequence[Segment], peak_at: int | None) -> Segment | None:
    """The segment on stage at the overall peak, if any."""
    return None if peak_at is None else segment_at(programme, peak_at)
