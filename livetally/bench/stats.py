"""Pure arithmetic of the suite: percentiles, rates and the open-loop pacing schedule."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["pacing_schedule", "percentile", "rate", "summarize_ms"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    weight = position - low
    return float(ordered[low] * (1 - weight) + ordered[high] * weight)


def summarize_ms(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max of durations given in seconds, in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else None,
    }


def rate(count: int, seconds: float) -> float | None:
    """``count`` per second, or None when no time passed."""
    if seconds <= 0:
        return None
    return count / seconds


def pacing_schedule(sizes: Sequence[int], events_per_s: float) -> list[float]:
    """Open-loop send times (seconds from the start) of batches of ``sizes`` events.

    Batch ``i`` is due when the batches before it have used up their share of the offered
    rate, so the load is ``events_per_s`` however big each batch is, and a slow answer
    never delays the next send (no coordinated omission).
    """
    if not events_per_s > 0:
        raise ValueError(f"rate must be positive, got {events_per_s}")
    times: list[float] = []
    sent = 0
    for size in sizes:
        if size < 0:
            raise ValueError(f"a batch cannot hold {size} events")
        times.append(sent / events_per_s)
        sent += size
    return times
