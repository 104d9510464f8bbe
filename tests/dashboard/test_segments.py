"""Each segment's numbers, checked against a second-by-second count of the same steps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contract.programme import slots
from contract.registry import Segment
from contract.series import Numbers, Steps
from dashboard.segments import peak_segment, segment_figures

T0 = 1_734_778_800


def steps_of(changes: dict[int, tuple[int, int]]) -> Steps:
    seconds = sorted(changes)
    return Steps(seconds, [Numbers(changes[s][0], changes[s][1], 0) for s in seconds])


def test_a_segment_s_peak_gain_and_average():
    steps = steps_of({T0: (10, 10), T0 + 5: (30, 35), T0 + 8: (20, 40), T0 + 12: (0, 40)})
    opening = Segment("opening", "carnival", T0 + 2, "开幕式", end=T0 + 10)
    (row,) = segment_figures(steps, [opening], T0 + 60)
    assert (row.start, row.end, row.peak, row.peak_at) == (T0 + 2, T0 + 10, 30, T0 + 5)
    assert row.views_gained == 40 - 10
    assert row.average_concurrent == (3 * 10 + 3 * 30 + 2 * 20) / 8


def test_an_open_segment_counts_through_the_report_s_end_and_later_ones_are_left_out():
    steps = steps_of({T0: (4, 4)})
    now_on = Segment("a", "carnival", T0, "a")
    (row,) = segment_figures(steps, [now_on, Segment("b", "carnival", T0 + 100, "b")], T0 + 9)
    assert (row.end, row.peak, row.average_concurrent, row.views_gained) == (T0 + 10, 4, 4.0, 4)


def test_a_segment_no_one_watched_has_no_peak_time():
    (row,) = segment_figures(None, [Segment("a", "carnival", T0, "a", end=T0 + 5)], T0 + 9)
    assert (row.peak, row.peak_at, row.views_gained, row.average_concurrent) == (0, None, 0, 0.0)


def test_the_segment_of_the_peak():
    opening = Segment("opening", "carnival", T0, "开幕式")
    assert peak_segment([opening], T0 + 3) == opening
    assert peak_segment([opening], T0 - 1) is None
    assert peak_segment([opening], None) is None


@given(
    changes=st.dictionaries(
        st.integers(0, 120),
        st.tuples(st.integers(0, 50), st.integers(0, 200)),
        max_size=15,
    ),
    starts=st.lists(st.integers(0, 130), min_size=1, max_size=5, unique=True),
    lengths=st.lists(st.one_of(st.none(), st.integers(1, 40)), min_size=5, max_size=5),
    last=st.integers(0, 150),
)
def test_figures_match_a_second_by_second_count(changes, starts, lengths, last):
    # Views only grow: make the drawn ones cumulative.
    running, ordered = 0, {}
    for second in sorted(changes):
        running = max(running, changes[second][1])
        ordered[T0 + second] = (changes[second][0], running)
    steps = steps_of(ordered)
    ordered_starts = sorted(starts)
    programme = []
    for i, start in enumerate(ordered_starts):
        length = lengths[i]
        following = ordered_starts[i + 1] if i + 1 < len(ordered_starts) else None
        if length is not None and following is not None:
            length = min(length, following - start)
        end = 0 if length is None else T0 + start + length
        programme.append(Segment(f"s{i}", "carnival", T0 + start, f"s{i}", end=end))
    rows = segment_figures(steps, programme, T0 + last)
    expected_slots = [s for s in slots(programme) if s.start <= T0 + last]
    assert [r.segment for r in rows] == [s.segment for s in expected_slots]
    for row, slot in zip(rows, expected_slots, strict=True):
        end = min(T0 + last + 1, slot.end if slot.end is not None else T0 + last + 1)
        values = [steps.at(s).concurrent for s in range(slot.start, end)]
        assert row.end == end
        assert row.peak == max(values)
        assert row.peak_at == (None if max(values) == 0 else slot.start + values.index(max(values)))
        assert row.average_concurrent == sum(values) / len(values)
        assert row.views_gained == steps.at(end - 1).views - steps.at(slot.start - 1).views


def test_two_segments_starting_in_one_second_leave_the_first_without_a_row():
    # check_fits refuses it, but two writers racing could still store both.
    steps = steps_of({T0: (5, 5)})
    a, b = Segment("a", "carnival", T0, "a"), Segment("b", "carnival", T0, "b")
    (row,) = segment_figures(steps, [a, b], T0 + 9)
    assert row.segment == b and row.peak == 5
