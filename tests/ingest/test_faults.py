"""The error id and the sliding window of unexpected failures, on a fake clock."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.faults import ErrorWindow, new_error_id


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_error_ids_are_short_hex_and_distinct():
    ids = {new_error_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{12}", i) for i in ids)


def test_the_window_is_exceeded_only_past_the_limit():
    window = ErrorWindow(3, clock=FakeClock())
    for _ in range(3):
        window.record()
    assert (window.count(), window.exceeded) == (3, False)
    window.record()
    assert (window.count(), window.exceeded) == (4, True)


def test_failures_older_than_the_window_no_longer_count():
    clock = FakeClock()
    window = ErrorWindow(2, clock=clock)
    window.record()
    clock.now += 30
    window.record()
    window.record()
    assert window.exceeded
    clock.now += 30  # the first is exactly a minute old: out
    assert (window.count(), window.exceeded) == (2, False)
    clock.now += 30
    assert window.count() == 0


def test_a_flood_keeps_only_what_the_answer_needs():
    window = ErrorWindow(5, clock=FakeClock())
    for _ in range(100_000):
        window.record()
    assert window.count() == 6 and window.exceeded


def test_a_limit_of_zero_turns_on_the_first_failure():
    window = ErrorWindow(0, clock=FakeClock())
    assert not window.exceeded
    window.record()
    assert window.exceeded


@pytest.mark.parametrize(("limit", "window_s"), [(-1, 60.0), (3, 0.0), (3, -1.0)])
def test_bad_arguments_are_programming_errors(limit, window_s):
    with pytest.raises(ValueError):
        ErrorWindow(limit, window_s=window_s)


@given(
    limit=st.integers(0, 6),
    steps=st.lists(
        st.one_of(st.just("fail"), st.floats(0, 40, allow_nan=False)),
        max_size=60,
    ),
)
def test_the_window_agrees_with_counting_every_failure(limit, steps):
    clock = FakeClock()
    window = ErrorWindow(limit, window_s=60.0, clock=clock)
    times: list[float] = []
    for step in steps:
        if step == "fail":
            window.record()
            times.append(clock.now)
        else:
            clock.now += step
        in_window = sum(1 for t in times if t > clock.now - 60.0)
        assert window.count() == min(in_window, limit + 1)
        assert window.exceeded == (in_window > limit)


def test_failures_that_are_a_small_share_of_requests_do_not_turn_unready():
    """One partner's request that fails every time must not take every process out."""
    clock = FakeClock()
    window = ErrorWindow(3, clock=clock)
    for i in range(100):
        window.requested()
        if i % 10 == 0:
            window.record()
            clock.now += 0.1
    assert window.count() == 4 and window.requests() == (100, 10)
    assert not window.exceeded  # 10 failures of 100 requests
    for _ in range(100):
        window.requested()
        window.record()
    assert window.exceeded  # most requests fail: this process is sick


def test_requests_older_than_the_window_no_longer_count():
    clock = FakeClock()
    window = ErrorWindow(0, clock=clock)
    for _ in range(10):
        window.requested()
    clock.now += 61
    window.requested()
    window.record()
    assert window.requests() == (1, 1) and window.exceeded


def test_a_share_outside_zero_to_one_is_a_programming_error():
    with pytest.raises(ValueError):
        ErrorWindow(3, share=1.5)
