"""How many costly reads (exports, reports) run at once, per token and in all: pure code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dashboard.exceptions import TooManyRequests

__all__ = ["EXPORT_RETRY_AFTER_S", "ExportSlots"]

EXPORT_RETRY_AFTER_S = 5
"""What a refused export is told to wait before trying again."""


class ExportSlots:
    """At most ``per_token`` exports in progress for one token and ``total`` for all."""

    def __init__(self, per_token: int, total: int) -> None:
        if per_token < 1 or total < 1:
            raise ValueError("export limits must be at least 1")
        self.per_token = per_token
        self.total = total
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}
        self._in_use = 0

    def try_acquire(self, holder: str) -> bool:
        """Take a slot for ``holder``; False when its own or the shared limit is reached."""
        with self._lock:
            mine = self._held.get(holder, 0)
            if mine >= self.per_token or self._in_use >= self.total:
                return False
            self._held[holder] = mine + 1
            self._in_use += 1
            return True

    def release(self, holder: str) -> None:
        """Give back a slot taken with ``try_acquire``."""
        with self._lock:
            mine = self._held.get(holder, 0)
            if mine < 1:
                raise ValueError(f"{holder!r} holds no export slot")
            if mine == 1:
                del self._held[holder]
            else:
                self._held[holder] = mine - 1
            self._in_use -= 1

    def in_use(self) -> int:
        """Slots taken now."""
        with self._lock:
            return self._in_use

    @contextmanager
    def slot(self, holder: str) -> Iterator[None]:
        """Hold a slot for the ``with`` block, or raise ``TooManyRequests``."""
        if not self.try_acquire(holder):
            raise TooManyRequests(
                f"at most {self.per_token} exports or reports per token and {self.total} "
                "in all may run at once; try again shortly",
                retry_after_s=EXPORT_RETRY_AFTER_S,
            )
        try:
            yield
        finally:
            self.release(holder)
