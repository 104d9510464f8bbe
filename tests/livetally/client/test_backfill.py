"""The operator's KafkaClient: what it refuses, the records it writes, and a real broker."""

from __future__ import annotations

import time
import uuid

import httpx
import orjson
import pytest

from contract.topics import DEADLETTER
from livetally.client import ClientError, KafkaClient


def test_kafka_client_refuses_what_ingest_would_refuse_before_producing():
    client = KafkaClient("127.0.0.1:1", "douyu")
    with pytest.raises(ClientError, match="platform 'huya'"):
        client.send({"type": "join", "platform": "huya"})
    with pytest.raises(ClientError, match="not JSON"):
        client.send({"type": "join", "ts": object()})
    with pytest.raises(ClientError, match="JSON object"):
        client.send(["join"])  # type: ignore[arg-type]
    assert client.pending == 0
    with pytest.raises(ValueError):
        KafkaClient("127.0.0.1:1", "")


class FakeProducer:
    """Stands in for kafka-python's producer: four partitions, every send acknowledged."""

    def __init__(self):
        self.sent = []

    def partitions_for(self, topic):
        return {0, 1, 2, 3}

    def send(self, topic, *, key, value, partition):
        self.sent.append((topic, key, value, partition))
        return FakeFuture()

    def flush(self, timeout=None):
        return None


class FakeFuture:
    def get(self, timeout=None):
        return None


def test_kafka_client_writes_the_records_ingest_writes_in_the_key_s_partition():
    from contract.packing import partition_for
    from contract.records import decode_batch, partition_key

    client = KafkaClient("127.0.0.1:1", "douyu", 45_000, clock_ms=lambda: 1_734_780_000_000)
    producer = client._producer = FakeProducer()
    for i in range(10):
        client.send({"type": "join", "stream": "carnival", "ts": 1, "session_id": f"k{i}"})
    assert client.flush() == 10 and client.produced == 10
    seen = set()
    for topic, _key, value, partition in producer.sent:
        batch = decode_batch(value)
        assert topic == "livetally.events" and batch.platform == "douyu"
        assert (batch.received_at, batch.timeout_ms) == (1_734_780_000_000, 45_000)
        for event in batch.events:
            assert partition == partition_for(
                partition_key("carnival", "douyu", event["session_id"]), 4
            )
            seen.add(event["session_id"])
    assert seen == {f"k{i}" for i in range(10)}


def _read_topic(kafka, name: str, *, until, timeout_s: float = 60) -> list[dict]:
    from kafka import KafkaConsumer, TopicPartition

    topic = kafka.topic(name)
    consumer = KafkaConsumer(bootstrap_servers=kafka.servers, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    seen: list[dict] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not until(seen) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(orjson.loads(r.value) for r in records)
    finally:
        consumer.close()
    return seen


@pytest.mark.integration
def test_events_produced_straight_to_kafka_are_counted_and_invalid_ones_dead_lettered(stack):
    stream, partner = f"kc-{uuid.uuid4().hex[:6]}", f"kp{uuid.uuid4().hex[:6]}"
    stack.cli("stream", "add", stream, "--title", "Kafka client")
    stack.cli("partner", "add", partner, "--name", "Direct", "--session-timeout", "3600")
    token = stack.cli("token", "create", "--role", "viewer").stdout.strip().splitlines()[-1]
    now = time.time_ns() // 1_000_000
    bad_session = f"bad-{uuid.uuid4().hex[:8]}"
    with KafkaClient(stack.settings.kafka.bootstrap, partner, 3_600_000, batch_size=10) as kc:
        for i in range(25):
            kc.send({"type": "join", "stream": stream, "ts": now - i, "session_id": f"k{i}"})
        kc.send({"type": "join", "stream": stream, "ts": now, "session_id": bad_session, "x": 1})
    assert kc.produced == 26 and kc.pending == 0

    deadline = time.monotonic() + 90
    figures: dict = {}
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{stack.dashboard_url}/api/v1/streams/{stream}/summary",
            headers={"Authorization": f"Bearer {token}"},
        )
        figures = r.json().get("platforms", {}).get(partner, {}) if r.status_code == 200 else {}
        if figures.get("views") == 25:
            break
        time.sleep(1)
    assert (figures.get("views"), figures.get("concurrent")) == (25, 25), figures

    def found(letters: list[dict]) -> bool:
        return any(bad_session in letter.get("value", "") for letter in letters)

    letters = _read_topic(stack.settings.kafka, DEADLETTER, until=found)
    [letter] = [x for x in letters if bad_session in x.get("value", "")]
    assert letter["code"] == "unknown_field"
    assert letter["detail"] == "unknown field(s): x"
