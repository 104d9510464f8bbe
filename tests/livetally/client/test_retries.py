"""When the SDK retries and how long it waits: Retry-After and jittered back-off."""

from __future__ import annotations

import random

import pytest

from livetally.client import backoff_delay, parse_retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("soon", None),
        ("Sat, 21 Dec 2024 11:00:10 GMT", 10.0),
        ("Sat, 21 Dec 2024 10:59:00 GMT", 0.0),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(header, expected):
    now = 1734778800.0  # 2024-12-21 11:00:00 UTC
    assert parse_retry_after(header, now=now) == expected


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_is_jittered_within_an_exponential_bound(attempt):
    rng = random.Random(attempt)
    bound = min(30.0, 0.25 * 2**attempt)
    delays = [backoff_delay(attempt, rng=rng) for _ in range(50)]
    assert all(bound / 2 <= d <= bound for d in delays)
    assert len(set(delays)) > 1  # jitter spreads clients apart


def test_backoff_honours_retry_after_as_a_floor():
    rng = random.Random(1)
    assert backoff_delay(0, retry_after=5.0, rng=rng) == 5.0
    assert 16.0 <= backoff_delay(7, retry_after=1.0, rng=rng) <= 30.0
    with pytest.raises(ValueError):
        backoff_delay(-1)
