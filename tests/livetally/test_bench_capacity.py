"""The capacity ramp's verdicts: when a step counts as sustained, and which one is the box's."""

from __future__ import annotations

import pytest

from livetally.bench.capacity import Step, audience_at, capacity, lag_keeps_growing, midpoint


def test_a_lag_that_keeps_rising_is_growing_one_that_wobbles_is_not():
    rising = [(t, 1000 * t) for t in range(0, 62, 2)]  # 1,000 records more each second
    assert lag_keeps_growing(rising, records_per_s=200)
    wobbling = [(t, 300 if t % 4 else 50) for t in range(0, 62, 2)]  # periodic commits
    assert not lag_keeps_growing(wobbling, records_per_s=200)
    draining = [(t, 60_000 - 1000 * t) for t in range(0, 62, 2)]
    assert not lag_keeps_growing(draining, records_per_s=200)


def test_lag_growth_within_two_seconds_of_records_is_noise():
    # Rises by 390 records over the step: under 2 s of 200 records/s.
    slow = [(t, 10 + int(6.5 * t)) for t in range(0, 62, 2)]
    assert not lag_keeps_growing(slow, records_per_s=200)
    assert lag_keeps_growing(slow, records_per_s=100)


def test_only_the_end_of_a_long_step_is_judged():
    # A backlog built in the first minute and then held flat is not growing any more.
    samples = [(t, min(t, 60) * 1000) for t in range(0, 182, 2)]
    assert not lag_keeps_growing(samples, records_per_s=100, window_s=60)
    assert lag_keeps_growing(samples, records_per_s=100, window_s=180)


def test_too_few_samples_say_nothing():
    assert not lag_keeps_growing([], 100)
    assert not lag_keeps_growing([(0, 0), (2, 10_000)], 100)


def _step(offered, accepted, p95, lag=()):
    return Step(offered=offered, accepted_per_s=accepted, p95_ms=p95, lag=lag, records_per_s=50)


@pytest.mark.parametrize(
    ("step", "why"),
    [
        (_step(20_000, 19_990, 900.0), ""),
        (_step(20_000, 18_000, 900.0), "ingest accepted 18,000 of 20,000/s"),
        (_step(20_000, 20_000, 2500.0), "end-to-end p95 2,500 ms > 2,000 ms"),
        (_step(20_000, 20_000, None), "no probe was accepted"),
        (
            _step(20_000, 20_000, 800.0, tuple((t, 500 * t) for t in range(0, 60, 2))),
            "the worker's lag kept growing (to 29,000 records)",
        ),
    ],
)
def test_a_step_is_sustained_only_if_accepted_fast_and_not_falling_behind(step, why):
    assert step.why_not() == why
    assert step.sustained == (why == "")


def test_a_load_generator_behind_its_schedule_is_named_with_the_miss():
    late = Step(offered=90_000, accepted_per_s=70_000, p95_ms=900.0, send_lag_s=3.2)
    assert late.why_not() == (
        "ingest accepted 70,000 of 90,000/s; the load generator fell 3.2 s behind"
    )
    assert Step(offered=10, accepted_per_s=10, p95_ms=1.0, send_lag_s=3.2).why_not() == ""


def test_the_capacity_is_the_highest_sustained_step():
    steps = [
        _step(20_000, 20_000, 500.0),
        _step(40_000, 39_500, 1500.0),
        _step(60_000, 52_000, 9e3),
    ]
    best = capacity(steps)
    assert best is not None and best.offered == 40_000
    assert capacity([_step(20_000, 20_000, 2001.0)]) is None
    assert capacity([]) is None


def test_the_audience_of_a_rate_at_the_heartbeat_interval():
    assert audience_at(80_000, 10) == 800_000


def test_the_ramp_tries_halfway_to_a_failed_step_when_that_is_far_enough_from_both():
    assert midpoint(40_000, 60_000) == 50_000
    assert midpoint(0, 20_000) == 10_000
    assert midpoint(1_000, 2_000) == 1_500
    assert midpoint(59_000, 60_000) is None  # within 5 % of both
    assert midpoint(60_000, 60_000) is None
