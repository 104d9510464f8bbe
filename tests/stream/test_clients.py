"""The side clients' helpers: partitions from fresh metadata, committed offsets refused
when the answer leaves a partition out. ``started_consumer`` is wiring, run by the
integration tests."""

from __future__ import annotations

import aiokafka.admin
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from stream.clients import committed_offsets, partitions_of


class Metadata:
    def __init__(self, partitions: dict[str, list[int]]) -> None:
        self.partitions = partitions

    def partitions_for_topic(self, topic: str) -> list[int] | None:
        return self.partitions.get(topic)


class Consumer:
    """Has only what ``partitions_of`` asks: its client's fresh cluster metadata."""

    def __init__(self, partitions: dict[str, list[int]]) -> None:
        metadata = Metadata(partitions)

        class Client:
            async def fetch_all_metadata(self) -> Metadata:
                return metadata

        self._client = Client()


async def test_partitions_come_sorted_from_fresh_metadata_and_none_for_a_missing_topic():
    consumer = Consumer({"t": [2, 0, 1]})
    assert await partitions_of(consumer, "t") == [0, 1, 2]
    assert await partitions_of(consumer, "missing") == []


class Admin:
    """Stands in for ``AIOKafkaAdminClient``: answers ``committed`` or raises ``error``."""

    made: list[Admin] = []
    committed: dict[int, int] = {}
    error: Exception | None = None

    def __init__(self, **connect: object) -> None:
        self.connect = connect
        self.started = self.closed = False
        self.asked: tuple[str, list[TopicPartition]] | None = None
        Admin.made.append(self)

    async def start(self) -> None:
        self.started = True

    async def list_consumer_group_offsets(
        self, group: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        self.asked = (group, partitions)
        if Admin.error is not None:
            raise Admin.error
        return {
            TopicPartition("events", p): OffsetAndMetadata(o, "")
            for p, o in Admin.committed.items()
        }

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def admin(monkeypatch) -> type[Admin]:
    monkeypatch.setattr(aiokafka.admin, "AIOKafkaAdminClient", Admin)
    Admin.made, Admin.committed, Admin.error = [], {}, None
    return Admin


async def test_committed_offsets_of_the_group_with_none_committed_as_0(admin):
    admin.committed = {0: 17, 1: -1, 2: 0}
    found = await committed_offsets({"bootstrap_servers": "b:9"}, "g", "events", [0, 1, 2])
    assert found == {0: 17, 1: 0, 2: 0}
    (client,) = admin.made
    assert client.connect == {"bootstrap_servers": "b:9"}
    assert client.asked == ("g", [TopicPartition("events", p) for p in (0, 1, 2)])
    assert client.started and client.closed


async def test_an_answer_without_a_partition_is_refused_not_taken_for_0(admin):
    admin.committed = {0: 17}
    with pytest.raises(
        LookupError, match=r"no committed offset of g for events partitions \[1, 2\]"
    ):
        await committed_offsets({}, "g", "events", [0, 1, 2])
    assert admin.made[0].closed


async def test_the_admin_client_is_closed_when_the_request_fails(admin):
    admin.error = OSError("coordinator loading")
    with pytest.raises(OSError, match="coordinator loading"):
        await committed_offsets({}, "g", "events", [0])
    assert admin.made[0].closed
