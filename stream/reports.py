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

from bisect import bisect_left, bisect_right
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


class _RunningMax:
    """A running maximum over whole seconds, as its steps: seconds and levels, both rising."""

    __slots__ = ("levels", "seconds")

    def __init__(self) -> None:
        self.seconds: list[int] = []
        self.levels: list[int] = []

    def raise_to(self, second: int, value: int, index: int, bump: Bump) -> None:
        """Make the maximum at least ``value`` from ``second`` on; bump what changes."""
        seconds, levels = self.seconds, self.levels
        i = bisect_right(seconds, second)
        level = levels[i - 1] if i else 0
        if value <= level:
            return
        # From ``second`` up to the first step above ``value``, the maximum becomes
        # ``value``: take away the old levels there, one segment per overtaken step.
        k, at = i, second
        while k < len(seconds) and levels[k] <= value:
            if level:
                bump(at, index, -level)
                bump(seconds[k], index, level)
            at, level = seconds[k], levels[k]
            k += 1
        if level:
            bump(at, index, -level)
        bump(second, index, value)
        if k < len(seconds) and level != value:
            bump(seconds[k], index, level - value)
        if i and seconds[i - 1] == second:
            levels[i - 1] = value
            del seconds[i:k], levels[i:k]
        else:
            seconds[i:k] = [second]
            levels[i:k] = [value]


class ReportTimeline:
    """A reports-mode partner's per-second changes, kept up to date report by report.

    Gives the changes ``report_diffs`` gives for the same reports, whatever order they are
    added in; adding one costs O(log n) plus the steps of the running maxima it overtakes.
    """

    __slots__ = ("latest", "seconds", "uniques", "views")

    def __init__(self) -> None:
        self.seconds: list[int] = []
        """The first whole seconds of the reports, sorted, each once."""
        self.latest: dict[int, tuple[int, int]] = {}
        """Per such second, (ts, concurrent) of its latest report: the one that governs."""
        self.views = _RunningMax()
        self.uniques = _RunningMax()

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
        seconds = self.seconds
        i = bisect_left(seconds, second)
        if governing is not None:
            following = seconds[i + 1] if i + 1 < len(seconds) else None
            _level(bump, second, _until(governing[0], following), -governing[1])
        else:
            following = seconds[i] if i < len(seconds) else None
            if i:
                # The previous report governed these seconds until now.
                before_ts, before = self.latest[seconds[i - 1]]
                _level(bump, second, _until(before_ts, following), -before)
            seconds.insert(i, second)
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
