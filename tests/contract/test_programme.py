"""A stream's programme: each segment's end, the segment on at a second, overlaps refused."""

from __future__ import annotations

import pytest

from contract.programme import Slot, check_fits, segment_at, slot_at, slots
from contract.registry import Clash, Segment

T0 = 1_734_778_800  # 2024-12-21T19:00:00+08:00
OPENING = Segment("opening", "carnival", T0, "开幕式", "Opening ceremony")
DANCE = Segment("dance", "carnival", T0 + 1800, "街舞", end=T0 + 3000)
CHOIR = Segment("choir", "carnival", T0 + 3600, "合唱")


def test_each_segment_ends_at_its_end_or_the_next_start():
    assert slots([CHOIR, OPENING, DANCE]) == [
        Slot(OPENING, T0 + 1800),
        Slot(DANCE, T0 + 3000),
        Slot(CHOIR, None),
    ]


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (T0 - 1, None),
        (T0, OPENING),
        (T0 + 1799, OPENING),
        (T0 + 1800, DANCE),
        (T0 + 2999, DANCE),
        (T0 + 3000, None),  # the gap after an explicit end
        (T0 + 3599, None),
        (T0 + 3600, CHOIR),
        (T0 + 10**6, CHOIR),  # the last one lasts until the stream ends
    ],
)
def test_the_segment_on_at_a_second(second, expected):
    assert segment_at([DANCE, CHOIR, OPENING], second) == expected


def test_no_programme_has_no_segment():
    assert segment_at([], T0) is None
    assert slots([]) == []


def test_a_segment_may_not_start_with_another():
    with pytest.raises(Clash, match="'opening' .*already starts at that second"):
        check_fits([OPENING], Segment("x", "carnival", T0, "x"))


@pytest.mark.parametrize(
    "new",
    [
        Segment("x", "carnival", T0 + 2000, "x"),  # starts inside the dance
        Segment("x", "carnival", T0 + 60, "x", end=T0 + 1801),  # ends after the dance starts
    ],
)
def test_overlapping_segments_are_refused(new):
    with pytest.raises(Clash, match="must not overlap"):
        check_fits([OPENING, DANCE, CHOIR], new)


def test_a_segment_fits_a_gap_and_may_replace_itself():
    check_fits([OPENING, DANCE, CHOIR], Segment("x", "carnival", T0 + 3000, "x", end=T0 + 3600))
    check_fits(
        [OPENING, DANCE, CHOIR], Segment("dance", "carnival", T0 + 1900, "街舞", end=T0 + 3600)
    )


def test_the_slot_at_a_second_carries_its_end():
    assert slot_at([OPENING, DANCE, CHOIR], T0 + 100) == Slot(OPENING, T0 + 1800)
    assert slot_at([OPENING, DANCE, CHOIR], T0 + 3100) is None  # the gap after the dance
    assert slot_at([CHOIR], T0 + 10**6) == Slot(CHOIR, None)
