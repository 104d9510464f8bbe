"""Parsing bodies into raw events, duplicate keys, platform checks and per-event validation."""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.exceptions import MalformedBody, PlatformMismatch, TooManyEvents
from ingest.validation import (
    check_platform,
    has_duplicate_keys,
    parse_json_events,
    parse_ndjson_events,
    validate_events,
)


def malformed_code(parse, data: bytes) -> str:
    with pytest.raises(MalformedBody) as raised:
        parse(data, max_events=1000)
    return raised.value.code


def test_json_body_yields_its_events_list():
    assert parse_json_events(b'{"events": [{"a": 1}, 2]}', max_events=10) == [{"a": 1}, 2]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "bad_body_shape"),
        (b"  \n", "bad_body_shape"),
        (b"[]", "bad_body_shape"),
        (b'{"events": {}}', "bad_body_shape"),
        (b'{"evts": []}', "bad_body_shape"),
        (b'{"events": [], "extra": 1}', "bad_body_shape"),
        (b'{"events": [', "malformed_json"),
        (b'{"events": [1,]}', "malformed_json"),
        (b'\xef\xbb\xbf{"events": []}', "malformed_json"),
        (b'{"events": [{"s": "\xff"}]}', "not_utf8"),
        (b'{"events": [{"s": "\xed\xa0\x80"}]}', "not_utf8"),
        (b'{"events": [{"n": NaN}]}', "non_finite_number"),
        (b'{"events": [{"n": -Infinity}]}', "non_finite_number"),
        (b'{"events": [{"n": 1e400}]}', "malformed_json"),
        (b'{"events": [{"a": 1, "a": 2}]}', "duplicate_key"),
        (b'{"events": [], "events": []}', "duplicate_key"),
        (b'{"events": [{"a": {"b": 1, "b": 1}}]}', "duplicate_key"),
        (b'{"events": [{"a\\u0062": 1, "ab": 2}]}', "duplicate_key"),
        (b'{"events": [{"a" : 1, "a"\n:2}]}', "duplicate_key"),
        (b"[" * 5000 + b"]" * 5000, "malformed_json"),
    ],
)
def test_bad_json_bodies_get_a_specific_code(body, code):
    assert malformed_code(parse_json_events, body) == code


def test_json_body_over_the_event_limit_is_refused():
    with pytest.raises(TooManyEvents):
        parse_json_events(orjson.dumps({"events": [{}] * 11}), max_events=10)


@pytest.mark.parametrize(
    "body",
    [
        b'{"events": [{"a": "\\"b\\":", "b": 1}]}',  # escaped quotes before a colon
        b'{"events": [{"a": ":", "b": ": "}]}',  # values that look like key ends
        b'{"events": [{"a": " :x"}, {"a": "\\u00e9"}]}',
        b'{"events": [{"a": [{"b": 1}, {"b": 2}]}]}',  # same name in sibling objects
    ],
)
def test_tricky_bodies_without_duplicates_are_accepted(body):
    assert parse_json_events(body, max_events=10) == orjson.loads(body)["events"]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_serialised_documents_never_have_duplicates(doc):
    # Serialising a parsed document can never write a member name twice.
    wrapped = {"events": [doc]}
    for data in (orjson.dumps(wrapped), orjson.dumps(wrapped, option=orjson.OPT_INDENT_2)):
        assert has_duplicate_keys(data, [doc]) is None
    assert has_duplicate_keys(orjson.dumps(doc), [doc], lines=True) is None


@given(st.lists(st.sampled_from(["a", "b", "a\\u0062", "ab", ":", '\\":']), min_size=2, max_size=5))
def test_duplicates_are_found_exactly_when_a_decoded_name_repeats(names):
    text = "{" + ",".join(f'"{name}": 1' for name in names) + "}"
    data = text.encode()
    decoded = [orjson.loads(f'"{name}"') for name in names]
    found = has_duplicate_keys(data, [orjson.loads(data)], lines=True)
    assert (found is not None) == (len(set(decoded)) < len(decoded))


def test_ndjson_yields_one_event_per_line_skipping_blank_lines():
    body = b'{"a": 1}\n\n  \r\n[1]\r\n{"b": 2}\n'
    assert parse_ndjson_events(body, max_events=10) == [{"a": 1}, [1], {"b": 2}]


def test_empty_ndjson_body_has_no_events():
    assert parse_ndjson_events(b"\n\n", max_events=10) == []


def test_bad_ndjson_line_is_named_in_the_problem():
    with pytest.raises(MalformedBody) as raised:
        parse_ndjson_events(b'{"a": 1}\n\n{"a": \n', max_events=10)
    assert raised.value.code == "malformed_ndjson"
    assert "line 3" in raised.value.detail


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"a": 1, "a": 2}\n', "duplicate_key"),
        (b'{"a": 1}\n{"n": NaN}\n', "non_finite_number"),
        (b'{"a": "\xc3"}\n', "not_utf8"),
    ],
)
def test_bad_ndjson_bodies_get_a_specific_code(body, code):
    assert malformed_code(parse_ndjson_events, body) == code


def test_ndjson_over_the_event_limit_is_refused():
    with pytest.raises(TooManyEvents):
        parse_ndjson_events(b"{}\n" * 11, max_events=10)


def test_events_naming_their_own_platform_pass_the_platform_check():
    check_platform([{"platform": "douyu"}, {}, 5, {"platform": 7}], "douyu")


def test_an_event_naming_another_platform_refuses_the_request():
    with pytest.raises(PlatformMismatch) as raised:
        check_platform([{"platform": "douyu"}, {"platform": "huya"}], "douyu")
    assert "event 1" in raised.value.detail


def test_validation_keeps_accepted_events_and_indexes_rejections():
    now = time.time_ns() // 1_000_000
    raw = [
        {"type": "join", "stream": "carnival", "ts": now, "session_id": "a"},
        {"type": "join", "stream": "elsewhere", "ts": now, "session_id": "b"},
        "nope",
        {"type": "count", "stream": "carnival", "ts": now, "concurrent": 5},
    ]
    checked = validate_events(raw, now_ms=now, streams={"carnival"}, mode="sessions")
    assert [e.session_id for e in checked.accepted] == ["a"]
    assert [(r.index, r.code) for r in checked.rejected] == [
        (1, "unknown_stream"),
        (2, "not_an_object"),
        (3, "wrong_mode"),
    ]
    assert checked.rejected[0].to_json()["detail"]
