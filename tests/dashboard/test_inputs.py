"""Callback arguments from the browser are narrowed to one shape before page code runs."""

from __future__ import annotations

import pytest
from dash.exceptions import PreventUpdate

from dashboard.inputs import (
    MAX_SIGNATURE_CHARS,
    MAX_TEXT_CHARS,
    bounded_int,
    checked,
    count,
    ident,
    one_of,
    record,
    signature,
    text_field,
)

HOSTILE = [None, True, False, -1, 2**64, 1.5, float("inf"), "", "x" * 300, [], [1], {}, {"a": 1}]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (7, 7), (2**53, 2**53), (2**53 + 1, None), (-1, None), (True, None), (1.0, None)],
)
def test_count_takes_only_non_negative_integers(value, expected):
    assert count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("carnival", "carnival"), ("", None), ("x" * 201, None), (5, None), (["carnival"], None)],
)
def test_ident_takes_only_short_strings(value, expected):
    assert ident(value) == expected


def test_text_signature_and_record_have_size_and_type_limits():
    assert text_field("a" * MAX_TEXT_CHARS) == "a" * MAX_TEXT_CHARS
    assert text_field("a" * (MAX_TEXT_CHARS + 1)) is None
    assert signature("s" * MAX_SIGNATURE_CHARS) is not None
    assert signature("s" * (MAX_SIGNATURE_CHARS + 1)) is None
    assert record({"last": 1}) == {"last": 1}
    assert record([("last", 1)]) is None


def test_bounded_int_is_inclusive_and_refuses_bools():
    assert bounded_int(5, 5, 5) == 5
    assert bounded_int(4, 5, 9) is None
    assert bounded_int(10, 5, 9) is None
    assert bounded_int(True, 0, 9) is None


@pytest.mark.parametrize("value", HOSTILE)
def test_every_coercer_answers_none_or_its_type_for_hostile_values(value):
    assert count(value) is None or isinstance(count(value), int)
    assert ident(value) is None or isinstance(ident(value), str)
    assert record(value) is None or isinstance(record(value), dict)
    assert one_of("lines", "stacked")(value) is None


def test_checked_passes_each_argument_through_its_coercer():
    seen = []
    wrapped = checked(lambda tick, mode: seen.append((tick, mode)) or "ok", count, one_of("a"))
    assert wrapped(3, "a") == "ok"
    assert wrapped("3", "b") == "ok"
    assert seen == [(3, "a"), (None, None)]


def test_checked_refuses_another_number_of_arguments():
    wrapped = checked(lambda tick: tick, count)
    with pytest.raises(PreventUpdate):
        wrapped(1, 2)


def test_checked_keeps_the_name_but_hides_the_wrapped_signature():
    def refresh(tick):
        """Doc."""

    wrapped = checked(refresh, count)
    assert wrapped.__name__ == "refresh" and wrapped.__doc__ == "Doc."
    assert not hasattr(wrapped, "__wrapped__")
