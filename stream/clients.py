"""Small helpers around aiokafka clients shared by the worker's side consumers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

__all__ = ["committed_offsets", "partitions_of", "started_consumer"]


async def started_consumer(connect: Mapping[str, Any], **options: Any) -> Any:
    """A started group-less ``AIOKafkaConsumer`` (no commits) with ``options``.

    ``connect`` is ``KafkaSettings.client_options()``: the servers and how to log in.
    """
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(**connect, enable_auto_commit=False, group_id=None, **options)
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


async def committed_offsets(
    connect: Mapping[str, Any], group: str, topic: str, partitions: list[int]
) -> dict[int, int]:
    """The offsets ``group`` has committed on ``partitions`` of ``topic`` (0 where none).

    Raises ``LookupError`` when the answer leaves a partition out (an error the broker
    reports for the whole request, such as a coordinator still loading): an unknown
    offset must not pass for 0.
    """
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    tps = [TopicPartition(topic, p) for p in partitions]
    admin = AIOKafkaAdminClient(**connect)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=tps)
    finally:
        await admin.close()
    missing = [tp.partition for tp in tps if tp not in found]
    if missing:
        raise LookupError(f"no committed offset of {group} for {topic} partitions {missing}")
    # -1: nothing committed, the group starts from the beginning.
    return {tp.partition: max(0, found[tp].offset) for tp in tps}
