"""The viewer event declared once, as a msgspec schema: its fields, types and limits.

Everything else about the event is derived from this module or tested against it: the
general check (``contract.events.parse_event``), ingest's fast path, the stream app's
re-check of stored records and the ``Event`` component of the OpenAPI document. A batch
decoded with these types is typed in C.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

__all__ = [
    "MAX_COUNTER",
    "MAX_FUTURE_MS",
    "MAX_ID_LENGTH",
    "MAX_PAST_MS",
    "MAX_TS",
    "MIN_TS",
    "EventType",
    "JsonInt",
    "SessionType",
    "WireBody",
    "WireEvent",
    "viewer_key",
]

SessionType = Literal["join", "heartbeat", "leave"]
"""The event types of a partner in ``sessions`` mode: one viewer's session."""
EventType = Literal[SessionType, "count"]
"""Every event type; ``count`` is the one of a partner in ``reports`` mode."""

MAX_ID_LENGTH: Final = 128
"""Longest stream, session, viewer, event or platform id, in characters."""
MAX_COUNTER: Final = 10**12
"""Partner counters above this are refused as implausible (and to keep sums exact)."""
MIN_TS: Final = -(2**53) + 1
"""Smallest integer ``ts`` (epoch ms): integers a JSON reader in any language keeps exact."""
MAX_TS: Final = 2**53 - 1
"""Largest integer ``ts`` (epoch ms)."""
MAX_FUTURE_MS: Final = 5 * 60 * 1000
"""An event may be at most this far ahead of the clock it is checked against."""
MAX_PAST_MS: Final = 24 * 60 * 60 * 1000
"""An event may be at most this old when it is accepted."""

Identifier = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH)]
EventId = Annotated[str, Meta(max_length=MAX_ID_LENGTH)]
Counter = Annotated[int, Meta(ge=0, le=MAX_COUNTER)]
Timestamp = Annotated[int, Meta(ge=MIN_TS, le=MAX_TS)]
JsonInt = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
"""A 64-bit integer, which orjson (the general path) reads as an integer too; it reads
integers beyond 64 bits as floats, so those must take the general path."""


class WireEvent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """One event with the types and lengths the contract gives its fields.

    Only the rules a schema can state; printable text, the time window, the registered
    streams and the fields each type requires are checked by the caller. ``ts`` is epoch
    milliseconds here; an event with an RFC 3339 ``ts`` does not fit (it takes the general
    path). Fields are declared in the order ``Event.to_record`` writes them, so an encoded
    ``WireEvent`` without ``platform`` is the stored form of the event. Not tracked by the
    cyclic garbage collector (``gc=False``: it holds only strings and integers, so it can
    never be part of a cycle): the worker decodes a million of them for a million events,
    and tracking them cost about a fifth of its counting time in collections.
    """

    type: EventType
    stream: Identifier
    ts: Timestamp
    session_id: Identifier | UnsetType = UNSET
    viewer_id: Identifier | UnsetType = UNSET
    event_id: EventId | UnsetType = UNSET
    concurrent: Counter | UnsetType = UNSET
    cumulative: Counter | UnsetType = UNSET
    uniques: Counter | UnsetType = UNSET
    platform: Identifier | UnsetType = UNSET


class WireBody(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An ``application/json`` request body: ``{"events": [...]}``."""

    events: list[WireEvent]


def viewer_key(event: WireEvent) -> str:
    """The viewer identity: ``viewer_id``, else ``session_id``, else empty (reports)."""
    if event.viewer_id is not UNSET:
        return event.viewer_id
    if event.session_id is not UNSET:
        return event.session_id
    return ""
