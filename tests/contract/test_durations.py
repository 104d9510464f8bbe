"""Durations as operators write them: the four units, the bounds, and what a refusal says."""

from __future__ import annotations

import pytest

from contract.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "1.5h", "-1d", "0s", "7w", "99999999d"])
def test_bad_durations_say_what_is_expected(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1),
        (" 90s ", 90),
        ("90 s", 90),
        ("\t2h\n", 7200),
        ("007m", 420),
        ("3650d", 3650 * 86400),
        ("315360000s", 3650 * 86400),
    ],
)
def test_whitespace_leading_zeros_and_the_ten_year_edge_are_accepted(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["7w", "1.5h", "-1d", "+1d", "1 d s", "1D", "1H", "d7", "1000000000s", ""]
)
def test_a_duration_without_a_whole_number_and_a_known_unit_names_the_units(text):
    with pytest.raises(ValueError) as refused:
        parse_duration(text)
    assert str(refused.value) == (
        f"duration {text!r} must be a whole number and a unit: 90s, 30m, 12h or 7d"
    )


@pytest.mark.parametrize("text", ["0s", "0d", "3651d", "315360001s", "87601h", "999999999d"])
def test_a_duration_outside_one_second_to_ten_years_names_the_bounds(text):
    with pytest.raises(ValueError) as refused:
        parse_duration(text)
    assert str(refused.value) == f"duration {text!r} must be between 1s and 3650d"


def test_only_ascii_digits_count():
    with pytest.raises(ValueError, match="whole number and a unit"):
        parse_duration("١s")
