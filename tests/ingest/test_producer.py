"""The Kafka producer wrapper on a fake kafka-python client and a fake clock.

``KafkaEventProducer`` imports ``kafka.KafkaProducer`` when it first needs a client, so the
tests put a fake there: it records what it is asked, and acknowledges, refuses or never
answers as the test's ``Cluster`` says.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

import kafka
import pytest
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, NotLeaderForPartitionError

from contract.packing import OutRecord
from contract.settings import KafkaSettings
from ingest.exceptions import KafkaNotAcknowledged
from ingest.producer import KafkaEventProducer

TOPIC = "livetally.events"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeFuture:
    """kafka-python's future, as far as the wrapper uses it: a callback added once the
    outcome is known runs at once, as kafka-python's does."""

    def __init__(self) -> None:
        self.callbacks: list = []
        self.errbacks: list = []
        self.outcome: tuple[str, object] | None = None

    def add_callback(self, fn) -> None:
        self.callbacks.append(fn)
        if self.outcome is not None and self.outcome[0] == "ok":
            fn(self.outcome[1])

    def add_errback(self, fn) -> None:
        self.errbacks.append(fn)
        if self.outcome is not None and self.outcome[0] == "error":
            fn(self.outcome[1])

    def add_both(self, fn) -> None:
        self.add_callback(fn)
        self.add_errback(fn)

    def succeed(self, value=None) -> None:
        self.outcome = ("ok", value)
        for fn in self.callbacks:
            fn(value)

    def fail(self, exc: BaseException) -> None:
        self.outcome = ("error", exc)
        for fn in self.errbacks:
            fn(exc)

    def failed(self) -> bool:
        return self.outcome is not None and self.outcome[0] == "error"


@dataclass
class Cluster:
    """What every fake client sees: topics, and how sends and metadata requests go."""

    topics: dict[str, set[int]] = field(default_factory=lambda: {TOPIC: {0, 1, 2, 3}})
    available: dict[str, set[int]] | None = None
    acks: str = "ack"  # "ack", "refuse", "hang" or "raise"
    metadata_ok: bool = True
    unreachable: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    hung: list[FakeFuture] = field(default_factory=list)
    clients: list[FakeClient] = field(default_factory=list)
    gates: dict[bytes, threading.Event] = field(default_factory=dict)
    """A send of a record with one of these keys blocks until its event is set."""


class FakeMetadata:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.updates = 0

    def request_update(self) -> FakeFuture:
        self.updates += 1
        future = FakeFuture()
        if self.cluster.metadata_ok:
            future.succeed()
        else:
            future.fail(KafkaTimeoutError())
        return future

    def partitions_for_topic(self, topic):
        return self.cluster.topics.get(topic)

    def available_partitions_for_topic(self, topic):
        available = self.cluster.available or self.cluster.topics
        return available.get(topic)


class FakeSender:
    def wakeup(self) -> None:
        pass


class FakeClient:
    def __init__(self, cluster: Cluster, **options) -> None:
        self.cluster = cluster
        self.options = options
        self.sent: list[tuple] = []
        self.partition_requests = 0
        self.closed_with: list = []
        self.closed = threading.Event()
        self._metadata = FakeMetadata(cluster)
        self._sender = FakeSender()

    def partitions_for(self, topic):
        self.partition_requests += 1
        if self.cluster.acks == "hang":
            self.cluster.release.wait(10)
        return self.cluster.topics.get(topic)

    def send(self, topic, *, value, key, partition) -> FakeFuture:
        gate = self.cluster.gates.get(key)
        if gate is not None:
            gate.wait(10)
        self.sent.append((topic, key, value, partition))
        if self.cluster.acks == "raise":
            raise KafkaTimeoutError("Failed to update metadata after 5.0 secs.")
        future = FakeFuture()
        if self.cluster.acks == "ack":
            future.succeed(object())
        elif self.cluster.acks == "refuse":
            future.fail(NotLeaderForPartitionError())
        else:
            self.cluster.hung.append(future)
        return future

    def close(self, timeout=None) -> None:
        self.closed_with.append(timeout)
        self.closed.set()


@pytest.fixture
def cluster(monkeypatch) -> Cluster:
    cluster = Cluster()

    def make(**options) -> FakeClient:
        if cluster.unreachable:
            raise KafkaConnectionError("bootstrap failed")
        client = FakeClient(cluster, **options)
        cluster.clients.append(client)
        return client

    monkeypatch.setattr(kafka, "KafkaProducer", make)
    yield cluster
    cluster.release.set()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def producer(cluster, clock):
    producer = KafkaEventProducer(
        KafkaSettings(bootstrap="127.0.0.1:1"), ack_timeout_s=1.0, ready_window_s=3.0, clock=clock
    )
    yield producer
    await producer.close()


def records(n: int = 2) -> list[OutRecord]:
    return [OutRecord(i % 4, f"k{i}".encode(), f"v{i}".encode(), 1) for i in range(n)]


# --- building the client --------------------------------------------------------------------


async def test_no_client_is_built_until_it_is_first_needed(cluster, producer):
    assert cluster.clients == []
    await producer.partitions(TOPIC)
    assert len(cluster.clients) == 1


async def test_the_client_gets_the_servers_and_the_shared_producer_settings(cluster):
    producer = KafkaEventProducer(KafkaSettings(bootstrap="k1:9092,k2:9092"), ack_timeout_s=2.5)
    await producer.partitions(TOPIC)
    await producer.close()
    options = cluster.clients[0].options
    assert options["bootstrap_servers"] == ["k1:9092", "k2:9092"]
    assert (options["acks"], options["enable_idempotence"]) == ("all", True)
    assert options["max_block_ms"] == 2500  # from the acknowledgement timeout
    assert options["allow_auto_create_topics"] is False


async def test_options_given_override_the_defaults_and_are_copied(cluster):
    given = {"linger_ms": 0, "client_id": "backfill"}
    producer = KafkaEventProducer(KafkaSettings(bootstrap="127.0.0.1:1"), options=given)
    given["linger_ms"] = 999
    await producer.partitions(TOPIC)
    await producer.close()
    options = cluster.clients[0].options
    assert (options["linger_ms"], options["client_id"]) == (0, "backfill")
    assert options["acks"] == "all"


async def test_an_option_repeating_a_connection_setting_wins_instead_of_failing(cluster):
    given = {"bootstrap_servers": ["k9:9092"]}
    producer = KafkaEventProducer(KafkaSettings(bootstrap="127.0.0.1:1"), options=given)
    await producer.partitions(TOPIC)
    await producer.close()
    assert cluster.clients[0].options["bootstrap_servers"] == ["k9:9092"]


async def test_concurrent_first_calls_share_one_client(cluster, producer):
    await asyncio.gather(*(producer.send(TOPIC, records(1)) for _ in range(8)))
    assert len(cluster.clients) == 1
    assert len(cluster.clients[0].sent) == 8


async def test_a_client_that_cannot_be_built_is_unavailable_and_tried_again_next_time(
    cluster, producer
):
    cluster.unreachable = True
    with pytest.raises(KafkaNotAcknowledged, match=r"unavailable \(KafkaConnectionError\)"):
        await producer.partitions(TOPIC)
    cluster.unreachable = False
    assert await producer.partitions(TOPIC) == 4
    assert len(cluster.clients) == 1


# --- partitions -----------------------------------------------------------------------------


async def test_partitions_are_counted_and_cached_for_a_minute(cluster, producer, clock):
    assert await producer.partitions(TOPIC) == 4
    cluster.topics[TOPIC] = {0, 1, 2, 3, 4, 5}
    clock.now += 59.9
    assert await producer.partitions(TOPIC) == 4
    assert cluster.clients[0].partition_requests == 1
    clock.now += 0.1
    assert await producer.partitions(TOPIC) == 6
    assert cluster.clients[0].partition_requests == 2


@pytest.mark.parametrize("found", [None, set()])
async def test_a_topic_that_does_not_exist_is_unavailable_and_not_cached(cluster, producer, found):
    cluster.topics["missing"] = found
    with pytest.raises(KafkaNotAcknowledged, match="topic missing does not exist") as caught:
        await producer.partitions("missing")
    assert caught.value.code == "kafka_unavailable"
    cluster.topics["missing"] = {0}
    assert await producer.partitions("missing") == 1


async def test_partitions_that_take_too_long_are_unavailable(cluster, clock):
    producer = KafkaEventProducer(
        KafkaSettings(bootstrap="127.0.0.1:1"), ack_timeout_s=0.05, clock=clock
    )
    cluster.acks = "hang"
    with pytest.raises(KafkaNotAcknowledged, match="did not answer in time"):
        await producer.partitions(TOPIC)
    cluster.release.set()
    await producer.close()


# --- send -----------------------------------------------------------------------------------


async def test_each_record_goes_to_its_partition_with_its_key_and_value(cluster, producer):
    await producer.send(TOPIC, records(3))
    assert cluster.clients[0].sent == [
        (TOPIC, b"k0", b"v0", 0),
        (TOPIC, b"k1", b"v1", 1),
        (TOPIC, b"k2", b"v2", 2),
    ]


async def test_records_of_successive_sends_reach_the_client_in_the_order_of_the_sends(
    cluster, producer
):
    gate = cluster.gates[b"first"] = threading.Event()
    first = asyncio.create_task(producer.send(TOPIC, [OutRecord(0, b"first", b"1", 1)]))
    await asyncio.sleep(0)
    second = asyncio.create_task(producer.send(TOPIC, [OutRecord(0, b"second", b"2", 1)]))
    await asyncio.sleep(0.3)  # time enough for a second thread to overtake the first
    overtaken = [key for client in cluster.clients for _, key, _, _ in client.sent]
    gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert overtaken == []
    assert [key for _, key, _, _ in cluster.clients[0].sent] == [b"first", b"second"]


async def test_acknowledgements_from_kafka_s_own_thread_complete_the_send(cluster, producer):
    cluster.acks = "hang"
    sending = asyncio.create_task(producer.send(TOPIC, records(2)))
    while len(cluster.hung) < 2:
        await asyncio.sleep(0.01)
    assert not sending.done()
    threading.Thread(target=lambda: [f.succeed(object()) for f in cluster.hung]).start()
    await asyncio.wait_for(sending, 5)


async def test_a_refused_record_makes_the_send_unavailable(cluster, producer):
    cluster.acks = "refuse"
    with pytest.raises(KafkaNotAcknowledged, match=r"refused the events \(NotLeader"):
        await producer.send(TOPIC, records(2))


async def test_a_send_that_raises_in_the_client_is_unavailable(cluster, producer):
    cluster.acks = "raise"
    with pytest.raises(KafkaNotAcknowledged, match=r"refused the events \(KafkaTimeoutError\)"):
        await producer.send(TOPIC, records(1))


async def test_one_refused_record_among_acknowledged_ones_fails_the_send(cluster, producer):
    cluster.acks = "hang"
    sending = asyncio.create_task(producer.send(TOPIC, records(3)))
    while len(cluster.hung) < 3:
        await asyncio.sleep(0.01)
    cluster.hung[0].succeed(object())
    cluster.hung[1].fail(NotLeaderForPartitionError())
    cluster.hung[2].succeed(object())
    with pytest.raises(KafkaNotAcknowledged):
        await sending


async def test_a_send_without_acknowledgement_in_time_is_unavailable(cluster, clock, caplog):
    producer = KafkaEventProducer(
        KafkaSettings(bootstrap="127.0.0.1:1"), ack_timeout_s=0.05, clock=clock
    )
    cluster.acks = "hang"
    with pytest.raises(KafkaNotAcknowledged, match="did not acknowledge within 0.05 s"):
        await producer.send(TOPIC, records(2))
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        cluster.hung[0].succeed(object())  # late answers to a request given up: ignored
        cluster.hung[1].fail(NotLeaderForPartitionError())
        for _ in range(5):
            await asyncio.sleep(0)
    assert caplog.records == []
    await producer.close()


def test_an_acknowledgement_after_the_loop_closed_is_dropped(cluster, clock):
    producer = KafkaEventProducer(
        KafkaSettings(bootstrap="127.0.0.1:1"), ack_timeout_s=0.05, clock=clock
    )
    cluster.acks = "hang"
    loop = asyncio.new_event_loop()
    with pytest.raises(KafkaNotAcknowledged):
        loop.run_until_complete(producer.send(TOPIC, records(2)))
    loop.run_until_complete(producer.close())
    loop.close()
    cluster.hung[0].succeed(object())  # on kafka-python's thread, this must not raise
    cluster.hung[1].fail(NotLeaderForPartitionError())


# --- replacing a wedged client --------------------------------------------------------------


async def fail_once(producer, cluster) -> None:
    cluster.acks = "refuse"
    with pytest.raises(KafkaNotAcknowledged):
        await producer.send(TOPIC, records(1))


async def test_a_client_failing_for_the_reset_time_is_replaced(cluster, producer, clock):
    await producer.partitions(TOPIC)
    await fail_once(producer, cluster)
    clock.now += 5.0  # max(2 x ack timeout, 5 s)
    await fail_once(producer, cluster)
    old = cluster.clients[0]
    assert old.closed.wait(5) and old.closed_with == [0]
    cluster.acks = "ack"
    await producer.send(TOPIC, records(1))
    assert len(cluster.clients) == 2 and len(cluster.clients[1].sent) == 1
    await producer.partitions(TOPIC)  # the cache went with the old client
    assert cluster.clients[1].partition_requests == 1


async def test_failures_shorter_than_the_reset_time_keep_the_client(cluster, producer, clock):
    for _ in range(10):
        await fail_once(producer, cluster)
        clock.now += 0.49
    await fail_once(producer, cluster)  # would build a new client had the old one gone
    assert len(cluster.clients) == 1 and not cluster.clients[0].closed.is_set()


async def test_an_acknowledgement_restarts_the_reset_time(cluster, producer, clock):
    await fail_once(producer, cluster)
    clock.now += 4.0
    cluster.acks = "ack"
    await producer.send(TOPIC, records(1))
    clock.now += 0.5
    await fail_once(producer, cluster)
    clock.now += 4.0  # 8.5 s since the first failure, 4 s since the last success
    await fail_once(producer, cluster)
    await fail_once(producer, cluster)  # would build a new client had the old one gone
    assert len(cluster.clients) == 1


async def test_the_reset_time_grows_with_a_long_acknowledgement_timeout(cluster, clock):
    producer = KafkaEventProducer(
        KafkaSettings(bootstrap="127.0.0.1:1"), ack_timeout_s=4.0, clock=clock
    )
    await fail_once(producer, cluster)
    clock.now += 7.9
    await fail_once(producer, cluster)
    await fail_once(producer, cluster)  # would build a new client had the old one gone
    assert len(cluster.clients) == 1
    clock.now += 0.1
    await fail_once(producer, cluster)
    assert cluster.clients[0].closed.wait(5)
    await fail_once(producer, cluster)
    assert len(cluster.clients) == 2
    await producer.close()


# --- ready ----------------------------------------------------------------------------------


async def test_a_recent_acknowledgement_is_ready_without_asking_kafka(cluster, producer, clock):
    await producer.send(TOPIC, records(1))
    clock.now += 2.9
    assert await producer.ready(TOPIC)
    assert cluster.clients[0]._metadata.updates == 0


async def test_without_a_recent_acknowledgement_ready_asks_for_fresh_metadata(
    cluster, producer, clock
):
    await producer.send(TOPIC, records(1))
    clock.now += 3.0
    assert await producer.ready(TOPIC)
    assert cluster.clients[0]._metadata.updates == 1


async def test_a_failure_after_the_last_acknowledgement_makes_ready_ask_kafka(
    cluster, producer, clock
):
    await producer.send(TOPIC, records(1))
    clock.now += 0.5
    await fail_once(producer, cluster)
    cluster.metadata_ok = False
    assert not await producer.ready(TOPIC)


async def test_a_successful_probe_counts_as_a_recent_success(cluster, producer, clock):
    assert await producer.ready(TOPIC)
    assert await producer.ready(TOPIC)
    assert cluster.clients[0]._metadata.updates == 1


async def test_a_failed_metadata_request_is_not_ready(cluster, producer):
    cluster.metadata_ok = False
    assert not await producer.ready(TOPIC)


async def test_a_partition_without_a_leader_is_not_ready(cluster, producer):
    cluster.available = {TOPIC: {0, 1, 2}}
    assert not await producer.ready(TOPIC)


async def test_a_topic_that_does_not_exist_is_not_ready(cluster, producer):
    assert not await producer.ready("missing")


async def test_an_unreachable_cluster_is_not_ready(cluster, producer):
    cluster.unreachable = True
    assert not await producer.ready(TOPIC)


# --- close ----------------------------------------------------------------------------------


async def test_close_flushes_the_client_within_the_acknowledgement_timeout(cluster, producer):
    await producer.partitions(TOPIC)
    await producer.close()
    assert cluster.clients[0].closed_with == [1.0]


async def test_close_without_a_client_builds_none(cluster, producer):
    await producer.close()
    assert cluster.clients == []


async def test_a_failing_close_is_logged_not_raised(cluster, producer, caplog):
    await producer.partitions(TOPIC)

    def broken(timeout=None) -> None:
        raise KafkaTimeoutError("flush timed out")

    cluster.clients[0].close = broken
    with caplog.at_level(logging.ERROR, logger="ingest.producer"):
        await producer.close()
    assert "closing the Kafka producer failed" in caplog.text


# --- the app's producer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coalesce_linger_ms", "client_linger_ms", "coalescing"), [(5.0, 0, True), (0.0, 5, False)]
)
async def test_a_coalescing_app_turns_the_client_s_own_linger_off(
    cluster, coalesce_linger_ms, client_linger_ms, coalescing
):
    from contract.settings import Settings
    from ingest.app import create_app
    from ingest.coalescer import Coalescer
    from ingest.config import IngestConfig

    from .helpers import StaticRegistry, make_registry

    config = IngestConfig(
        shared=Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1")),
        coalesce_linger_ms=coalesce_linger_ms,
    )
    app = create_app(config, registry=StaticRegistry(make_registry()))
    state = app.state.ingest
    assert isinstance(state.producer, Coalescer) is coalescing
    await asyncio.wait_for(state.producer.send(state.topic, records(2)), 5)
    [client] = cluster.clients
    assert client.options["linger_ms"] == client_linger_ms
    assert [partition for _, _, _, partition in client.sent] == [0, 1]
    await state.producer.close()
