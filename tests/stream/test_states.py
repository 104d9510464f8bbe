"""Rebuilding a partition's state on a real broker: refused when the log lost its start."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contract.topics import EVENTS
from stream.states import PartitionStates, TruncatedLog

pytestmark = pytest.mark.integration


@pytest.fixture
def events_topic(broker):
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    kafka = broker.settings.kafka
    name = f"t-states-{uuid.uuid4().hex[:8]}.{EVENTS}"
    admin = KafkaAdminClient(**kafka.client_options())
    admin.create_topics([NewTopic(name, 2, 1)])
    producer = KafkaProducer(**kafka.client_options(), acks="all")
    for partition in (0, 1):
        for i in range(10):
            producer.send(name, value=b"not an event record", key=b"k%d" % i, partition=partition)
    producer.flush()
    producer.close()
    yield kafka, name, admin
    admin.delete_topics([name])
    admin.close()


def test_a_log_whose_start_was_deleted_is_not_recounted(events_topic):
    from kafka import TopicPartition

    kafka, name, admin = events_topic
    admin.delete_records({TopicPartition(name, 0): 4})
    states = PartitionStates(kafka.client_options(), name)

    async def build(partition: int):
        return await states.state_for(partition, 10)

    with pytest.raises(TruncatedLog, match=r"partition 0 starts at offset 4.*offsets 0-3") as err:
        asyncio.run(build(0))
    assert (err.value.needed, err.value.start) == (0, 4)
    assert 0 not in states.states
    intact = asyncio.run(build(1))  # the other partition still has all it needs
    assert intact.next_offset == 10
