"""Unexpected failures: the id each one is logged under, and how often they happen."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["ErrorWindow", "new_error_id"]

Clock = Callable[[], float]


def new_error_id() -> str:
    """A short random id that ties a 500 answer to its traceback in the log."""
    return secrets.token_hex(6)


class ErrorWindow:
    """Counts failures and requests in the last ``window_s`` seconds; says when failures
    pass ``limit`` *and* make up at least ``share`` of the requests.

    The share keeps one partner from turning every ingest process unready: a request of
    its that fails the same way each time is a bug to fix, but it fails on every process
    alike, and taking them all out of the load balancer would stop every other partner.
    Only the newest ``limit + 1`` failure times are kept (enough to tell "more than
    ``limit``") and requests are counted per second, so a flood costs no memory.
    """

    def __init__(
        self,
        limit: int,
        *,
        share: float = 0.5,
        window_s: float = 60.0,
        clock: Clock = time.monotonic,
    ):
        if limit < 0:
            raise ValueError("limit must not be negative")
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        if not 0 <= share <= 1:
            raise ValueError("share must be between 0 and 1")
        self.limit = limit
        self.share = share
        self.window_s = window_s
        self._clock = clock
        self._times: deque[float] = deque(maxlen=limit + 1)
        self._requests: deque[list[float]] = deque()
        """[second, requests, failures] per second, oldest first (for the share)."""
        self._lock = threading.Lock()

    def requested(self) -> None:
        """One partner request handled (failed or not), now; health checks do not count."""
        with self._lock:
            second = float(int(self._clock()))
            self._bucket(second)[1] += 1
            self._forget()

    def _bucket(self, second: float) -> list[float]:
        if not self._requests or self._requests[-1][0] != second:
            self._requests.append([second, 0, 0])
        return self._requests[-1]

    def record(self) -> None:
        """One failure, now."""
        with self._lock:
            now = self._clock()
            self._times.append(now)
            self._bucket(float(int(now)))[2] += 1

    def _forget(self) -> None:
        horizon = self._clock() - self.window_s
        while self._times and self._times[0] <= horizon:
            self._times.popleft()
        while self._requests and self._requests[0][0] + 1 <= horizon:
            self._requests.popleft()

    def count(self) -> int:
        """Failures within the window, at most ``limit + 1``."""
        with self._lock:
            self._forget()
            return len(self._times)

    def requests(self) -> tuple[int, int]:
        """(requests, failures) within the window, counted in whole seconds."""
        with self._lock:
            self._forget()
            return (
                int(sum(b[1] for b in self._requests)),
                int(sum(b[2] for b in self._requests)),
            )

    @property
    def exceeded(self) -> bool:
        """True while more than ``limit`` failures happened within the window and they are
        at least ``share`` of its requests."""
        if self.count() <= self.limit:
            return False
        requests, failures = self.requests()
        return failures >= self.share * max(requests, failures)
