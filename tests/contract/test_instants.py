"""Reading instants: RFC 3339 with or without an offset, epoch milliseconds, and refusals."""

from __future__ import annotations

import pytest

from contract.instants import parse_second, rfc3339


@pytest.mark.parametrize(
    ("text", "second"),
    [
        ("2024-12-21T19:00:00+08:00", 1_734_778_800),
        ("2024-12-21T19:00", 1_734_778_800),  # no offset: the zone given
        ("2024-12-21 19:00:00", 1_734_778_800),
        ("1734778800999", 1_734_778_800),  # epoch ms, floored
        ("2024-12-21T11:00:00Z", 1_734_778_800),
    ],
)
def test_the_ways_to_write_an_instant(text, second):
    assert parse_second(text, "Asia/Shanghai") == second


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is empty"),
        ("7pm", "must be RFC 3339"),
        ("1" * 65, "too long"),
        ("-1000", "out of range"),
        ("9999-12-31T23:59:59+00:00", "out of range"),
    ],
)
def test_a_bad_instant_says_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_second(text, "Asia/Shanghai")


def test_an_instant_is_written_back_in_its_zone():
    assert rfc3339(1_734_778_800, "Asia/Shanghai") == "2024-12-21T19:00:00+08:00"
