"""The event schema is the one declaration: the full check and the typed event agree with it.

The cases are read from the schema itself, so a limit changed in ``contract/wire.py`` (or a
field added to it) changes them, and any check that kept its own copy fails here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

import msgspec
import msgspec.inspect as mi
import orjson
import pytest

from contract.events import (
    EVENT_FIELDS,
    MAX_FUTURE_MS,
    MAX_PAST_MS,
    REQUIRED_FIELDS,
    Event,
    Rejection,
    parse_event,
)
from contract.wire import MAX_TS, MIN_TS, EventType, SessionType, WireEvent

NOW = 1_734_780_000_000
BASE: dict[str, Any] = {
    "type": "join",
    "stream": "s",
    "ts": NOW,
    "session_id": "x",
    "concurrent": 1,
}
"""A valid event carrying a field of every kind a type requires, so each case changes one."""
LENIENT = {("event_id", None)}
"""What the full check takes although the schema does not: an ``event_id`` of null is read
as no ``event_id`` (so such an event takes the general path, and is stored without it)."""
SCHEMA_CODES = frozenset({"bad_type", "bad_value", "unknown_field", "not_an_object"})
"""The rejections that mean "does not fit the schema" (the others are rules it cannot state)."""


class AnyStream:
    def __contains__(self, item: object) -> bool:
        return True


def _values(kind: mi.Type) -> list[tuple[object, bool]]:
    """Values at and just past each limit the schema gives a field, with whether they fit."""
    if isinstance(kind, mi.LiteralType):
        return [(value, True) for value in kind.values] + [("x" + str(kind.values[0]), False)]
    if isinstance(kind, mi.StrType):
        low = kind.min_length or 0
        out: list[tuple[object, bool]] = [("a" * max(low, 1), True), (1, False), (None, False)]
        if low:
            out.append(("a" * (low - 1), False))
        else:
            out.append(("", True))
        if kind.max_length is not None:
            out += [("a" * kind.max_length, True), ("a" * (kind.max_length + 1), False)]
        return out
    if isinstance(kind, mi.IntType):
        out = [("1", False), (1.5, False), (None, False), (True, False)]
        for bound, step in ((kind.ge, -1), (kind.le, 1)):
            if bound is not None:
                out += [(bound, True), (bound + step, False)]
        return out
    raise AssertionError(f"no cases for schema type {kind!r}: add them here")


def schema_cases() -> list[tuple[str, dict[str, Any], bool]]:
    """``(field, event, fits the schema)`` for every field the schema declares."""
    cases = []
    for field in mi.type_info(WireEvent).fields:
        for value, fits in _values(field.type):
            event = {**BASE, field.name: value}
            cases.append((field.name, event, fits))
        if not field.required:
            cases.append((field.name, {k: v for k, v in BASE.items() if k != field.name}, True))
    cases.append(("unknown", {**BASE, "surplus": 1}, False))
    return cases


def check(event: dict[str, Any]) -> Event | Rejection:
    mode = "reports" if event.get("type") == "count" else "sessions"
    return parse_event(event, now_ms=NOW, streams=AnyStream(), mode=mode)


def fits_schema(event: dict[str, Any]) -> bool:
    try:
        msgspec.json.decode(orjson.dumps(event), type=WireEvent)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize(("field", "event", "fits"), schema_cases())
def test_the_full_check_refuses_exactly_what_the_schema_refuses(field, event, fits):
    assert fits_schema(event) is fits
    result = check(event)
    refused = isinstance(result, Rejection) and result.code in SCHEMA_CODES
    if field in event and (field, event[field]) in LENIENT:
        assert isinstance(result, Event) and getattr(result, field) is None
    else:
        assert refused is not fits, (field, event, result)


def test_the_field_set_and_required_fields_are_the_schema_s():
    info = mi.type_info(WireEvent)
    assert frozenset(f.name for f in info.fields) == EVENT_FIELDS
    assert REQUIRED_FIELDS == tuple(f.name for f in info.fields if f.required)
    assert REQUIRED_FIELDS == ("type", "stream", "ts")


def test_the_event_types_are_the_schema_s():
    assert get_args(EventType) == ("join", "heartbeat", "leave", "count")
    assert set(get_args(SessionType)) == set(get_args(EventType)) - {"count"}
    (type_field,) = [f for f in mi.type_info(WireEvent).fields if f.name == "type"]
    assert set(type_field.type.values) == set(get_args(EventType))


def test_an_event_stores_the_schema_s_fields_in_the_schema_s_order():
    # The fast path encodes WireEvent as the stored form: the two must list the same fields.
    stored = [f.name for f in dataclasses.fields(Event)]
    assert [*stored, "platform"] == list(WireEvent.__struct_fields__)


@pytest.mark.parametrize(
    ("ts", "code"),
    [
        (MIN_TS - 1, "bad_value"),
        (MAX_TS + 1, "bad_value"),
        (MIN_TS, "ts_too_old"),
        (MAX_TS, "ts_in_future"),
        (NOW + MAX_FUTURE_MS + 1, "ts_in_future"),
        (NOW - MAX_PAST_MS - 1, "ts_too_old"),
    ],
)
def test_the_time_limits_are_the_schema_s(ts, code):
    result = check({**BASE, "ts": ts})
    assert isinstance(result, Rejection) and result.code == code
    assert fits_schema({**BASE, "ts": ts}) is (code != "bad_value")


def test_the_time_window_edges_are_accepted():
    for ts in (NOW + MAX_FUTURE_MS, NOW - MAX_PAST_MS):
        assert isinstance(check({**BASE, "ts": ts}), Event)


def test_messages_name_the_declared_limits():
    too_long = check({**BASE, "session_id": "a" * 129})
    assert too_long == Rejection("bad_value", "session_id must be 1 to 128 characters long")
    assert check({**BASE, "type": "watch"}) == Rejection(
        "bad_value", "type must be one of join, heartbeat, leave, count"
    )
    assert check({**BASE, "type": "count"}) != check(BASE)
    wrong = parse_event({**BASE, "type": "count"}, now_ms=NOW, streams=AnyStream(), mode="sessions")
    assert wrong == Rejection(
        "wrong_mode", "this partner reports in sessions mode: type must be join, heartbeat or leave"
    )
    assert check({**BASE, "ts": NOW + MAX_FUTURE_MS + 1}) == Rejection(
        "ts_in_future", "ts is more than 5 minutes ahead of the server clock"
    )
    assert check({**BASE, "ts": NOW - MAX_PAST_MS - 1}) == Rejection(
        "ts_too_old", "ts is more than 24 hours old"
    )
    assert check({"stream": "s", "ts": NOW}) == Rejection("missing_field", "type is required")
    assert check({"type": "join", "stream": None, "ts": NOW}) == Rejection(
        "bad_type", "stream must be a string, not null"
    )
    assert check({"type": None, "ts": NOW}) == Rejection("bad_type", "type must not be null")
    assert check({"type": "join", "ts": NOW}) == Rejection("missing_field", "stream is required")
