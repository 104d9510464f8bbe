"""Kafka plumbing of the suite: pre-filling topics and watching consumer groups catch up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "GroupProgress",
    "OffsetWatch",
    "Prefill",
    "create_topic",
    "group_members",
    "produce",
    "stats_events",
]

logger = logging.getLogger(__name__)

RecordOut = tuple[int | None, bytes, bytes]
"""``(partition or None for the key's default partition, key, value)``."""


@dataclass
class Prefill:
    """What was written to a topic: records and events per partition offset."""

    records: int
    events: int
    ends: dict[int, int]
    """Partition → end offset after the fill."""
    events_before: dict[int, list[int]]
    """Partition → events in the records before each offset (index = offset)."""
    seconds: float

    def events_between(self, start: dict[int, int], end: dict[int, int]) -> int:
        """Events in the records from ``start`` to ``end`` offsets, over every partition."""
        total = 0
        for partition, cumulative in self.events_before.items():
            lo = min(start.get(partition, 0), len(cumulative) - 1)
            hi = min(end.get(partition, 0), len(cumulative) - 1)
            total += cumulative[hi] - cumulative[lo]
        return total


def create_topic(servers: list[str], name: str, partitions: int) -> None:
    """Create a plain topic (the textbook app's input) unless it exists."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=servers, client_id="livetally-bench")
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def produce(servers: list[str], topic: str, records: Iterable[tuple[RecordOut, int]]) -> Prefill:
    """Write ``((partition, key, value), events)`` records in order; wait for every ack."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=servers,
        acks=1,
        linger_ms=20,
        batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    started = time.monotonic()
    futures: list[tuple[Any, int]] = []
    try:
        for (partition, key, value), events in records:
            futures.append((producer.send(topic, value, key=key, partition=partition), events))
        producer.flush(timeout=300)
    finally:
        producer.close(timeout=30)
    per_partition: dict[int, dict[int, int]] = {}
    total_events = 0
    for future, events in futures:
        meta = future.get(timeout=60)
        per_partition.setdefault(meta.partition, {})[meta.offset] = events
        total_events += events
    events_before: dict[int, list[int]] = {}
    ends: dict[int, int] = {}
    for partition, by_offset in per_partition.items():
        end = max(by_offset) + 1
        cumulative = [0] * (end + 1)
        for offset in range(end):
            cumulative[offset + 1] = cumulative[offset] + by_offset.get(offset, 0)
        events_before[partition] = cumulative
        ends[partition] = end
    return Prefill(
        records=len(futures),
        events=total_events,
        ends=ends,
        events_before=events_before,
        seconds=time.monotonic() - started,
    )


@dataclass
class GroupProgress:
    """How a consumer group went through a pre-filled topic."""

    first_at: float | None = None
    """Monotonic time the group's first commit was seen."""
    first_offsets: dict[int, int] | None = None
    done_at: float | None = None
    """Monotonic time the commits first reached the end offsets."""
    last_offsets: dict[int, int] | None = None


class OffsetWatch:
    """Polls a consumer group's committed offsets on one topic."""

    def __init__(self, servers: list[str], group: str, topic: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self._consumer = KafkaConsumer(
            bootstrap_servers=servers, group_id=group, enable_auto_commit=False
        )
        self._topic = topic
        self._tp: Callable[[int], Any] = lambda p: TopicPartition(topic, p)

    def committed(self, partitions: Iterable[int]) -> dict[int, int] | None:
        """Partition → committed offset (0 where nothing is committed); None if unknown now."""
        from kafka.errors import KafkaError

        out: dict[int, int] = {}
        try:
            for partition in partitions:
                offset = self._consumer.committed(self._tp(partition), timeout_ms=5000)
                out[partition] = int(offset) if offset is not None else 0
        except KafkaError:
            return None  # the group coordinator is still being set up, or moving
        return out

    def ends(self) -> dict[int, int] | None:
        """Partition → end offset of the topic now (None if the broker did not say)."""
        from kafka.errors import KafkaError

        try:
            partitions = self._consumer.partitions_for_topic(self._topic) or set()
            ends = self._consumer.end_offsets([self._tp(p) for p in partitions])
        except KafkaError:
            return None
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    def wait_done(
        self,
        ends: dict[int, int],
        *,
        timeout_s: float,
        stall_s: float = 120.0,
        alive: Callable[[], bool] = lambda: True,
        poll_s: float = 0.1,
    ) -> GroupProgress:
        """Watch until the group has committed ``ends``.

        Gives up after ``timeout_s``, after ``stall_s`` without progress, or as soon as
        ``alive()`` says the consumer died.
        """
        progress = GroupProgress()
        deadline = time.monotonic() + timeout_s
        moved = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - moved < stall_s and alive():
            now_offsets = self.committed(ends)
            now = time.monotonic()
            if now_offsets is None:
                time.sleep(poll_s)
                continue
            if progress.first_at is None and any(now_offsets.values()):
                progress.first_at, progress.first_offsets = now, now_offsets
            if now_offsets != progress.last_offsets:
                moved = now
            progress.last_offsets = now_offsets
            if all(now_offsets[p] >= end for p, end in ends.items()):
                progress.done_at = now
                return progress
            time.sleep(poll_s)
        return progress

    def close(self) -> None:
        """Close the consumer."""
        self._consumer.close()


def end_offsets(servers: list[str], topic: str) -> dict[int, int]:
    """Partition → end offset of ``topic`` now."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=servers)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: int(offset) for tp, offset in ends.items()}
    finally:
        consumer.close()


def group_members(servers: list[str], group: str) -> int:
    """How many members a consumer group has right now while it is stable, else 0."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=servers, client_id="livetally-bench")
    try:
        described: Any = admin.describe_groups([group])
    except KafkaError:
        return 0  # the coordinator is still being set up
    finally:
        admin.close()
    info = described.get(group) if isinstance(described, dict) else None
    if not isinstance(info, dict):
        return 0
    if str(info.get("group_state", "")).lower() != "stable":
        return 0
    return len(info.get("members") or [])


def stats_events(servers: list[str], topic: str, timeout_s: float = 5.0) -> int:
    """Events counted by the worker: the sum over the stats topic's latest record per key."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        latest: dict[bytes, int] = {}
        deadline = time.monotonic() + timeout_s
        while consumer.position(tp) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.value is not None:
                        latest[record.key] = int(orjson.loads(record.value)["events"])
        return sum(latest.values())
    finally:
        consumer.close()
