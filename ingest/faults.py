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
    """Counts failures in the last ``window_s`` seconds and says when they pass ``limit``.

    Only the newest ``limit + 1`` times are kept: that is enough to tell "more than
    ``limit``", so a flood of failures costs no memory.
    """

    def __init__(self, limit: int, *, window_s: float = 60.0, clock: Clock = time.monotonic):
        if limit < 0:
            raise ValueError("limit must not be negative")
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._times: deque[float] = deque(maxlen=limit + 1)
        self._lock = threading.Lock()

    def record(self) -> None:
        """One failure, now."""
        with self._lock:
            self._times.append(self._clock())

    def count(self) -> int:
        """Failures within the window, at most ``limit + 1``."""
        with self._lock:
            horizon = self._clock() - self.window_s
            while self._times and self._times[0] <= horizon:
                self._times.popleft()
            return len(self._times)

    @property
    def exceeded(self) -> bool:
        """True while more than ``limit`` failures happened within the window."""
        return self.count() > self.limit
