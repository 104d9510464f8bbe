"""Numbers of a reports-mode partner, which posts its own counters: pure code.

concurrent(t) is the ``concurrent`` of the latest ``count`` with ts <= t if that report is
less than 120 s older than t, else 0; views and uniques are the largest ``cumulative`` and
``uniques`` reported at ts <= t. Two reports with the same ts merge field by field into their
maximum, so the result does not depend on arrival order.
"""

from __future__ import annotations

from collections.abc import Mapping

from stream.presence import ceil_second

__all__ = ["REPORT_TTL_MS", "Report", "merge_report", "report_diffs"]

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
