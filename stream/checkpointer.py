"""The checkpointer: which partition's state to write next (pure), and the write."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from contract.checkpoints import Manifest
from stream.snapshot import dump_state
from stream.states import PartitionStates

__all__ = ["Checkpointer", "due"]

logger = logging.getLogger(__name__)

DUMP_SHARE = 10
"""Each partition is checkpointed at most every 10x the sum of the last dumps (~10 %)."""


class Store(Protocol):
    """Where checkpoints are written (``stream.checkpoints.CheckpointStore``)."""

    async def write(self, partition: int, offset: int, data: bytes) -> Manifest: ...


def due(
    now: float,
    *,
    next_offsets: Mapping[int, int],
    built_at: Mapping[int, float],
    checkpointed: Mapping[int, tuple[int, float]],
    dump_s: Mapping[int, float],
    interval_s: float,
    min_records: int,
) -> int | None:
    """The partition to checkpoint at ``now`` (monotonic seconds), or None.

    ``next_offsets`` are the held states' offsets, ``built_at`` when each was built,
    ``checkpointed`` each one's last (offset, time) and ``dump_s`` how long its last dump
    took.
    """
    # Counting waits while a partition is dumped: keep all dumps together under ~10 % of
    # the time (each partition at most every 10x the sum of the last dumps), and dump one
    # partition per tick, the one waiting longest, so counting never stops for several.
    spacing = max(interval_s, DUMP_SHARE * sum(dump_s.get(p, 0.0) for p in next_offsets))
    waiting: list[tuple[float, int]] = []
    for partition, next_offset in next_offsets.items():
        # The first checkpoint of a partition comes one interval after its state was
        # built, like every later one (not at once while a start-up backlog is counted).
        done_offset, done_at = checkpointed.get(partition, (0, built_at.get(partition, 0.0)))
        if now - done_at >= spacing and next_offset - done_offset >= min_records:
            waiting.append((done_at, partition))
    return min(waiting)[1] if waiting else None


class Checkpointer:
    """Writes one partition's state per tick to the checkpoint store, when one is due."""

    def __init__(
        self,
        states: PartitionStates,
        store: Store,
        lock: asyncio.Lock,
        interval_s: float,
        min_records: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._states = states
        self._store = store
        self._lock = lock
        self.interval_s = interval_s
        self.min_records = min_records
        self._clock = clock
        self.dump_s: dict[int, float] = {}
        """Seconds the last checkpoint dump of each partition took."""

    @property
    def tick_s(self) -> float:
        """How often the timer asks whether a checkpoint is due."""
        return min(5.0, self.interval_s)

    def due(self) -> int | None:
        """The partition to checkpoint now, or None."""
        states = self._states
        return due(
            self._clock(),
            next_offsets={p: s.next_offset for p, s in states.states.items()},
            built_at=states.built_at,
            checkpointed=states.checkpointed,
            dump_s=self.dump_s,
            interval_s=self.interval_s,
            min_records=self.min_records,
        )

    async def tick(self) -> None:
        """The checkpoint timer: write the partition that is due, if any."""
        partition = self.due()
        if partition is not None:
            await self.write(partition)

    async def write(self, partition: int) -> None:
        """Dump the partition's state and write it; failures wait for the next tick."""
        states = self._states
        state = states.states[partition]
        started = self._clock()
        # A consistent cut: counting waits on the lock while a thread serialises, so the
        # event loop (and the consumer's heartbeats) keep running. The offset is read under
        # the lock too: records counted while this waited for it are in the dump, and a
        # manifest naming an older offset than its state's is refused when loading.
        async with self._lock:
            if states.states.get(partition) is not state:
                return  # revoked or rebuilt meanwhile
            offset = state.next_offset
            data = await asyncio.to_thread(dump_state, state)
        dumped = self._clock() - started
        self.dump_s[partition] = dumped
        try:
            manifest = await self._store.write(partition, offset, data)
        except Exception:  # the next try comes at the next tick; counting goes on
            logger.exception("checkpoint of partition %d failed", partition)
            return
        if states.states.get(partition) is state:  # not revoked while it was written
            states.checkpointed[partition] = (offset, self._clock())
        logger.info(
            "checkpoint of partition %d at %d: %d bytes in %d chunks, %.2f s + %.2f s",
            partition,
            offset,
            manifest.size,
            len(manifest.chunks),
            dumped,
            self._clock() - started - dumped,
        )
