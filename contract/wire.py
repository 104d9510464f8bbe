"""The event contract as a msgspec schema, so a whole batch is decoded and typed in C."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from contract.events import MAX_COUNTER, MAX_ID_LENGTH, EventType

__all__ = ["JsonInt", "WireBody", "WireEvent", "viewer_key"]

Identifier = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH)]
EventId = Annotated[str, Meta(max_length=MAX_ID_LENGTH)]
Counter = Annotated[int, Meta(ge=0, le=MAX_COUNTER)]
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
    ts: JsonInt
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
