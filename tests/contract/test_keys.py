"""Composite record keys: parts joined by the unit separator, split back, refused by topic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.keys import join_key, split_key


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("carnival", "douyin"), b"carnival\x1fdouyin"),
        (("s", "p", 1, 2), b"s\x1fp\x1f1\x1f2"),
        (("only",), b"only"),
        (("成都", "看度"), "成都\x1f看度".encode()),
        (("", ""), b"\x1f"),
        (("s", -1, None), b"s\x1f-1\x1fNone"),
    ],
)
def test_parts_are_joined_by_the_unit_separator_as_utf8(parts, key):
    assert join_key(*parts) == key


@pytest.mark.parametrize(
    ("key", "count", "parts"),
    [
        (b"carnival\x1fdouyin", 2, ["carnival", "douyin"]),
        (b"s\x1fp\x1f1\x1f2", 4, ["s", "p", "1", "2"]),
        ("成都\x1f看度".encode(), 2, ["成都", "看度"]),
        (b"\x1f", 2, ["", ""]),
        (b"", 1, [""]),
        (None, 1, [""]),
        (b"a\xff\x1fb", 2, ["a\ufffd", "b"]),
    ],
)
def test_a_key_splits_into_its_parts(key, count, parts):
    assert split_key(key, count, "stats") == parts


@pytest.mark.parametrize(
    ("key", "count", "topic"),
    [
        (b"carnival", 2, "stats"),
        (b"s\x1fp\x1f1", 4, "partials"),
        (b"a\x1fb\x1fc", 2, "stats"),
        (None, 2, "partials"),
        (b"", 3, "metrics"),
    ],
)
def test_a_key_with_the_wrong_number_of_parts_is_refused_naming_the_topic(key, count, topic):
    with pytest.raises(ValueError) as refused:
        split_key(key, count, topic)
    assert str(refused.value) == f"bad {topic} key {key!r}"


parts = st.lists(st.text().filter(lambda t: "\x1f" not in t), min_size=1, max_size=6)


@given(parts)
def test_split_undoes_join_for_parts_without_the_separator(texts):
    assert split_key(join_key(*texts), len(texts), "t") == texts


@given(parts)
def test_a_joined_key_splits_into_no_other_count(texts):
    key = join_key(*texts)
    for wrong in (len(texts) - 1, len(texts) + 1):
        with pytest.raises(ValueError, match="bad t key"):
            split_key(key, wrong, "t")
