"""Merging partials chunks into exact per-second series: the one implementation of it.

Summing the chunks of all partitions and then the changes over time gives concurrent, views
and uniques at every second. Sums are exact because no session and no viewer spans two
partitions. The dashboard and the worker's alert monitor both follow the partials topic
into a ``PartialsMerge``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from contract.partials import Chunk, Diff

__all__ = ["Numbers", "PartialsMerge", "PlatformDiffs", "Steps", "sum_steps"]


@dataclass(frozen=True, slots=True)
class Numbers:
    """The three counts at one second."""

    concurrent: int = 0
    views: int = 0
    uniques: int = 0


@dataclass
class Steps:
    """A step function of the counts: value changes at ``seconds[i]`` to ``values[i]``."""

    seconds: list[int] = field(default_factory=list)
    values: list[Numbers] = field(default_factory=list)

    def at(self, second: int) -> Numbers:
        """The counts at a whole epoch second."""
        i = bisect_right(self.seconds, second)
        return self.values[i - 1] if i else Numbers()

    def peak(self, second: int) -> tuple[int, int | None]:
        """The largest concurrent over whole seconds <= ``second`` and the earliest it held."""
        best, best_at = 0, None
        for s, value in zip(self.seconds, self.values, strict=True):
            if s > second:
                break
            if value.concurrent > best:
                best, best_at = value.concurrent, s
        return best, best_at


class PlatformDiffs:
    """The merged per-second changes of one (stream, partner) over all partitions."""

    def __init__(self) -> None:
        self._chunks: dict[tuple[int, int], Mapping[int, Diff]] = {}
        self._merged: dict[int, list[int]] = {}
        self._steps: Steps | None = None

    def put(self, chunk: Chunk) -> None:
        """Replace the chunk of (partition, minute) with a newer one."""
        slot = (chunk.partition, chunk.minute)
        for second, diff in self._chunks.get(slot, {}).items():
            self._add(second, diff, -1)
        for second, diff in chunk.seconds.items():
            self._add(second, diff, 1)
        self._chunks[slot] = chunk.seconds
        self._steps = None

    def _add(self, second: int, diff: Diff, sign: int) -> None:
        cell = self._merged.setdefault(second, [0, 0, 0])
        cell[0] += sign * diff[0]
        cell[1] += sign * diff[1]
        cell[2] += sign * diff[2]
        if cell == [0, 0, 0]:
            del self._merged[second]

    def diffs(self) -> dict[int, Diff]:
        """Non-zero merged changes by epoch second."""
        return {s: (c[0], c[1], c[2]) for s, c in self._merged.items()}

    def steps(self) -> Steps:
        """The counts as a step function (cached until the next ``put``)."""
        if self._steps is None:
            self._steps = sum_steps([self.diffs()])
        return self._steps


def sum_steps(parts: Iterable[Mapping[int, Diff]]) -> Steps:
    """Add several change maps together and integrate them over time."""
    total: dict[int, list[int]] = {}
    for part in parts:
        for second, diff in part.items():
            cell = total.setdefault(second, [0, 0, 0])
            cell[0] += diff[0]
            cell[1] += diff[1]
            cell[2] += diff[2]
    steps = Steps()
    concurrent = views = uniques = 0
    for second in sorted(total):
        dc, dv, du = total[second]
        if dc == dv == du == 0:
            continue
        concurrent += dc
        views += dv
        uniques += du
        steps.seconds.append(second)
        steps.values.append(Numbers(concurrent, views, uniques))
    return steps


class PartialsMerge:
    """Every chunk of the partials topic merged per (stream, partner) and per stream."""

    def __init__(self) -> None:
        self.partners: dict[tuple[str, str], PlatformDiffs] = {}
        """Merged changes by (stream, partner)."""
        self.totals: dict[str, PlatformDiffs] = {}
        """Merged changes of all partners, by stream."""
        self._slots: dict[tuple[str, str, int], int] = {}

    def put(self, chunk: Chunk) -> None:
        """Apply a chunk, replacing the one of its (stream, partner, partition, minute)."""
        self.partners.setdefault((chunk.stream, chunk.platform), PlatformDiffs()).put(chunk)
        # The stream total keeps its own merge, with one slot per (partner, partition), so a
        # replaced chunk is subtracted there too without re-adding every partner each time.
        slot = self._slots.setdefault(
            (chunk.stream, chunk.platform, chunk.partition), len(self._slots)
        )
        total = self.totals.setdefault(chunk.stream, PlatformDiffs())
        total.put(replace(chunk, partition=slot))
