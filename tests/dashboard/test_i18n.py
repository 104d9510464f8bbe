"""Number, share and age formatting per language, and the text table."""

from __future__ import annotations

import pytest

from dashboard.i18n import format_age, format_number, format_percent, lang_of, text


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        (0, "0", "0"),
        (9_999, "9999", "9,999"),
        (10_000, "1万", "10,000"),
        (1_032_000, "103.2万", "1,032,000"),
        (1_032_999, "103.2万", "1,032,999"),  # rounded down: never shows more than counted
        (12_345, "1.2万", "12,345"),
        (99_999_999, "9999.9万", "99,999,999"),
        (120_000_000, "1.2亿", "120,000,000"),
        (-12_000, "-1.2万", "-12,000"),
    ],
)
def test_numbers_per_language(value, zh, en):
    assert format_number(value, "zh") == zh
    assert format_number(value, "en") == en


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
