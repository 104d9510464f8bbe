"""Helpers of the ingest tests: a registry snapshot, keys, events, a stand-in sink and
timers fired by hand."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from contract.packing import OutRecord
from contract.registry import Partner, Registry, Stream, hash_secret

KEY = "pk_test_sessions_key"
REPORTS_KEY = "pk_test_reports_key"
REVOKED_KEY = "pk_test_revoked_key"


@dataclass
class StaticRegistry:
    """A registry source that never changes (unit tests only)."""

    snapshot: Registry


@dataclass
class AcknowledgingSink:
    """Stand-in for Kafka in HTTP-layer unit tests: acknowledges everything and keeps it."""

    partition_count: int = 4
    sent: list[tuple[str, OutRecord]] = field(default_factory=list)

    async def partitions(self, topic: str) -> int:
        return self.partition_count

    async def send(self, topic: str, records) -> None:
        self.sent.extend((topic, record) for record in records)

    async def ready(self, topic: str) -> bool:
        return True

    async def close(self) -> None:
        return None


def make_registry(rate: int = 100_000) -> Registry:
    return Registry.of(
        [
            Stream("carnival", "Carnival"),
            Partner("douyu", "斗鱼", mode="sessions", rate=rate, key_hash=hash_secret(KEY)),
            Partner("cctv", "CCTV", mode="reports", rate=rate, key_hash=hash_secret(REPORTS_KEY)),
            Partner("gone", "Gone", key_hash=hash_secret(REVOKED_KEY), revoked=True),
        ]
    )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def join(session: str = "s1", **extra) -> dict:
    return {"type": "join", "stream": "carnival", "ts": now_ms(), "session_id": session, **extra}


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Timer:
    """A timer that runs only when the test fires it."""

    delay: float
    callback: Any
    args: tuple[Any, ...] = ()
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        assert not self.cancelled
        self.cancelled = True
        self.callback(*self.args)


@dataclass
class HandTimers:
    """Records the timers asked for, as ``call_later`` or by calling it; every other loop
    attribute goes to the running loop."""

    timers: list[Timer] = field(default_factory=list)

    def call_later(self, delay: float, callback: Any, *args: Any) -> Timer:
        timer = Timer(delay, callback, args)
        self.timers.append(timer)
        return timer

    __call__ = call_later

    def pending(self, delay: float | None = None) -> list[Timer]:
        return [t for t in self.timers if not t.cancelled and delay in (None, t.delay)]

    def fire(self) -> None:
        """Fire the one timer pending (fails if there is not exactly one)."""
        [timer] = self.pending()
        timer.fire()

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio.get_running_loop(), name)
