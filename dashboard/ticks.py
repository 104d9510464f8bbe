"""What the pages compute once per snapshot and second, shared by every viewer.

Every open live page asks for the same numbers and the same chart buckets each second;
computing them once per (snapshot, second, stream, language, ...) instead of once per
viewer is what lets one dashboard process serve hundreds of screens. Each snapshot carries
its own memo (``Snapshot.memo``), so results go with the snapshot they came from. A memo
keeps at most ``size`` results; keys hold only values the callbacks already coerced.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

__all__ = ["TickMemo"]

T = TypeVar("T")


class TickMemo:
    """A small thread-safe LRU of computed results, computing each key once: callers that
    ask for a key being computed wait for that computation instead of repeating it (many
    viewers ask for the same second at once; computing it for each would only queue them).
    """

    def __init__(self, size: int = 64, wait_s: float = 30.0) -> None:
        self._size = size
        self._wait_s = wait_s
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._pending: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The result for ``key``, computed by ``compute`` the first time it is asked for."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]  # type: ignore[return-value]
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = threading.Event()
                self.misses += 1
        if not owner:
            pending.wait(self._wait_s)
            with self._lock:
                if key in self._items:
                    self.hits += 1
                    return self._items[key]  # type: ignore[return-value]
            return compute()  # the computation failed or is stuck: do it here
        try:
            value = compute()
            with self._lock:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._pending.pop(key, None)
            pending.set()
