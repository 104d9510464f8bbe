"""Token buckets: a partner may make so many requests, and send so many events, per second,
in bursts of ``2 x rate``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Decision", "RateLimiter", "TokenBucket"]

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go ahead, and if not, how many seconds until it may."""

    allowed: bool
    retry_after_s: float = 0.0

    @property
    def retry_after_header(self) -> int:
        """``retry_after_s`` as whole seconds for the Retry-After header (at least 1)."""
        return max(1, math.ceil(self.retry_after_s))


class TokenBucket:
    """A bucket of ``capacity`` tokens refilled at ``rate`` per second.

    A request costing more than the whole bucket is let through when the bucket is full
    and leaves it in debt, so partners with a small rate can still send a full batch now
    and then instead of being refused forever.
    """

    def __init__(self, rate: float, capacity: float, clock: Clock) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while in debt)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)

    def take(self, cost: float) -> Decision:
        """Spend ``cost`` tokens if there are enough, else say how long to wait."""
        decision = self.check(cost)
        if decision.allowed:
            self._tokens -= cost
        return decision

    def check(self, cost: float) -> Decision:
        """What ``take(cost)`` would decide now, spending nothing."""
        if cost < 0:
            raise ValueError("cost must not be negative")
        self._refill()
        needed = min(cost, self.capacity)
        if self._tokens >= needed:
            return Decision(True)
        return Decision(False, (needed - self._tokens) / self.rate)


class RateLimiter:
    """One token bucket per key (partner), rebuilt when the partner's rate changes."""

    def __init__(self, burst_factor: float = 2.0, clock: Clock = time.monotonic) -> None:
        if burst_factor < 1:
            raise ValueError("burst_factor must be at least 1")
        self._burst_factor = burst_factor
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: str, rate: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate:
            bucket = TokenBucket(rate, rate * self._burst_factor, self._clock)
            self._buckets[key] = bucket
        return bucket

    def take(self, key: str, rate: float, cost: float) -> Decision:
        """Spend ``cost`` from the bucket of ``key`` whose refill rate is ``rate``."""
        with self._lock:
            return self._bucket(key, rate).take(cost)

    def check(self, key: str, rate: float, cost: float) -> Decision:
        """What ``take`` would decide now, spending nothing."""
        with self._lock:
            return self._bucket(key, rate).check(cost)
