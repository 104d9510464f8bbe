"""The fast path for the usual request: every event valid, times in epoch milliseconds.

msgspec decodes and types the whole body in C; the few rules a schema cannot state are
checked in one plain loop. Any doubt at all (a schema error, an event the contract refuses,
an RFC 3339 time, an escape in a string, a member named twice, another platform) returns
``None`` and the request takes the general path (``ingest.validation``), which finds and
explains every problem. So the fast path never decides a rejection: it only recognises
requests the general path would accept whole, and the tests hold it to that.
"""

from __future__ import annotations

from collections.abc import Container

import msgspec
from msgspec import UNSET

from contract.events import PartnerMode
from contract.wire import MAX_FUTURE_MS, MAX_PAST_MS, WireBody, WireEvent
from ingest.body import BodyKind

__all__ = ["accept_whole"]

_BODY = msgspec.json.Decoder(WireBody)
_LINE = msgspec.json.Decoder(WireEvent)


def accept_whole(
    data: bytes,
    *,
    kind: BodyKind,
    platform: str,
    now_ms: int,
    streams: Container[str],
    mode: PartnerMode,
    max_events: int,
) -> list[WireEvent] | None:
    """The events of ``data`` if the general path would accept every one, else None.

    The events come back without their ``platform`` field (the record names the
    platform), ready to be packed.
    """
    # Without a backslash every quote in the body delimits a string, a member name or a
    # string value. Written names and string values are at least the ones decoded, so if
    # the quotes are exactly twice the decoded ones, no object names a member twice
    # (msgspec, like orjson, keeps the last of repeated members silently).
    if b"\\" in data:
        return None
    try:
        if kind == "json":
            events = _BODY.decode(data).events
        else:  # one event per line, as the general path reads them (not any JSON sequence)
            events = [_LINE.decode(line) for line in data.split(b"\n") if line.strip()]
    except (ValueError, RecursionError):  # msgspec.DecodeError, or UnicodeDecodeError
        return None
    if not 0 < len(events) <= max_events:
        return None
    oldest, newest = now_ms - MAX_PAST_MS, now_ms + MAX_FUTURE_MS
    sessions = mode == "sessions"
    strings = 1 if kind == "json" else 0  # the name "events"
    for event in events:
        if not oldest <= event.ts <= newest or (event.type == "count") is sessions:
            return None
        if event.stream not in streams:  # registered ids are printable ([a-z0-9_-])
            return None
        strings += 5  # three names, and the values of type and stream
        session_id = event.session_id
        if session_id is UNSET:
            if sessions:
                return None
        elif session_id.isprintable():
            strings += 2
        else:
            return None
        viewer_id = event.viewer_id
        if viewer_id is not UNSET:
            if not viewer_id.isprintable():
                return None
            strings += 2
        if event.platform is not UNSET:
            if event.platform != platform:
                return None
            event.platform = UNSET
            strings += 2
        if event.event_id is not UNSET:
            strings += 2
        if event.concurrent is UNSET:
            if not sessions:
                return None
        else:
            strings += 1
        strings += (event.cumulative is not UNSET) + (event.uniques is not UNSET)
    if data.count(b'"') != 2 * strings:
        return None
    return events
