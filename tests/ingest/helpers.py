"""Helpers of the ingest tests: a registry snapshot, keys, events and a stand-in sink."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

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
