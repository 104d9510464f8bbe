"""Parsing request bodies into raw events and checking each event against the contract."""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from contract.events import Event, PartnerMode, parse_event
from ingest.exceptions import MalformedBody, PlatformMismatch, TooManyEvents

__all__ = [
    "CheckedBatch",
    "RejectedEvent",
    "check_platform",
    "has_duplicate_keys",
    "parse_json_events",
    "parse_ndjson_events",
    "validate_events",
]

_SPACED_KEY_END = re.compile(rb'"[ \t\r\n]+:')


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """One refused event: its position in the request and why."""

    index: int
    code: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        """The entry of the ``rejected`` list in responses."""
        return {"index": self.index, "code": self.code, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """The events of one request, split into accepted and rejected."""

    accepted: list[Event]
    rejected: list[RejectedEvent]


class _NonFinite(ValueError):
    pass


class _DuplicateKey(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _short(text: str, limit: int = 64) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _explain(data: bytes, error: orjson.JSONDecodeError, *, code: str, where: str) -> MalformedBody:
    """Turn an orjson error into the most specific problem: not UTF-8, NaN, or malformed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return MalformedBody(f"{where} is not valid UTF-8 (byte {exc.start})", code="not_utf8")
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except _NonFinite as exc:
        return MalformedBody(
            f"{where} contains {exc}, which JSON does not allow", code="non_finite_number"
        )
    except (ValueError, RecursionError):
        pass
    return MalformedBody(f"{where} is not valid JSON: {error}", code=code)


def _count_keys(roots: Iterable[Any]) -> int:
    """How many members all objects under ``roots`` have, nested ones included."""
    count = 0
    stack = list(roots)
    while stack:
        node = stack.pop()
        if type(node) is dict:
            count += len(node)
            stack.extend(v for v in node.values() if type(v) is dict or type(v) is list)
        elif type(node) is list:
            stack.extend(v for v in node if type(v) is dict or type(v) is list)
    return count


def _count_event_keys(data: bytes, events: list[Any], *, wrapped: bool) -> int:
    """Members of all objects in a body whose ``events`` are listed (in ``{"events": [...]}``
    when ``wrapped``). Brace counting proves the usual case, flat events, without a walk:
    the text holds at least as many ``{``/``[`` as there are objects/arrays."""
    objects = [e for e in events if type(e) is dict]
    arrays = sum(1 for e in events if type(e) is list)
    if data.count(b"{") == len(objects) + wrapped and data.count(b"[") == arrays + wrapped:
        return sum(map(len, objects)) + wrapped
    return _count_keys(events) + wrapped


def has_duplicate_keys(data: bytes, events: list[Any], *, lines: bool = False) -> str | None:
    """The first member name written twice in one object of ``data``, or None.

    ``events`` is what orjson parsed: the lines of an NDJSON body (``lines``), else the
    ``events`` list of ``{"events": [...]}``; orjson silently keeps the last of duplicated
    members. Fast path: without any backslash every quote delimits a string; if no name is
    followed by whitespace before its colon, each name written ends in a distinct ``":``,
    so when the ``":`` count equals the members the parsed objects hold, no name was
    written twice. Otherwise parse again, slowly, with a hook that sees every member.
    """
    if (
        b"\\" not in data
        and _SPACED_KEY_END.search(data) is None
        and data.count(b'":') == _count_event_keys(data, events, wrapped=not lines)
    ):
        return None
    texts = [line for line in data.split(b"\n") if line.strip()] if lines else [data]
    try:
        for text in texts:
            json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        return str(exc)
    except ValueError:
        return None  # not reached: orjson accepted the same text
    return None


def _check_duplicates(data: bytes, events: list[Any], *, lines: bool) -> None:
    try:
        duplicate = has_duplicate_keys(data, events, lines=lines)
    except RecursionError:
        raise MalformedBody("the JSON is nested too deeply", code="malformed_json") from None
    if duplicate is not None:
        raise MalformedBody(
            f"a JSON object has the member {_short(duplicate)} more than once",
            code="duplicate_key",
        )


def parse_json_events(data: bytes, *, max_events: int) -> list[Any]:
    """The raw events of an ``application/json`` body ``{"events": [...]}``."""
    if not data.strip():
        raise MalformedBody("the body is empty", code="bad_body_shape")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _explain(data, exc, code="malformed_json", where="the body") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise MalformedBody(
            'the body must be a JSON object with an "events" list', code="bad_body_shape"
        )
    if len(doc) != 1:
        extra = sorted(k for k in doc if k != "events")
        raise MalformedBody(
            f"unknown top-level member(s): {', '.join(_short(k) for k in extra[:5])}",
            code="bad_body_shape",
        )
    events: list[Any] = doc["events"]
    if len(events) > max_events:
        raise TooManyEvents(f"the body holds {len(events)} events; at most {max_events}")
    _check_duplicates(data, events, lines=False)
    return events


def parse_ndjson_events(data: bytes, *, max_events: int) -> list[Any]:
    """The raw events of an ``application/x-ndjson`` body: one per line, blank lines skipped."""
    events: list[Any] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(events) >= max_events:
            raise TooManyEvents(f"the body holds more than {max_events} events")
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise _explain(line, exc, code="malformed_ndjson", where=f"line {number}") from None
    _check_duplicates(data, events, lines=True)
    return events


def check_platform(events: list[Any], partner_id: str) -> None:
    """Refuse the whole request if an event claims to come from another platform."""
    for index, raw in enumerate(events):
        if type(raw) is dict:
            platform = raw.get("platform")
            if isinstance(platform, str) and platform != partner_id:
                raise PlatformMismatch(
                    f"event {index} has platform {_short(platform)} but this API key "
                    f"belongs to {partner_id!r}"
                )


def validate_events(
    events: list[Any],
    *,
    now_ms: int,
    streams: Container[str],
    mode: PartnerMode,
    allowed: Container[str] | None = None,
) -> CheckedBatch:
    """Check every raw event; keep the accepted ones in order and list the rejected ones.

    ``allowed``: the streams the partner may post to (None: any registered one)."""
    accepted: list[Event] = []
    rejected: list[RejectedEvent] = []
    for index, raw in enumerate(events):
        result = parse_event(raw, now_ms=now_ms, streams=streams, mode=mode, allowed=allowed)
        if type(result) is Event:
            accepted.append(result)
        else:
            rejected.append(RejectedEvent(index, result.code, result.detail))  # type: ignore[union-attr]
    return CheckedBatch(accepted, rejected)
