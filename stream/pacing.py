"""How often the worker publishes what it counted: pure arithmetic, no I/O."""

from __future__ import annotations

__all__ = ["CATCH_UP_SHARE", "publish_interval"]

CATCH_UP_SHARE = 4
"""A worker behind by B seconds publishes every B / 4 seconds (within its bounds)."""


def publish_interval(behind_ms: int, base_s: float, max_s: float) -> float:
    """Seconds between two publishes when the newest counted record arrived ``behind_ms`` ago.

    A worker that keeps up publishes every ``base_s``. One that is catching up (after a
    restart, or under more load than it can count) publishes every quarter of how far behind
    it is, at most every ``max_s``: each publish costs counting time, and the dashboard
    already shows numbers that old, so waiting a quarter longer adds little to what it
    shows late and leaves more time to catch up.
    """
    return min(max_s, max(base_s, behind_ms / (1000 * CATCH_UP_SHARE)))
