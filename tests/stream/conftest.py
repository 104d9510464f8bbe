"""Helpers that run events through the pure counting code, as the worker would."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import pytest

from contract.events import Event
from contract.records import encode_batch
from contract.series import PlatformDiffs
from stream.partition_state import DEFAULT_FREEZING, Freezing, PartitionState
from tests.oracle import Accepted


def to_event(a: Accepted, stream: str = "s") -> Event:
    return Event(
        type=a.type,  # type: ignore[arg-type]
        stream=stream,
        ts=a.ts,
        session_id=a.session_id,
        viewer_id=a.viewer_id,
        concurrent=a.concurrent,
        cumulative=a.cumulative,
        uniques=a.uniques,
    )


EAGER_FREEZING = Freezing(grace_ms=0, every_ms=0, min_sweep=0, migrate_min=0)
"""Packs every session the moment it is offline and moves it to the cold store at once, so
that counting goes through packed and cold sessions and viewers."""


def run_pipeline(
    events: Iterable[Accepted],
    partitions: int = 3,
    drain_every: int = 7,
    freezing: Freezing = DEFAULT_FREEZING,
) -> dict[str, PlatformDiffs]:
    """Feed events one record each into partitioned states; merge the published chunks."""
    states = [PartitionState(p, freezing) for p in range(partitions)]
    merged: dict[str, PlatformDiffs] = {}

    def drain() -> None:
        for state in states:
            chunks, _, dead = state.drain()
            assert dead == []
            for chunk in chunks:
                merged.setdefault(chunk.platform, PlatformDiffs()).put(chunk)

    for n, a in enumerate(events):
        viewer = a.viewer_id or a.session_id or ""
        p = zlib.crc32(f"{a.platform}/{viewer}".encode()) % partitions
        received = max(a.ts, 10**12)
        value = encode_batch(a.platform, received, [to_event(a)], timeout_ms=a.timeout_ms)
        states[p].apply_record(n, value)
        if n % drain_every == 0:
            drain()
    drain()
    return merged


@pytest.fixture
def pipeline():
    return run_pipeline


class Sent:
    """An in-memory ``stream.sender.Send``: every record sent, in order."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []

    async def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        self.records.append((topic, key, value))

    def on(self, topic: str) -> list[tuple[bytes, bytes]]:
        return [(key, value) for t, key, value in self.records if t == topic]


class Clock:
    """A fake clock: calling it gives the time, ``advance`` moves it on."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def join_record(received_at: int, session: str = "a", stream: str = "s") -> bytes:
    """An events-topic record of one join at ``received_at`` (epoch ms)."""
    event = Accepted("web", "join", received_at, session, f"v-{session}", timeout_ms=60_000)
    return encode_batch("web", received_at, [to_event(event, stream)], timeout_ms=60_000)


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def clock() -> Clock:
    return Clock()
