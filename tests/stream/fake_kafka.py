"""An in-memory stand-in for the few aiokafka calls the worker's side clients make.

``FakeCluster`` holds one log per topic partition (offsets keep their gaps after
``compact``, as on a compacted Kafka topic); ``FakeConsumer`` and ``FakeProducer`` read and
write it with the aiokafka methods ``stream.checkpoints`` and ``stream.alerting`` call.
Fakes only for unit tests of the logic around those calls: the real clients are exercised
against a broker by the integration tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition


@dataclass(frozen=True)
class Record:
    """What the code reads of an aiokafka ``ConsumerRecord``."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class FakeCluster:
    """Topics of fixed partition counts, each partition an append-only log."""

    def __init__(self, topics: dict[str, int]) -> None:
        self.partitions = dict(topics)
        self.logs: dict[TopicPartition, list[Record]] = {
            TopicPartition(topic, p): [] for topic, count in topics.items() for p in range(count)
        }
        self.ends: dict[TopicPartition, int] = dict.fromkeys(self.logs, 0)

    def append(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> int:
        """Write one record; return its offset."""
        tp = TopicPartition(topic, partition)
        offset = self.ends[tp]
        self.logs[tp].append(Record(topic, partition, offset, key, value))
        self.ends[tp] = offset + 1
        return offset

    def records(self, topic: str, partition: int = 0) -> list[Record]:
        return list(self.logs[TopicPartition(topic, partition)])

    def compact(self, topic: str, partition: int = 0) -> None:
        """Keep the newest record per key and drop tombstones; offsets keep their gaps."""
        tp = TopicPartition(topic, partition)
        newest = {record.key: record.offset for record in self.logs[tp]}
        self.logs[tp] = [
            r for r in self.logs[tp] if newest[r.key] == r.offset and r.value is not None
        ]

    def remove(self, topic: str, partition: int, offsets: Iterable[int]) -> None:
        """Drop records, as the log cleaner would."""
        tp = TopicPartition(topic, partition)
        gone = set(offsets)
        self.logs[tp] = [r for r in self.logs[tp] if r.offset not in gone]


class _Metadata:
    def __init__(self, cluster: FakeCluster) -> None:
        self._cluster = cluster

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        count = self._cluster.partitions.get(topic)
        return None if count is None else set(range(count))


class _Client:
    def __init__(self, cluster: FakeCluster) -> None:
        self._cluster = cluster

    async def fetch_all_metadata(self) -> _Metadata:
        return _Metadata(self._cluster)


class FakeConsumer:
    """A group-less consumer over a ``FakeCluster``.

    ``getmany`` hands out at most ``batch`` records per partition; the fetches numbered in
    ``empty_fetches`` (1 = the first) answer nothing, as a fetch that timed out does.
    """

    def __init__(
        self, cluster: FakeCluster, batch: int = 4, empty_fetches: Iterable[int] = ()
    ) -> None:
        self._cluster = cluster
        self._client = _Client(cluster)
        self.batch = batch
        self.empty_fetches = set(empty_fetches)
        self.assigned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.seeks: list[int] = []
        self.fetches = 0
        self.empty_answers = 0
        self.stopped = False

    def assign(self, tps: list[TopicPartition]) -> None:
        self.assigned = list(tps)
        self.positions = dict.fromkeys(tps, 0)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        assert tp in self.positions, f"{tp} is not assigned"
        self.seeks.append(offset)
        self.positions[tp] = offset

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps:
            self.positions[tp] = 0

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._cluster.ends[tp] for tp in tps}

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        self.fetches += 1
        if self.fetches in self.empty_fetches:
            self.empty_answers += 1
            return {}
        out: dict[TopicPartition, list[Record]] = {}
        for tp in tps or tuple(self.assigned):
            position = self.positions[tp]
            found = [r for r in self._cluster.logs[tp] if r.offset >= position][: self.batch]
            if found:
                out[tp] = found
                self.positions[tp] = found[-1].offset + 1
        if not out:
            self.empty_answers += 1
        return out

    async def stop(self) -> None:
        self.stopped = True


class FakeProducer:
    """Writes to a ``FakeCluster``: ``send_and_wait`` at once, ``send`` once flushed."""

    def __init__(self, cluster: FakeCluster) -> None:
        self._cluster = cluster
        self._pending: list[tuple[str, int, bytes | None, bytes | None]] = []
        self.flushes = 0

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self._cluster.partitions[topic]))

    async def send_and_wait(
        self, topic: str, value: bytes | None, key: bytes | None = None, partition: int = 0
    ) -> Any:
        assert not self._pending, "a record sent before this one is not flushed yet"
        return SimpleNamespace(offset=self._cluster.append(topic, partition, key, value))

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None = None, partition: int = 0
    ) -> None:
        self._pending.append((topic, partition, key, value))

    async def flush(self) -> None:
        for topic, partition, key, value in self._pending:
            self._cluster.append(topic, partition, key, value)
        self._pending.clear()
        self.flushes += 1

    async def stop(self) -> None:
        pass
