"""Numbers of a reports-mode partner, which posts its own counters: pure code.

concurrent(t) is the ``concurrent`` of the latest ``count`` with ts <= t if that report is
less than 120 s older than t, else 0; views and uniques are the largest ``cumulative`` and
``uniques`` reported at ts <= t. Two reports with the same ts merge field by field into their
maximum, so the result does not depend on arrival order.

``report_diffs`` computes a partner's per-second changes from all its reports at once;
``ReportTimeline`` keeps the same changes up to date report by report, each report touching
only the seconds up to the next one (and its 120 s), and the steps of the running maxima it
overtakes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Mapping

from stream.presence import ceil_second

__all__ = ["REPORT_TTL_MS", "Report", "ReportTimeline", "merge_report", "report_diffs"]

REPORT_TTL_MS = 120_000
"""A report counts for concurrency until it is this old."""

Report = tuple[int, int | None, int | None]
"""(concurrent, cumulative, uniques) of one report."""


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def merge_report(old: Report | None, new: Report) -> Report:
    """Combine two reports with the same ts (field-wise maximum)."""
    if old is None:
        return new
    return (max(old[0], new[0]), _max(old[1], new[1]), _max(old[2], new[2]))


def report_diffs(reports: Mapping[int, Report]) -> dict[int, tuple[int, int, int]]:
    """Per-second changes (dc, dv, du) of a reports-mode partner's numbers."""
    changes: dict[int, list[int]] = {}

    def bump(second: int, index: int, delta: int) -> None:
        if delta:
            changes.setdefault(second, [0, 0, 0])[index] += delta

    ordered = sorted(reports.items())
    # Concurrency: from each report's first whole second, until the next report takes
    # over or the report turns 120 s old.
    governing: list[tuple[int, int, int]] = []  # (first second, ts, concurrent)
    for ts, (concurrent, _, _) in ordered:
        second = ceil_second(ts)
        if governing and governing[-1][0] == second:
            governing[-1] = (second, ts, concurrent)
        else:
            governing.append((second, ts, concurrent))
    for i, (second, ts, concurrent) in enumerate(governing):
        end = ceil_second(ts + REPORT_TTL_MS)
        if i + 1 < len(governing):
            end = min(end, governing[i + 1][0])
        if end > second:
            bump(second, 0, concurrent)
            bump(end, 0, -concurrent)
    # Views and uniques: running maxima.
    best_views = best_uniques = 0
    for ts, (_, cumulative, uniques) in ordered:
        second = ceil_second(ts)
        if cumulative is not None and cumulative > best_views:
            bump(second, 1, cumulative - best_views)
            best_views = cumulative
        if uniques is not None and uniques > best_uniques:
            bump(second, 2, uniques - best_uniques)
            best_uniques = uniques
    return {s: (c[0], c[1], c[2]) for s, c in changes.items() if c != [0, 0, 0]}


Bump = Callable[[int, int, int], None]
"""``bump(second, index, delta)``: add ``delta`` to field ``index`` (0 concurrent, 1 views,
2 uniques) of the change at ``second``."""


class _SortedSeconds:
    """Distinct whole seconds, sorted, in blocks of at most ``2 * block``: adding or removing
    one moves the rest of its block, not all the seconds after it."""

    __slots__ = ("block", "blocks", "firsts")

    def __init__(self, block: int) -> None:
        self.block = block
        self.blocks: list[list[int]] = []
        self.firsts: list[int] = []
        """The first second of each block."""

    def at_or_before(self, second: int) -> int | None:
        """The greatest second held that is ``<= second``."""
        b = bisect_right(self.firsts, second) - 1
        if b < 0:
            return None
        block = self.blocks[b]
        return block[bisect_right(block, second) - 1]

    def before(self, second: int) -> int | None:
        """The greatest second held that is ``< second``."""
        b = bisect_left(self.firsts, second) - 1
        if b < 0:
            return None
        block = self.blocks[b]
        return block[bisect_left(block, second) - 1]

    def after(self, second: int) -> int | None:
        """The least second held that is ``> second``."""
        b = bisect_right(self.firsts, second) - 1
        if b >= 0:
            block = self.blocks[b]
            i = bisect_right(block, second)
            if i < len(block):
                return block[i]
        return self.firsts[b + 1] if b + 1 < len(self.firsts) else None

    def add(self, second: int) -> None:
        """Hold ``second`` (not held yet)."""
        if not self.blocks:
            self.blocks.append([second])
            self.firsts.append(second)
            return
        b = max(bisect_right(self.firsts, second) - 1, 0)
        block = self.blocks[b]
        insort(block, second)
        self.firsts[b] = block[0]
        if len(block) > 2 * self.block:
            half = len(block) // 2
            self.blocks.insert(b + 1, block[half:])
            self.firsts.insert(b + 1, block[half])
            del block[half:]

    def remove(self, second: int) -> None:
        """Stop holding ``second`` (held)."""
        b = bisect_right(self.firsts, second) - 1
        block = self.blocks[b]
        del block[bisect_left(block, second)]
        if block:
            self.firsts[b] = block[0]
        else:
            del self.blocks[b], self.firsts[b]


class _RunningMax:
    """A running maximum over whole seconds, as its steps: the seconds where it rises."""

    __slots__ = ("level", "steps")

    def __init__(self, block: int) -> None:
        self.steps = _SortedSeconds(block)
        self.level: dict[int, int] = {}
        """The maximum from each step on."""

    def raise_to(self, second: int, value: int, index: int, bump: Bump) -> None:
        """Make the maximum at least ``value`` from ``second`` on; bump what changes."""
        steps, level_at = self.steps, self.level
        step = steps.at_or_before(second)
        level = 0 if step is None else level_at[step]
        if value <= level:
            return
        # From ``second`` up to the first step above ``value``, the maximum becomes
        # ``value``: the steps it overtakes no longer rise, and the first one above it
        # rises from ``value`` instead.
        bump(second, index, value - level)
        following = steps.after(second)
        while following is not None and level_at[following] <= value:
            overtaken = level_at.pop(following)
            bump(following, index, level - overtaken)
            level = overtaken
            steps.remove(following)
            following = steps.after(following)
        if following is not None and level != value:
            bump(following, index, level - value)
        if step != second:
            steps.add(second)
        level_at[second] = value


class ReportTimeline:
    """A reports-mode partner's per-second changes, kept up to date report by report.

    Gives the changes ``report_diffs`` gives for the same reports, whatever order they are
    added in; adding one costs O(log n + block) plus the steps of the running maxima it
    overtakes (each step is overtaken once).
    """

    __slots__ = ("latest", "seconds", "uniques", "views")

    def __init__(self, block: int = 256) -> None:
        self.seconds = _SortedSeconds(block)
        """The first whole seconds of the reports."""
        self.latest: dict[int, tuple[int, int]] = {}
        """Per such second, (ts, concurrent) of its latest report: the one that governs."""
        self.views = _RunningMax(block)
        self.uniques = _RunningMax(block)

    def add(self, ts: int, report: Report, bump: Bump) -> None:
        """Account for ``report``, now the (merged) report at ``ts``; bump what changes."""
        concurrent, cumulative, uniques = report
        second = ceil_second(ts)
        governing = self.latest.get(second)
        if governing is None or ts >= governing[0]:
            self._govern(second, ts, concurrent, governing, bump)
        if cumulative is not None:
            self.views.raise_to(second, cumulative, 1, bump)
        if uniques is not None:
            self.uniques.raise_to(second, uniques, 2, bump)

    def _govern(
        self,
        second: int,
        ts: int,
        concurrent: int,
        governing: tuple[int, int] | None,
        bump: Bump,
    ) -> None:
        # A report governs concurrency from its first whole second until the next report's
        # or until it turns 120 s old; only the seconds up to the next report's change.
        following = self.seconds.after(second)
        if governing is not None:
            _level(bump, second, _until(governing[0], following), -governing[1])
        else:
            previous = self.seconds.before(second)
            if previous is not None:
                # The previous report governed these seconds until now.
                before_ts, before = self.latest[previous]
                _level(bump, second, _until(before_ts, following), -before)
            self.seconds.add(second)
        self.latest[second] = (ts, concurrent)
        _level(bump, second, _until(ts, following), concurrent)


def _until(ts: int, following: int | None) -> int:
    """The second a report at ``ts`` stops governing, the next report being at ``following``."""
    end = ceil_second(ts + REPORT_TTL_MS)
    return end if following is None else min(end, following)


def _level(bump: Bump, start: int, end: int, delta: int) -> None:
    if start < end and delta:
        bump(start, 0, delta)
        bump(end, 0, -delta)
