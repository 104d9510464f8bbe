"""A reports-mode partner's changes kept report by report equal those of all reports at once."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.partition_state import PartitionState
from stream.reports import Report, ReportTimeline, _SortedSeconds, merge_report, report_diffs
from tests.oracle import Accepted, numbers
from tests.stream.conftest import run_pipeline, to_event
from tests.stream.test_presence import T0, at


def held(seconds) -> list[int]:
    """Everything a ``_SortedSeconds`` holds, checking how its blocks are kept."""
    assert all(seconds.blocks), "an empty block"
    assert seconds.firsts == [block[0] for block in seconds.blocks]
    assert all(len(block) <= 2 * seconds.block for block in seconds.blocks)
    flat = [second for block in seconds.blocks for second in block]
    assert flat == sorted(set(flat))
    return flat


def timeline_diffs(
    reports: list[tuple[int, Report]], block: int = 256
) -> dict[int, tuple[int, int, int]]:
    """Add reports one by one, as ``PlatformState.apply`` does; the summed changes."""
    timeline = ReportTimeline(block)
    merged: dict[int, Report] = {}
    cells: dict[int, list[int]] = {}

    def bump(second: int, index: int, delta: int) -> None:
        assert delta, "a bump that changes nothing"
        cells.setdefault(second, [0, 0, 0])[index] += delta

    for ts, report in reports:
        new = merge_report(merged.get(ts), report)
        if new != merged.get(ts):
            merged[ts] = new
            timeline.add(ts, new, bump)
            assert held(timeline.seconds) == sorted(timeline.latest)
            for maximum in (timeline.views, timeline.uniques):  # each level once, rising
                steps = held(maximum.steps)
                assert steps == sorted(maximum.level)
                levels = [maximum.level[s] for s in steps]
                assert levels == sorted(set(levels))
    return {s: (c[0], c[1], c[2]) for s, c in cells.items() if c != [0, 0, 0]}


def merged_reports(reports: list[tuple[int, Report]]) -> dict[int, Report]:
    out: dict[int, Report] = {}
    for ts, report in reports:
        out[ts] = merge_report(out.get(ts), report)
    return out


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        # One report: concurrency for 120 s from its first whole second, running maxima.
        ([(1_000, (5, 10, 3))], {1: (5, 10, 3), 121: (-5, 0, 0)}),
        ([(1_001, (5, None, None))], {2: (5, 0, 0), 122: (-5, 0, 0)}),
        # A later report takes over at its first whole second.
        (
            [(1_000, (5, None, None)), (11_000, (2, None, None))],
            {1: (5, 0, 0), 11: (-3, 0, 0), 131: (-2, 0, 0)},
        ),
        # ... in whichever order they arrive.
        (
            [(11_000, (2, None, None)), (1_000, (5, None, None))],
            {1: (5, 0, 0), 11: (-3, 0, 0), 131: (-2, 0, 0)},
        ),
        # Of two reports of one second the later governs; the earlier is never seen.
        ([(1_900, (7, None, None)), (1_100, (5, None, None))], {2: (7, 0, 0), 122: (-7, 0, 0)}),
        # A report after a gap of more than 120 s starts from nothing.
        (
            [(0, (4, None, None)), (200_000, (6, None, None))],
            {0: (4, 0, 0), 120: (-4, 0, 0), 200: (6, 0, 0), 320: (-6, 0, 0)},
        ),
        # A late, larger cumulative overtakes the later steps it meets or exceeds.
        (
            [
                (10_000, (0, 5, None)),
                (20_000, (0, 8, None)),
                (30_000, (0, 12, None)),
                (15_000, (0, 9, None)),
            ],
            {10: (0, 5, 0), 15: (0, 4, 0), 30: (0, 3, 0)},
        ),
        # A smaller one changes nothing.
        ([(10_000, (0, 5, 2)), (15_000, (0, 4, 1))], {10: (0, 5, 2)}),
        # Same ts twice: field-wise maximum.
        ([(0, (5, 1, None)), (0, (3, 4, 2))], {0: (5, 4, 2), 120: (-5, 0, 0)}),
    ],
)
def test_report_changes_one_report_at_a_time(reports, expected):
    assert timeline_diffs(reports) == expected == report_diffs(merged_reports(reports))
    assert timeline_diffs(reports, block=1) == expected


boundary_ms = st.one_of(
    st.integers(-2, 260).map(lambda s: s * 1000),
    st.tuples(st.integers(-2, 260), st.sampled_from([-1, 1, 999])).map(
        lambda p: p[0] * 1000 + p[1]
    ),
    st.integers(-2_000, 260_000),
)
reports = st.tuples(
    boundary_ms,
    st.tuples(
        st.integers(0, 9),
        st.none() | st.integers(0, 20),
        st.none() | st.integers(0, 20),
    ),
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(reports, max_size=40),
    st.randoms(use_true_random=False),
    st.sampled_from([1, 2, 256]),
)
def test_timeline_matches_all_reports_at_once_in_any_order(items, rnd: random.Random, block):
    # Small blocks make the seconds split into blocks and blocks empty out.
    noisy = items + rnd.sample(items, k=len(items) // 2)
    rnd.shuffle(noisy)
    for n in range(len(noisy) + 1):
        assert timeline_diffs(noisy[:n], block) == report_diffs(merged_reports(noisy[:n]))


def rep(ts: int, report: Report) -> Accepted:
    c, v, u = report
    return Accepted(platform="rep", type="count", ts=T0 + ts, concurrent=c, cumulative=v, uniques=u)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(reports, max_size=25),
    st.randoms(use_true_random=False),
    st.integers(1, 5),
)
def test_published_report_numbers_match_the_oracle(items, rnd: random.Random, every):
    # Drained after every few reports, in any order: the published minutes add up to the
    # definition at every whole second, including the 120 s edges and second boundaries.
    events = [rep(ts, r) for ts, r in items]
    noisy = events + rnd.sample(events, k=len(events) // 2)
    rnd.shuffle(noisy)
    diffs = run_pipeline(noisy, partitions=1, drain_every=every)
    for s in range(T0 // 1000 - 3, T0 // 1000 + 385):
        assert at(diffs, "rep", s * 1000 - T0) == numbers(set(events), "rep", s * 1000)


def test_a_new_report_touches_only_the_minutes_up_to_the_next_one():
    state = PartitionState(0)
    platform = state._platform("s", "rep", 30_000)
    minute = 60_000
    for k in range(0, 60):  # a report every minute for an hour
        platform.apply(to_event(rep(k * minute, (k, k, k))), 30_000)
    state.drain()
    platform.apply(to_event(rep(30 * minute + 1_000, (99, None, None))), 30_000)
    chunks, _, _ = state.drain()
    base = T0 // 60_000
    # Its own minute, and the next report's first second (where it hands over).
    assert sorted(c.minute - base for c in chunks) == [30, 31]
    platform.apply(to_event(rep(61 * minute, (1, 61, None))), 30_000)
    chunks, _, _ = state.drain()
    # After the last report's 120 s: its own minute and the minute its own 120 s end.
    assert sorted(c.minute - base for c in chunks) == [61, 63]
    # Changes that cancel out (as at the hand-overs above) are dropped, not kept as zeros.
    assert all(any(cell) for cells in platform.report_changes.values() for cell in cells.values())
    assert all(any(diff) for c in state.drain()[0] for diff in c.seconds.values())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 30)), max_size=60),
    st.sampled_from([1, 2, 3]),
)
def test_sorted_seconds_answer_like_a_sorted_list(ops, block):
    seconds, model = _SortedSeconds(block), set()
    for adding, second in ops:
        if adding and second not in model:
            seconds.add(second)
            model.add(second)
        elif not adding and second in model:
            seconds.remove(second)
            model.discard(second)
        assert held(seconds) == sorted(model)
        for probe in range(-1, 32):
            assert seconds.at_or_before(probe) == max(
                (s for s in model if s <= probe), default=None
            )
            assert seconds.before(probe) == max((s for s in model if s < probe), default=None)
            assert seconds.after(probe) == min((s for s in model if s > probe), default=None)
