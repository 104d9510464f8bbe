"""Durations written the way operators write them: ``90s``, ``30m``, ``12h``, ``7d``."""

from __future__ import annotations

import re

__all__ = ["MAX_DURATION_S", "parse_duration"]

MAX_DURATION_S = 3650 * 86400
"""Ten years: anything longer is a typo, not a plan."""
_DURATION = re.compile(r"^\s*([0-9]{1,9})\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in a duration like ``90s``, ``30m``, ``12h`` or ``7d``; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"duration {text!r} must be a whole number and a unit: 90s, 30m, 12h or 7d"
        )
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if not 1 <= seconds <= MAX_DURATION_S:
        raise ValueError(f"duration {text!r} must be between 1s and {MAX_DURATION_S // 86400}d")
    return seconds
