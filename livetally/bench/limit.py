"""The limit: a bare aiokafka loop that only decodes the events topic and counts per partner.

Nothing a Python consumer of the same records can do is cheaper, so livetally's worker
is compared with it on the same topic in the same run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import orjson

__all__ = ["LimitResult", "count_topic"]


@dataclass
class LimitResult:
    """What the loop read and how long it took from the first record to the last."""

    records: int = 0
    events: int = 0
    seconds: float = 0.0
    per_partner: dict[str, int] = field(default_factory=dict)


async def _count(
    servers: list[str], topic: str, partitions: int, records: int, timeout_s: float
) -> LimitResult:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    result = LimitResult()
    counts = result.per_partner
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        first: float | None = None
        deadline = time.monotonic() + timeout_s
        while result.records < records and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=20_000)
            for messages in batch.values():
                if first is None and messages:
                    first = time.monotonic()
                for message in messages:
                    doc = orjson.loads(message.value)
                    platform = doc["platform"]
                    counts[platform] = counts.get(platform, 0) + len(doc["events"])
                result.records += len(messages)
        result.events = sum(counts.values())
        result.seconds = time.monotonic() - first if first is not None else 0.0
    finally:
        await consumer.stop()
    return result


def count_topic(
    servers: list[str], topic: str, partitions: int, records: int, timeout_s: float = 300
) -> LimitResult:
    """Read ``records`` records of ``topic`` from the beginning (run it in its own process)."""
    return asyncio.run(_count(servers, topic, partitions, records, timeout_s))
