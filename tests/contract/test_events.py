"""The full check of one event: its rules beyond the schema, its messages, its normal form.

What the schema itself states (types, lengths, the field set) is held to ``contract.wire``
in ``test_wire.py``; here are the rules only the full check knows.
"""

from __future__ import annotations

from typing import Any

import pytest

from contract.events import Event, Rejection, parse_event, parse_ts

NOW = 1_734_780_000_000  # 2024-12-21T11:20:00Z
STREAMS = frozenset({"carnival", "成都"})
JOIN: dict[str, Any] = {"type": "join", "stream": "carnival", "ts": NOW, "session_id": "s1"}
COUNT: dict[str, Any] = {"type": "count", "stream": "carnival", "ts": NOW, "concurrent": 7}


def sessions(raw: object) -> Event | Rejection:
    return parse_event(raw, now_ms=NOW, streams=STREAMS, mode="sessions")


def reports(raw: object) -> Event | Rejection:
    return parse_event(raw, now_ms=NOW, streams=STREAMS, mode="reports")


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2024-12-21T19:30:00+08:00", 1_734_780_600_000),
        ("2024-12-21T11:30:00Z", 1_734_780_600_000),
        ("2024-12-21t11:30:00z", 1_734_780_600_000),
        ("2024-12-21 11:30:00Z", 1_734_780_600_000),
        ("2024-12-21T11:30:00.5-01:00", 1_734_784_200_500),
        ("2024-12-21T11:30:00.123Z", 1_734_780_600_123),
        ("2024-12-21T11:30:00.123456789Z", 1_734_780_600_123),
        ("2024-12-21T11:30:00.9999999Z", 1_734_780_600_999),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_an_rfc3339_time_with_an_offset_becomes_epoch_milliseconds(text, ms):
    assert parse_ts(text) == ms


@pytest.mark.parametrize("value", [0, NOW, -(2**53) + 1, 2**53 - 1])
def test_an_integer_time_in_range_is_taken_as_epoch_milliseconds(value):
    assert parse_ts(value) == value


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (2**53, ValueError, "ts is out of range"),
        (-(2**53), ValueError, "ts is out of range"),
        ("2024-12-21T11:30:00", ValueError, "ts must be RFC 3339 with an offset"),
        ("2024-12-21", ValueError, "ts must be RFC 3339 with an offset"),
        ("2024-12-21T11:30Z", ValueError, "ts must be RFC 3339 with an offset"),
        ("2024-12-21T11:30:00+0800", ValueError, "ts must be RFC 3339 with an offset"),
        (str(NOW), ValueError, "ts must be RFC 3339 with an offset"),
        ("2024-02-30T00:00:00Z", ValueError, "ts '2024-02-30T00:00:00Z' is not a valid date"),
        ("2024-12-21T25:00:00Z", ValueError, "ts '2024-12-21T25:00:00Z' is not a valid date"),
        (True, TypeError, "ts must be an RFC 3339 string or integer epoch milliseconds"),
        (1.5, TypeError, "ts must be an RFC 3339 string or integer epoch milliseconds"),
        (None, TypeError, "ts must be an RFC 3339 string or integer epoch milliseconds"),
    ],
)
def test_a_time_that_is_neither_is_refused_saying_why(value, error, message):
    with pytest.raises(error) as refused:
        parse_ts(value)
    assert str(refused.value).startswith(message)


def test_an_rfc3339_time_in_an_event_is_stored_in_milliseconds():
    event = sessions({**JOIN, "ts": "2024-12-21T19:22:00+08:00"})
    assert isinstance(event, Event) and event.ts == NOW + 120_000


def test_an_accepted_event_carries_every_field_it_was_given():
    raw = {
        **JOIN,
        "stream": "成都",
        "viewer_id": "v1",
        "event_id": "e1",
        "platform": "douyu",
        "concurrent": 0,
        "cumulative": 2,
        "uniques": 3,
    }
    assert sessions(raw) == Event("join", "成都", NOW, "s1", "v1", "e1", 0, 2, 3)


@pytest.mark.parametrize(
    ("event", "record"),
    [
        (
            Event("join", "s", 1, session_id="x"),
            {"type": "join", "stream": "s", "ts": 1, "session_id": "x"},
        ),
        (
            Event("join", "s", 1, session_id="x", event_id=""),
            {"type": "join", "stream": "s", "ts": 1, "session_id": "x", "event_id": ""},
        ),
        (
            Event("count", "s", 2, concurrent=0),
            {"type": "count", "stream": "s", "ts": 2, "concurrent": 0},
        ),
        (
            Event("leave", "s", 3, "x", "v", "e", 1, 2, 3),
            {
                "type": "leave",
                "stream": "s",
                "ts": 3,
                "session_id": "x",
                "viewer_id": "v",
                "event_id": "e",
                "concurrent": 1,
                "cumulative": 2,
                "uniques": 3,
            },
        ),
    ],
)
def test_the_stored_record_leaves_absent_fields_out_and_keeps_zeros(event, record):
    assert event.to_record() == record
    assert list(event.to_record()) == list(record)


@pytest.mark.parametrize(
    ("event", "key"),
    [
        (Event("join", "s", 1, session_id="x", viewer_id="v"), "v"),
        (Event("join", "s", 1, session_id="x"), "x"),
        (Event("count", "s", 1, concurrent=1), ""),
        (Event("join", "s", 1, session_id="x", viewer_id=""), "x"),
    ],
)
def test_the_viewer_is_the_viewer_id_else_the_session(event, key):
    assert event.viewer_key == key


@pytest.mark.parametrize(
    ("raw", "check", "rejection"),
    [
        ([JOIN], sessions, Rejection("not_an_object", "each event must be a JSON object")),
        ("join", sessions, Rejection("not_an_object", "each event must be a JSON object")),
        (
            {**JOIN, "zeta": 1, "alpha": 2},
            sessions,
            Rejection("unknown_field", "unknown field(s): alpha, zeta"),
        ),
        ({**JOIN, "type": 1}, sessions, Rejection("bad_type", "type must be a string")),
        (
            {**JOIN, "ts": None},
            sessions,
            Rejection("bad_type", "ts must be an RFC 3339 string or integer epoch milliseconds"),
        ),
        (
            {k: v for k, v in JOIN.items() if k != "ts"},
            sessions,
            Rejection("missing_field", "ts is required"),
        ),
        (
            {**JOIN, "ts": "yesterday"},
            sessions,
            Rejection(
                "bad_value", "ts must be RFC 3339 with an offset, e.g. 2024-12-21T19:30:00+08:00"
            ),
        ),
        (
            {**JOIN, "ts": 1.5},
            sessions,
            Rejection("bad_type", "ts must be an RFC 3339 string or integer epoch milliseconds"),
        ),
        (
            {**JOIN, "session_id": None},
            sessions,
            Rejection("bad_type", "session_id must be a string, not null"),
        ),
        (
            {k: v for k, v in JOIN.items() if k != "session_id"},
            sessions,
            Rejection("missing_field", "session_id is required for join events"),
        ),
        (
            {"type": "leave", "stream": "carnival", "ts": NOW},
            sessions,
            Rejection("missing_field", "session_id is required for leave events"),
        ),
        (
            {**JOIN, "session_id": "tab\there"},
            sessions,
            Rejection("bad_value", "session_id must contain only printable characters"),
        ),
        (
            {**JOIN, "viewer_id": "line\n"},
            sessions,
            Rejection("bad_value", "viewer_id must contain only printable characters"),
        ),
        (
            {**JOIN, "platform": "\x00"},
            sessions,
            Rejection("bad_value", "platform must contain only printable characters"),
        ),
        (
            {**JOIN, "platform": 3},
            sessions,
            Rejection("bad_type", "platform must be a string"),
        ),
        (
            {**JOIN, "event_id": 5},
            sessions,
            Rejection("bad_type", "event_id must be a string"),
        ),
        (
            {**JOIN, "concurrent": -1},
            sessions,
            Rejection("bad_value", "concurrent must not be negative"),
        ),
        (
            {**JOIN, "uniques": True},
            sessions,
            Rejection("bad_type", "uniques must be a non-negative integer"),
        ),
        (
            {**JOIN, "cumulative": "3"},
            sessions,
            Rejection("bad_type", "cumulative must be a non-negative integer"),
        ),
        (
            {**JOIN, "stream": "elsewhere"},
            sessions,
            Rejection("unknown_stream", "stream 'elsewhere' is not registered"),
        ),
        (
            {**JOIN, "stream": 7},
            sessions,
            Rejection("bad_type", "stream must be a string"),
        ),
        (
            JOIN,
            reports,
            Rejection("wrong_mode", "this partner reports in reports mode: type must be count"),
        ),
        (
            {k: v for k, v in COUNT.items() if k != "concurrent"},
            reports,
            Rejection("missing_field", "concurrent is required for count events"),
        ),
    ],
)
def test_each_rule_refuses_with_its_code_and_sentence(raw, check, rejection):
    assert check(raw) == rejection


def test_a_count_report_needs_no_session():
    assert reports({**COUNT, "cumulative": 9}) == Event(
        "count", "carnival", NOW, concurrent=7, cumulative=9
    )


def test_an_empty_event_id_is_kept_and_a_null_one_dropped():
    empty = sessions({**JOIN, "event_id": ""})
    null = sessions({**JOIN, "event_id": None})
    assert isinstance(empty, Event) and empty.to_record()["event_id"] == ""
    assert isinstance(null, Event) and "event_id" not in null.to_record()


def test_the_time_window_is_checked_against_the_clock_given():
    old = {**JOIN, "ts": NOW - 86_400_000}
    assert isinstance(sessions(old), Event)
    later = parse_event(old, now_ms=NOW + 1, streams=STREAMS, mode="sessions")
    assert later == Rejection("ts_too_old", "ts is more than 24 hours old")


def test_the_stream_is_looked_up_in_whatever_container_is_given():
    assert isinstance(parse_event(JOIN, now_ms=NOW, streams=["carnival"], mode="sessions"), Event)
    refused = parse_event(JOIN, now_ms=NOW, streams={}, mode="sessions")
    assert isinstance(refused, Rejection) and refused.code == "unknown_stream"


def test_the_stream_is_checked_last():
    # A partner learns of every fault of its event before it is told the stream is unknown.
    raw = {**JOIN, "stream": "elsewhere", "session_id": None}
    assert sessions(raw) == Rejection("bad_type", "session_id must be a string, not null")
