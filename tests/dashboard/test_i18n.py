"""Number, share and age formatting per language, and the text table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.i18n import (
    axis_labels,
    format_age,
    format_decimal,
    format_number,
    format_percent,
    group_digits,
    lang_of,
    text,
)

# value, zh (either style), en full, en short; boundaries and rounding down
NUMBERS = [
    (0, "0", "0", "0"),
    (7, "7", "7", "7"),
    (999, "999", "999", "999"),
    (1_000, "1,000", "1,000", "1,000"),
    (8_431, "8,431", "8,431", "8,431"),
    (9_999, "9,999", "9,999", "9,999"),
    (10_000, "10,000", "10,000", "10.0k"),
    (12_345, "12,345", "12,345", "12.3k"),
    (21_000, "21,000", "21,000", "21.0k"),
    (99_999, "99,999", "99,999", "99.9k"),  # rounded down: never more than counted
    (100_000, "10.0万", "100,000", "100.0k"),
    (100_999, "10.0万", "100,999", "100.9k"),
    (999_999, "99.9万", "999,999", "999.9k"),
    (1_000_000, "100.0万", "1,000,000", "1.0M"),
    (1_032_000, "103.2万", "1,032,000", "1.0M"),
    (1_032_999, "103.2万", "1,032,999", "1.0M"),
    (12_345_678, "1234.5万", "12,345,678", "12.3M"),
    (99_999_999, "9999.9万", "99,999,999", "99.9M"),
    (100_000_000, "1.0亿", "100,000,000", "100.0M"),
    (120_000_000, "1.2亿", "120,000,000", "120.0M"),
    (999_999_999, "9.9亿", "999,999,999", "999.9M"),
    (1_000_000_000, "10.0亿", "1,000,000,000", "1.0B"),
    (10**12, "10000.0亿", "1,000,000,000,000", "1000.0B"),
    (-8_431, "-8,431", "-8,431", "-8,431"),
    (-120_000, "-12.0万", "-120,000", "-120.0k"),
]


@pytest.mark.parametrize(("value", "zh", "en", "en_short"), NUMBERS)
def test_one_number_rule_per_language_and_style(value, zh, en, en_short):
    assert format_number(value, "zh") == zh
    assert format_number(value, "zh", "short") == zh  # Chinese is short already
    assert format_number(value, "en") == en
    assert format_number(value, "en", "full") == en
    assert format_number(value, "en", "short") == en_short


@given(st.integers(min_value=0, max_value=10**12))
def test_an_abbreviated_number_never_shows_more_than_was_counted(value):
    shown = format_number(value, "zh")
    sizes = {"亿": 10**8, "万": 10**4}
    if shown[-1] in sizes:
        size = sizes[shown[-1]]
        tenths = int(shown[:-1].replace(".", ""))  # one decimal: tenths of the unit
        assert tenths * size <= value * 10 < (tenths + 1) * size
        assert value >= (10**8 if size == 10**8 else 100_000)
    else:
        assert value < 100_000 and int(shown.replace(",", "")) == value
    assert format_number(value, "en") == group_digits(value)


@pytest.mark.parametrize(
    ("ticks", "zh", "en"),
    [
        ([], [], []),
        ([0, 500, 1000, 1500], ["0", "500", "1,000", "1,500"], ["0", "500", "1,000", "1,500"]),
        (
            [0, 2000, 4000, 6000, 8000],
            ["0", "2,000", "4,000", "6,000", "8,000"],
            ["0", "2,000", "4,000", "6,000", "8,000"],
        ),
        (
            [0, 2500, 5000, 7500, 10000],
            ["0", "2,500", "5,000", "7,500", "10,000"],
            ["0", "2.5k", "5k", "7.5k", "10k"],
        ),
        (
            [0, 50_000, 100_000, 150_000],
            ["0", "5万", "10万", "15万"],
            ["0", "50k", "100k", "150k"],
        ),
        (
            [0, 25_000, 50_000, 75_000, 100_000],
            ["0", "2.5万", "5万", "7.5万", "10万"],
            ["0", "25k", "50k", "75k", "100k"],
        ),
        (
            [0, 500_000, 1_000_000, 1_500_000],
            ["0", "50万", "100万", "150万"],
            ["0", "0.5M", "1M", "1.5M"],
        ),
        (
            [0, 50_000_000, 100_000_000],
            ["0", "0.5亿", "1亿"],
            ["0", "50M", "100M"],
        ),
    ],
)
def test_an_axis_shares_one_unit_chosen_by_its_largest_tick(ticks, zh, en):
    assert axis_labels(ticks, "zh") == zh
    assert axis_labels(ticks, "en") == en


@pytest.mark.parametrize(
    ("value", "places", "zh", "en"),
    [
        (0.0, 1, "0.0", "0.0"),
        (12.34, 1, "12.3", "12.3"),
        (1234.56, 1, "1,234.6", "1,234.6"),
        (85.0, 0, "85", "85"),
        (99_999.9, 1, "99,999.9", "99,999.9"),
        (123_456.7, 1, "12.3万", "123,456.7"),
    ],
)
def test_rates_and_durations(value, places, zh, en):
    assert format_decimal(value, "zh", places) == zh
    assert format_decimal(value, "en", places) == en


def test_share_of_total():
    assert format_percent(1, 3) == "33.3%"
    assert format_percent(5, 0) == "–"


def test_age_in_whole_seconds_never_negative():
    assert format_age(1_000, 13_999) == "12"
    assert format_age(20_000, 10_000) == "0"
    assert format_age(None, 5) == "–"


def test_language_defaults_to_chinese():
    assert lang_of(None) == "zh"
    assert lang_of("fr") == "zh"
    assert lang_of("en") == "en"
    assert text("concurrent", "zh") == "在线人数"
    assert text("concurrent", "en") == "Concurrent now"
