"""What a browser sends to a callback, made safe before any page code sees it: pure code.

Every callback input and ``State`` — ``dcc.Store`` contents included — comes from the
browser and can be anything JSON can hold. Each callback is registered through ``checked``
with one coercer per argument; a coercer returns the value when it has the expected type
and size, else ``None`` (what a fresh page sends), so page code handles one shape only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dash.exceptions import PreventUpdate

__all__ = [
    "MAX_SIGNATURE_CHARS",
    "MAX_TEXT_CHARS",
    "Coercer",
    "bounded_int",
    "checked",
    "count",
    "ident",
    "one_of",
    "raw",
    "record",
    "signature",
    "text_field",
]

Coercer = Callable[[object], Any]
R = TypeVar("R")

MAX_IDENT_CHARS = 200
"""Longest stream, partner or token id a selector may hold."""
MAX_TEXT_CHARS = 2_000
"""Longest free text a form field may hold (names, times)."""
MAX_SIGNATURE_CHARS = 1_000_000
"""Longest change signature a page keeps in its ``dcc.Store``."""
_MAX_COUNT = 2**53
"""``n_intervals`` / ``n_clicks`` beyond this cannot come from a real browser."""


def bounded_int(value: object, low: int, high: int) -> int | None:
    """An integer (not a bool) within ``[low, high]``, else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def count(value: object) -> int | None:
    """A click or tick counter: a non-negative integer."""
    return bounded_int(value, 0, _MAX_COUNT)


def ident(value: object) -> str | None:
    """A stream, partner or token id chosen in a selector."""
    if isinstance(value, str) and 0 < len(value) <= MAX_IDENT_CHARS:
        return value
    return None


def text_field(value: object) -> str | None:
    """Free text typed into a form field."""
    if isinstance(value, str) and len(value) <= MAX_TEXT_CHARS:
        return value
    return None


def signature(value: object) -> str | None:
    """A change signature a callback stored to skip updates that change nothing."""
    if isinstance(value, str) and len(value) <= MAX_SIGNATURE_CHARS:
        return value
    return None


def record(value: object) -> dict[str, Any] | None:
    """A dict a callback stored for itself; its fields are checked where they are used."""
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return value
    return None


def raw(value: object) -> object:
    """A value the callback checks itself (a language, which ``lang_of`` already narrows)."""
    return value


def one_of(*options: str) -> Coercer:
    """A coercer that lets through only one of ``options``."""
    allowed = frozenset(options)

    def coerce(value: object) -> str | None:
        return value if isinstance(value, str) and value in allowed else None

    return coerce


def checked(fn: Callable[..., R], *coercers: Coercer) -> Callable[..., R]:
    """``fn`` called with each argument passed through its coercer.

    A call with another number of arguments than registered is not a request the page can
    send: nothing is updated.
    """

    def call(*args: object) -> R:
        if len(args) != len(coercers):
            raise PreventUpdate
        return fn(*(coerce(arg) for coerce, arg in zip(coercers, args, strict=True)))

    # Named like ``fn`` in logs, but without ``__wrapped__``: Dash must see ``*args``.
    call.__name__, call.__qualname__, call.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    call.__module__ = fn.__module__
    return call
