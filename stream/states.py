"""The partition states this worker holds, rebuilt from the events topic when needed.

The events topic is the system of record. When a record arrives for a partition whose state
is missing or does not end right before that record (first start, a crash, a rebalance that
moved the partition), the state is rebuilt by replaying the partition from its beginning up
to that record. Counting is idempotent, so replaying what was already counted is harmless,
and the rebuilt state republishes every chunk it has.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from stream.partition_state import PartitionState

__all__ = ["PartitionStates"]

logger = logging.getLogger(__name__)


class PartitionStates:
    """Per-partition states plus the replay that restores them."""

    def __init__(self, bootstrap: list[str], events_topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = events_topic
        self.states: dict[int, PartitionState] = {}
        self.rebuilds = 0

    async def state_for(self, partition: int, offset: int) -> PartitionState:
        """The state to apply the record at ``offset`` to, rebuilt first if it has a gap."""
        state = self.states.get(partition)
        if state is not None and state.next_offset >= offset:
            return state
        state = await self._rebuild(partition, offset)
        self.states[partition] = state
        return state

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget partitions this worker no longer owns."""
        for partition in partitions:
            self.states.pop(partition, None)

    async def _rebuild(self, partition: int, upto: int) -> PartitionState:
        state = PartitionState(partition)
        if upto > 0:
            started = time.monotonic()
            applied = await self._replay(state, upto)
            logger.info(
                "rebuilt partition %d from %d records in %.1f s",
                partition,
                applied,
                time.monotonic() - started,
            )
        state.next_offset = upto
        state.mark_all_dirty()
        self.rebuilds += 1
        return state

    async def _replay(self, state: PartitionState, upto: int) -> int:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        tp = TopicPartition(self._topic, state.partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            group_id=None,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        applied = 0
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            while await consumer.position(tp) < upto:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=2000)
                for record in batch.get(tp, []):
                    if record.offset >= upto:
                        return applied
                    state.apply_record(record.offset, record.value)
                    applied += 1
        finally:
            await consumer.stop()
        return applied
