"""Instants as people write them: RFC 3339 (offset optional) or epoch milliseconds.

The dashboard's query strings, the CLI's options and the registry's programme segments read
times with the same rule, so ``19:30`` on the stage is the same second everywhere.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["FIRST_SECOND", "LAST_SECOND", "MAX_INSTANT_CHARS", "parse_second", "rfc3339"]

FIRST_SECOND = 0
"""The earliest instant accepted (1970-01-01T00:00:00Z)."""
LAST_SECOND = 253_370_678_400
"""The latest instant accepted (9998-12-31T00:00:00Z): writable as RFC 3339 in every zone."""
MAX_INSTANT_CHARS = 64
_EPOCH_MS = re.compile(r"-?[0-9]{1,19}")
_RANGE = "is out of range (years 1970 to 9998)"


def parse_second(text: str, tz: str) -> int:
    """A time as RFC 3339 or epoch milliseconds, floored to a whole epoch second.

    A time without an offset is read in the time zone ``tz``. ``ValueError`` says what is
    wrong, as a phrase to follow the parameter's name (``"is empty"``).
    """
    raw = text.strip()
    if not raw:
        raise ValueError("is empty")
    if len(raw) > MAX_INSTANT_CHARS:
        raise ValueError("is too long for a time")
    second = int(raw) // 1000 if _EPOCH_MS.fullmatch(raw) else _parse_rfc3339(raw, tz)
    if not FIRST_SECOND <= second <= LAST_SECOND:
        raise ValueError(_RANGE)
    return second


def _parse_rfc3339(raw: str, tz: str) -> int:
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "T", 1) if "T" not in raw else raw)
    except ValueError:
        raise ValueError(
            "must be RFC 3339 (2024-12-21T19:30:00+08:00) or epoch milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    try:
        return math.floor(moment.timestamp())
    except (OverflowError, ValueError):
        raise ValueError(_RANGE) from None


def rfc3339(second: int, tz: str) -> str:
    """An epoch second as RFC 3339 in a time zone."""
    return datetime.fromtimestamp(second, ZoneInfo(tz)).isoformat()
