"""The assignment: the partitions this worker owns, their background builds and revocation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from stream.publisher import Publisher
from stream.states import PartitionStates, TruncatedLog

__all__ = ["Assignment", "Committed"]

logger = logging.getLogger(__name__)

Committed = Callable[[list[int]], Awaitable[Mapping[int, int]]]
"""The consumer group's committed offsets of some events partitions."""


class Assignment:
    """Counts rebalances and builds newly assigned partitions' states in the background.

    ``generation`` goes up at every revocation: a build started under an older one stops.
    """

    def __init__(
        self,
        states: PartitionStates,
        lock: asyncio.Lock,
        publisher: Publisher,
        committed: Committed,
        crash: Callable[[BaseException], Awaitable[Any]],
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        timeout_s: float = 30.0,
        max_delay_s: float = 30.0,
    ) -> None:
        self._states = states
        self._lock = lock
        self._publisher = publisher
        self._committed = committed
        self._crash = crash
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._max_delay_s = max_delay_s
        self.generation = 0
        """Counts revocations."""
        self.restoring: set[asyncio.Task[None]] = set()
        """Background builds of newly assigned partitions' states (kept referenced)."""

    def assigned(self, partitions: list[int]) -> None:
        """Start building the states of newly assigned ``partitions``."""
        # Build the partitions' states now rather than at their next record: the offsets a
        # previous owner committed can be ahead of what it published (commits every second,
        # publishes every flush interval), and a partition that gets no further record
        # would never show those changes. Up to the committed offsets, so that what follows
        # is counted by the agent as usual; in the background, so that the rebalance
        # completes. (Every rebalance revokes and assigns all partitions.)
        if partitions:
            task = asyncio.ensure_future(self.restore(partitions, self.generation))
            self.restoring.add(task)
            task.add_done_callback(self.restoring.discard)

    async def revoked(self, partitions: list[int]) -> None:
        """Publish and forget ``partitions``; builds under the old generation stop."""
        # Another worker may advance these partitions: rebuild if they come back. Publish
        # what was counted there first, so that the dashboard does not wait for the next
        # owner's build of the partition to show it.
        async with self._lock:
            self.generation += 1
            drained = self._publisher.drain(partitions)
            self._states.drop(partitions)
        await self._publisher.send(drained)

    async def restore(self, partitions: list[int], generation: int) -> None:
        """Build ``partitions`` up to their committed offsets while ``generation`` lasts."""
        # Retried with backoff until every partition is built or the assignment is over: the
        # next record is no fallback here, since the point is partitions that get none.
        pending = list(partitions)
        delay = 1.0
        while pending and self.generation == generation:
            try:
                offsets = await asyncio.wait_for(self._committed(pending), timeout=self._timeout_s)
            except Exception as exc:
                logger.warning("committed offsets of %s not read (%s); retrying", pending, exc)
                offsets = {}
            for partition in [p for p in pending if p in offsets]:
                # One at a time under the lock, like the agent's own rebuilds: whichever comes
                # first builds the state, the other finds it. Never after a revocation: a
                # state built for a partition that moved on would be a second, stale
                # publisher of it.
                async with self._lock:
                    if self.generation != generation:
                        return
                    try:
                        await self._states.ensure(partition, offsets[partition])
                    except TruncatedLog as exc:
                        logger.critical("%s", exc)
                        await self._crash(exc)
                        return
                    except Exception:
                        logger.exception("building partition %d failed; retrying", partition)
                        continue
                pending.remove(partition)
            if pending:
                await self._sleep(delay)
                delay = min(2 * delay, self._max_delay_s)

    def cancel(self) -> None:
        """Stop every background build (the worker is stopping)."""
        for task in list(self.restoring):
            task.cancel()
