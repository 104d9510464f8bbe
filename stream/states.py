"""The partition states this worker holds, restored from a checkpoint plus the events topic.

The events topic is the system of record. When a record arrives for a partition whose state
is missing or does not end right before that record (first start, a crash, a rebalance that
moved the partition), the state is rebuilt: from the newest checkpoint of the partition
(``stream.checkpoints``) if there is a usable one, else empty, and then by replaying the
events partition from where that state ends up to the record. A partition the worker is
assigned is built the same way at once, up to the consumer group's committed offset
(``ensure``). Counting is idempotent, and a rebuilt state republishes every chunk it has.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from stream.checkpoints import CheckpointStore
from stream.clients import started_consumer
from stream.partition_state import PartitionState
from stream.snapshot import SnapshotError, load_state

__all__ = ["PartitionStates", "TruncatedLog"]

logger = logging.getLogger(__name__)


class TruncatedLog(RuntimeError):
    """A partition's state cannot be rebuilt exactly: records it needs were deleted.

    Retention (or ``delete-records``) moved the log start past where the state would begin
    (0, or the newest checkpoint's offset). Counting from what is left would count each
    viewer of the deleted part again as new: uniques and views would be wrong with no sign
    of it. So the partition is not built; the worker does not count it until an operator
    restores the records or a checkpoint that covers them (see docs/deploy.md).
    """

    def __init__(self, topic: str, partition: int, needed: int, start: int) -> None:
        super().__init__(
            f"{topic} partition {partition} starts at offset {start}, but its state must be "
            f"rebuilt from offset {needed} and no checkpoint covers offsets {needed}-{start - 1}"
            " (deleted by retention?); refusing to recount it from a partial log. Keep the "
            "events topic's retention longer than the event (docs/deploy.md)"
        )
        self.partition = partition
        self.needed = needed
        self.start = start


class PartitionStates:
    """Per-partition states plus the restore that rebuilds them."""

    def __init__(
        self,
        connect: Mapping[str, Any],
        events_topic: str,
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        self._connect = dict(connect)
        self._topic = events_topic
        self._checkpoints = checkpoints
        self.states: dict[int, PartitionState] = {}
        self.rebuilds = 0
        self.restored_from_checkpoint = 0
        self.last_rebuild_s: float | None = None
        self.checkpointed: dict[int, tuple[int, float]] = {}
        """Per partition, the offset and monotonic time of the newest checkpoint known."""
        self.built_at: dict[int, float] = {}
        """Per partition, the monotonic time its state was built or restored."""

    async def state_for(self, partition: int, offset: int) -> PartitionState:
        """The state to apply the record at ``offset`` to, rebuilt first if it has a gap.

        A state always covers a contiguous prefix of its partition: records before its
        ``next_offset`` are already counted (the caller skips them).
        """
        state = self.states.get(partition)
        if state is not None and state.next_offset >= offset:
            return state
        state = await self._rebuild(partition, offset)
        self.states[partition] = state
        self.built_at[partition] = time.monotonic()
        return state

    async def ensure(self, partition: int, upto: int) -> None:
        """Build the state of a newly owned partition up to ``upto`` (the consumer group's
        committed offset), unless it has one.

        That is where the group resumes, so the state then covers everything a previous
        owner (or this worker, before a crash) acknowledged; being rebuilt, it republishes
        it, also what was counted but not published yet, without waiting for the
        partition's next record, which may never come.
        """
        if partition not in self.states:
            await self.state_for(partition, upto)

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget partitions this worker no longer owns."""
        for partition in partitions:
            self.states.pop(partition, None)
            self.built_at.pop(partition, None)
            self.checkpointed.pop(partition, None)

    async def _load_checkpoint(self, partition: int, high: int) -> PartitionState | None:
        if self._checkpoints is None:
            return None
        try:
            found = await self._checkpoints.load(partition)
        except Exception:  # a missing or unreadable checkpoint only costs a longer replay
            logger.exception("could not read the checkpoint of partition %d", partition)
            return None
        if found is None:
            return None
        manifest, data = found
        if manifest.offset > high:
            # Written for a log that is not this one (the events topic was recreated).
            logger.warning(
                "ignoring checkpoint of partition %d at offset %d beyond the log end %d",
                partition,
                manifest.offset,
                high,
            )
            return None
        try:
            # In a thread: the event loop keeps heartbeating while a big state loads.
            state = await asyncio.to_thread(load_state, data)
        except SnapshotError as exc:
            logger.warning("ignoring checkpoint of partition %d: %s", partition, exc)
            return None
        if state.partition != partition or state.next_offset != manifest.offset:
            logger.warning("ignoring checkpoint of partition %d: wrong partition", partition)
            return None
        self.checkpointed[partition] = (manifest.offset, time.monotonic())
        return state

    async def _rebuild(self, partition: int, upto: int) -> PartitionState:
        """A state covering ``[0, upto)`` of the partition (at most up to its end)."""
        from aiokafka import TopicPartition

        started = time.monotonic()
        tp = TopicPartition(self._topic, partition)
        consumer = await started_consumer(
            self._connect,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        try:
            consumer.assign([tp])
            high = (await consumer.end_offsets([tp]))[tp]
            upto = min(upto, high)
            state = await self._load_checkpoint(partition, high)
            source = "checkpoint" if state is not None else "empty"
            if state is None:
                state = PartitionState(partition)
            else:
                self.restored_from_checkpoint += 1
            first = state.next_offset
            if first < upto:
                low = (await consumer.beginning_offsets([tp]))[tp]
                if low > first:
                    raise TruncatedLog(self._topic, partition, first, low)
            applied = await self._replay(consumer, tp, state, upto)
        finally:
            await consumer.stop()
        state.next_offset = max(state.next_offset, upto)
        state.mark_all_dirty()
        self.rebuilds += 1
        self.last_rebuild_s = time.monotonic() - started
        logger.info(
            "rebuilt partition %d from %s at %d plus %d records in %.1f s",
            partition,
            source,
            first,
            applied,
            self.last_rebuild_s,
        )
        return state

    async def _replay(self, consumer: Any, tp: Any, state: PartitionState, upto: int) -> int:
        if state.next_offset >= upto:
            return 0
        consumer.seek(tp, state.next_offset)
        applied = 0
        while await consumer.position(tp) < upto:
            # Small batches: applying is synchronous, and the loop must keep heartbeating.
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=50)
            for record in batch.get(tp, []):
                if record.offset >= upto:
                    return applied
                state.apply_record(record.offset, record.value)
                applied += 1
        return applied
