"""Pipeline monitor figures: sliding-window latency percentiles and event rates. Pure code."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

__all__ = ["LatencyWindow", "RateWindow", "worker_id"]


def worker_id(app_id: str, hostname: str, pid: int) -> str:
    """The id a worker publishes its metrics under: app id, host and process."""
    return f"{app_id}@{hostname}:{pid}"


class LatencyWindow:
    """Weighted latency samples of the last ``window_ms``, with percentiles.

    Each sample is (time it was taken, latency, weight = events it stands for). At most
    ``max_samples`` are kept (the oldest go first), so memory stays bounded at any rate.
    """

    def __init__(self, window_ms: int = 60_000, max_samples: int = 20_000) -> None:
        if window_ms <= 0 or max_samples <= 0:
            raise ValueError("window_ms and max_samples must be positive")
        self._window_ms = window_ms
        self._samples: deque[tuple[int, float, int]] = deque(maxlen=max_samples)

    def add(self, at_ms: int, latency_ms: float, weight: int = 1) -> None:
        """Record ``weight`` events that took ``latency_ms`` (measured at ``at_ms``)."""
        if weight > 0:
            self._samples.append((at_ms, max(0.0, latency_ms), weight))

    def _expire(self, now_ms: int) -> None:
        oldest = now_ms - self._window_ms
        samples = self._samples
        while samples and samples[0][0] < oldest:
            samples.popleft()

    def percentiles(self, now_ms: int, quantiles: Iterable[int] = (50, 95, 99)) -> dict[str, float]:
        """``{"p50": ..., ...}`` by weighted nearest rank; empty when there are no samples."""
        self._expire(now_ms)
        if not self._samples:
            return {}
        ordered = sorted((latency, weight) for _, latency, weight in self._samples)
        total = sum(weight for _, weight in ordered)
        out: dict[str, float] = {}
        for q in quantiles:
            rank = q / 100 * total
            seen = 0
            value = ordered[-1][0]
            for latency, weight in ordered:
                seen += weight
                if seen >= rank:
                    value = latency
                    break
            out[f"p{q}"] = round(value, 1)
        return out


class RateWindow:
    """Events per second over the last ``window_ms``."""

    def __init__(self, window_ms: int = 10_000) -> None:
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        self._window_ms = window_ms
        self._counts: deque[tuple[int, int]] = deque()
        self._total = 0

    def add(self, at_ms: int, count: int) -> None:
        """Record ``count`` events handled at ``at_ms``."""
        if count:
            self._counts.append((at_ms, count))
            self._total += count

    def rate(self, now_ms: int) -> float:
        """The mean rate over the window ending at ``now_ms``."""
        oldest = now_ms - self._window_ms
        counts = self._counts
        while counts and counts[0][0] < oldest:
            self._total -= counts.popleft()[1]
        return round(self._total * 1000 / self._window_ms, 1)
