"""The token bucket, driven by a fake clock."""

from __future__ import annotations

import pytest

from ingest.ratelimit import Decision, RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_of_its_capacity():
    bucket = TokenBucket(rate=100, capacity=200, clock=FakeClock())
    assert bucket.take(200).allowed
    assert not bucket.take(1).allowed


def test_refused_request_says_how_long_until_it_fits():
    clock = FakeClock()
    bucket = TokenBucket(rate=100, capacity=200, clock=clock)
    bucket.take(200)
    decision = bucket.take(50)
    assert not decision.allowed
    assert decision.retry_after_s == pytest.approx(0.5)
    assert decision.retry_after_header == 1
    clock.now += 0.5
    assert bucket.take(50).allowed


def test_tokens_refill_at_the_rate_but_never_past_capacity():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=20, clock=clock)
    bucket.take(20)
    clock.now += 1
    assert bucket.tokens == pytest.approx(10)
    clock.now += 3600
    assert bucket.tokens == pytest.approx(20)


def test_a_request_larger_than_the_bucket_passes_when_full_and_leaves_debt():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=20, clock=clock)
    assert bucket.take(50).allowed
    assert bucket.tokens == pytest.approx(-30)
    decision = bucket.take(50)
    assert not decision.allowed
    assert decision.retry_after_s == pytest.approx(5.0)  # back to a full bucket of 20


def test_a_clock_going_backwards_does_not_mint_tokens():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=20, clock=clock)
    bucket.take(20)
    clock.now -= 100
    assert bucket.tokens == pytest.approx(0)


def test_limiter_keeps_one_bucket_per_partner_with_burst_twice_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(burst_factor=2.0, clock=clock)
    assert limiter.take("a", 100, 200).allowed
    assert not limiter.take("a", 100, 1).allowed
    assert limiter.take("b", 100, 200).allowed


def test_limiter_rebuilds_a_bucket_when_the_rate_changes():
    limiter = RateLimiter(clock=FakeClock())
    limiter.take("a", 10, 20)
    assert limiter.take("a", 1000, 500).allowed


def test_zero_cost_always_passes():
    limiter = RateLimiter(clock=FakeClock())
    limiter.take("a", 1, 2)
    assert limiter.take("a", 1, 0) == Decision(True)


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (1, 0), (-1, 5)])
def test_bucket_needs_positive_rate_and_capacity(rate, capacity):
    with pytest.raises(ValueError):
        TokenBucket(rate, capacity, FakeClock())


def test_check_says_what_take_would_decide_and_spends_nothing():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert limiter.check("a", 10, 20).allowed
    assert limiter.take("a", 10, 20).allowed  # the check spent nothing
    decision = limiter.check("a", 10, 1)
    assert not decision.allowed and decision.retry_after_s == pytest.approx(0.1)
    assert limiter.check("a", 10, 1) == decision
    clock.now += 0.1
    assert limiter.check("a", 10, 1).allowed
