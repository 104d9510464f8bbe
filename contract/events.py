"""The viewer event checked in full against the schema of ``contract.wire``, and normalised."""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import msgspec

from contract.wire import (
    MAX_COUNTER,
    MAX_FUTURE_MS,
    MAX_ID_LENGTH,
    MAX_PAST_MS,
    MAX_TS,
    MIN_TS,
    EventType,
    SessionType,
    WireEvent,
)

__all__ = [
    "EVENT_FIELDS",
    "MAX_COUNTER",
    "MAX_FUTURE_MS",
    "MAX_PAST_MS",
    "REQUIRED_FIELDS",
    "Event",
    "EventType",
    "PartnerMode",
    "Rejection",
    "RejectionCode",
    "parse_event",
    "parse_ts",
]

PartnerMode = Literal["sessions", "reports"]
RejectionCode = Literal[
    "not_an_object",
    "missing_field",
    "unknown_field",
    "bad_type",
    "bad_value",
    "ts_in_future",
    "ts_too_old",
    "unknown_stream",
    "stream_not_allowed",
    "wrong_mode",
]

# The rules below are read from the schema in contract/wire.py, never written again here.
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))
EVENT_FIELDS: frozenset[str] = frozenset(WireEvent.__struct_fields__)
REQUIRED_FIELDS: tuple[str, ...] = tuple(
    f.name for f in msgspec.structs.fields(WireEvent) if f.required
)
"""The fields every event has (``type``, ``stream``, ``ts``), in the schema's order."""
_REQUIRED_SET = frozenset(REQUIRED_FIELDS)
_TYPES_TEXT = ", ".join(get_args(EventType))
_SESSION_TYPES_TEXT = ", ".join(get_args(SessionType)[:-1]) + f" or {get_args(SessionType)[-1]}"
_FUTURE_TEXT = f"ts is more than {MAX_FUTURE_MS // 60_000} minutes ahead of the server clock"
_PAST_TEXT = f"ts is more than {MAX_PAST_MS // 3_600_000} hours old"

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COUNTERS = ("concurrent", "cumulative", "uniques")


@dataclass(slots=True)
class Event:
    """One accepted viewer event, normalised (``ts`` in epoch milliseconds)."""

    type: EventType
    stream: str
    ts: int
    session_id: str | None = None
    viewer_id: str | None = None
    event_id: str | None = None
    concurrent: int | None = None
    cumulative: int | None = None
    uniques: int | None = None

    @property
    def viewer_key(self) -> str:
        """The viewer identity: ``viewer_id``, else ``session_id``, else empty (reports)."""
        return self.viewer_id or self.session_id or ""

    def to_record(self) -> dict[str, Any]:
        """The event as the compact mapping stored in Kafka (absent fields left out)."""
        # Spelled out rather than looped over field names: this runs once per stored event.
        out: dict[str, Any] = {"type": self.type, "stream": self.stream, "ts": self.ts}
        if self.session_id is not None:
            out["session_id"] = self.session_id
        if self.viewer_id is not None:
            out["viewer_id"] = self.viewer_id
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.concurrent is not None:
            out["concurrent"] = self.concurrent
        if self.cumulative is not None:
            out["cumulative"] = self.cumulative
        if self.uniques is not None:
            out["uniques"] = self.uniques
        return out


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event was refused: a stable machine code and a sentence for people."""

    code: RejectionCode
    detail: str


class _Reject(Exception):
    def __init__(self, code: RejectionCode, detail: str) -> None:
        super().__init__(detail)
        self.rejection = Rejection(code, detail)


def parse_ts(value: object) -> int:
    """Parse an event time (RFC 3339 with offset, or integer epoch ms) into epoch ms.

    Raises ``ValueError`` with a sentence saying what is wrong.
    """
    if isinstance(value, bool):
        raise TypeError("ts must be an RFC 3339 string or integer epoch milliseconds")
    if isinstance(value, int):
        if not MIN_TS <= value <= MAX_TS:
            raise ValueError("ts is out of range")
        return value
    if isinstance(value, str):
        if not _RFC3339.match(value):
            raise ValueError("ts must be RFC 3339 with an offset, e.g. 2024-12-21T19:30:00+08:00")
        text = value.replace("z", "Z")
        # fromisoformat takes at most microseconds; keep the first six digits.
        match = re.match(r"^(.*?\.\d{6})\d+(.*)$", text)
        if match:
            text = match.group(1) + match.group(2)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"ts {value!r} is not a valid date and time") from None
        return (parsed - _EPOCH) // timedelta(milliseconds=1)
    raise TypeError("ts must be an RFC 3339 string or integer epoch milliseconds")


def _text(raw: Mapping[str, Any], name: str, *, max_length: int = MAX_ID_LENGTH) -> str | None:
    value = raw.get(name)
    if value is None:
        if name in raw:
            raise _Reject("bad_type", f"{name} must be a string, not null")
        return None
    if value.__class__ is not str:
        raise _Reject("bad_type", f"{name} must be a string")
    if not 0 < len(value) <= max_length:
        raise _Reject("bad_value", f"{name} must be 1 to {max_length} characters long")
    if not value.isprintable():
        raise _Reject("bad_value", f"{name} must contain only printable characters")
    return value


def _counter(value: object, name: str) -> int:
    if value.__class__ is not int:
        raise _Reject("bad_type", f"{name} must be a non-negative integer")
    assert isinstance(value, int)  # noqa: S101 - narrowing for mypy
    if value < 0:
        raise _Reject("bad_value", f"{name} must not be negative")
    if value > MAX_COUNTER:
        raise _Reject("bad_value", f"{name} must be at most {MAX_COUNTER}")
    return value


def parse_event(
    raw: object,
    *,
    now_ms: int,
    streams: Container[str],
    mode: PartnerMode,
    allowed: Container[str] | None = None,
) -> Event | Rejection:
    """Check one raw event against the contract and normalise it.

    ``now_ms`` is the clock the time window is checked against: the server's clock at
    ingest, the record's ingest time when the stream app re-checks a stored record (so a
    replay tomorrow accepts exactly what was accepted today). The ``platform`` field is
    checked by the caller, which knows the partner. ``allowed`` (ingest only) are the
    streams this partner may post to, None for any: the worker does not re-check it, since
    a limit changed later must not change what was accepted.
    """
    try:
        return _parse(raw, now_ms=now_ms, streams=streams, mode=mode, allowed=allowed)
    except _Reject as reject:
        return reject.rejection


def _parse(
    raw: object,
    *,
    now_ms: int,
    streams: Container[str],
    mode: PartnerMode,
    allowed: Container[str] | None,
) -> Event:
    # Hot path of both ingest and the worker: plain checks, no per-field allocations.
    if raw.__class__ is not dict:
        raise _Reject("not_an_object", "each event must be a JSON object")
    assert isinstance(raw, dict)  # noqa: S101 - narrowing for mypy
    if not raw.keys() <= EVENT_FIELDS:
        unknown = sorted(str(k) for k in raw.keys() - EVENT_FIELDS)
        raise _Reject("unknown_field", f"unknown field(s): {', '.join(unknown)}")
    kind = raw.get("type")
    if kind is None or not raw.keys() >= _REQUIRED_SET:
        missing = next(n for n in REQUIRED_FIELDS if raw.get(n) is None)
        if missing in raw:
            raise _Reject("bad_type", f"{missing} must not be null")
        raise _Reject("missing_field", f"{missing} is required")
    if kind.__class__ is not str:
        raise _Reject("bad_type", "type must be a string")
    if kind not in EVENT_TYPES:
        raise _Reject("bad_value", f"type must be one of {_TYPES_TEXT}")
    if (kind == "count") != (mode == "reports"):
        wanted = "count" if mode == "reports" else _SESSION_TYPES_TEXT
        raise _Reject("wrong_mode", f"this partner reports in {mode} mode: type must be {wanted}")
    stream = _text(raw, "stream")
    if stream is None:
        raise _Reject("bad_type", "stream must be a string, not null")
    ts_raw = raw["ts"]
    if ts_raw.__class__ is int and MIN_TS <= ts_raw <= MAX_TS:
        ts: int = ts_raw
    else:
        try:
            ts = parse_ts(ts_raw)
        except TypeError as exc:
            raise _Reject("bad_type", str(exc)) from None
        except ValueError as exc:
            raise _Reject("bad_value", str(exc)) from None
    if ts > now_ms + MAX_FUTURE_MS:
        raise _Reject("ts_in_future", _FUTURE_TEXT)
    if ts < now_ms - MAX_PAST_MS:
        raise _Reject("ts_too_old", _PAST_TEXT)
    session_id = _text(raw, "session_id")
    viewer_id = _text(raw, "viewer_id") if "viewer_id" in raw else None
    if "platform" in raw:
        _text(raw, "platform")
    event_id = raw.get("event_id")
    if event_id is not None:
        if event_id.__class__ is not str:
            raise _Reject("bad_type", "event_id must be a string")
        if len(event_id) > MAX_ID_LENGTH:
            raise _Reject("bad_value", f"event_id must be at most {MAX_ID_LENGTH} characters")
    concurrent = cumulative = uniques = None
    if "concurrent" in raw:
        concurrent = _counter(raw["concurrent"], "concurrent")
    if "cumulative" in raw:
        cumulative = _counter(raw["cumulative"], "cumulative")
    if "uniques" in raw:
        uniques = _counter(raw["uniques"], "uniques")
    if kind == "count":
        if concurrent is None:
            raise _Reject("missing_field", "concurrent is required for count events")
    elif session_id is None:
        raise _Reject("missing_field", f"session_id is required for {kind} events")
    if stream not in streams:
        raise _Reject("unknown_stream", f"stream {stream!r} is not registered")
    if allowed is not None and stream not in allowed:
        raise _Reject("stream_not_allowed", f"this partner may not post to stream {stream!r}")
    return Event(
        kind,  # type: ignore[arg-type]
        stream,
        ts,
        session_id,
        viewer_id,
        event_id,
        concurrent,
        cumulative,
        uniques,
    )
