"""Small helpers around aiokafka clients shared by the worker's side consumers."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["committed_offset", "partitions_of", "started_consumer"]


async def started_consumer(bootstrap: list[str], **options: Any) -> Any:
    """A started group-less ``AIOKafkaConsumer`` (no commits) with ``options``."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **options
    )
    await consumer.start()
    # Let aiokafka's own start-up tasks run once: stopping a consumer before they did
    # raises CancelledError out of stop().
    await asyncio.sleep(0)
    return consumer


async def partitions_of(consumer: Any, topic: str) -> list[int]:
    """The partition ids of ``topic`` from fresh cluster metadata (empty if it is missing).

    ``partitions_for_topic`` only knows topics the consumer already fetched metadata for,
    and a consumer that only ``assign``s has not; so this asks the cluster.
    """
    cluster = await consumer._client.fetch_all_metadata()
    return sorted(cluster.partitions_for_topic(topic) or ())


async def committed_offset(bootstrap: list[str], group: str, topic: str, partition: int) -> int:
    """The offset ``group`` has committed on one partition (0 if none)."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    tp = TopicPartition(topic, partition)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=[tp])
    finally:
        await admin.close()
    committed = found.get(tp)
    return max(0, committed.offset) if committed is not None else 0
