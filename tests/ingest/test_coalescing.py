"""Concurrent requests over the real HTTP server and the session's broker: fewer records.

Two ingest apps on their own topics: one gathering records (a linger long enough that
requests posted together meet in it), one producing each request's records on their own.
Both get the same concurrent requests; the topics are then read back whole.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest
import uvicorn
from kafka import KafkaConsumer, TopicPartition

from contract.packing import partition_for
from contract.records import decode_batches, partition_key, split_bundle
from contract.registry import Partner, Stream, hash_secret
from contract.registry_store import RegistryStore
from contract.settings import KafkaSettings, Settings
from contract.topics import EVENTS, ensure_topics
from ingest.app import create_app
from ingest.config import IngestConfig
from ingest.server import uvicorn_config
from tests.ports import free_port

pytestmark = [pytest.mark.integration]

KEY = "pk_coalesce_" + uuid.uuid4().hex
REQUESTS = 48
EVENTS_PER_REQUEST = 40


@dataclasses.dataclass
class Served:
    url: str
    kafka: KafkaSettings


def _serve(broker, linger_ms: float) -> Iterator[Served]:
    kafka = dataclasses.replace(
        broker.settings.kafka, topic_prefix=f"coalesce-{uuid.uuid4().hex[:8]}.", partitions=4
    )
    ensure_topics(kafka)
    store = RegistryStore(kafka)
    store.put(Stream("carnival", "Carnival"))
    store.put(Partner("douyu", "Douyu", rate=1_000_000, key_hash=hash_secret(KEY)))
    config = IngestConfig(
        shared=Settings(home=broker.settings.home, kafka=kafka),
        port=free_port(),
        coalesce_linger_ms=linger_ms,
        metrics_interval_s=0,
    )
    server = uvicorn.Server(uvicorn_config(config, create_app(config)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(config.base_url + "/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("ingest never became ready")
        time.sleep(0.3)
    yield Served(config.base_url, kafka)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def coalescing(broker) -> Iterator[Served]:
    yield from _serve(broker, linger_ms=50)


@pytest.fixture(scope="module")
def one_by_one(broker) -> Iterator[Served]:
    yield from _serve(broker, linger_ms=0)


def _bodies(tag: str) -> list[bytes]:
    now = time.time_ns() // 1_000_000
    return [
        orjson.dumps(
            {
                "events": [
                    {
                        "type": "join",
                        "stream": "carnival",
                        "ts": now,
                        "session_id": f"{tag}-{r}-{i}",
                    }
                    for i in range(EVENTS_PER_REQUEST)
                ]
            }
        )
        for r in range(REQUESTS)
    ]


def _partitions_touched(bodies: list[bytes]) -> int:
    """Records the bodies make without coalescing: one per partition per request."""
    return sum(
        len(
            {
                partition_for(partition_key("carnival", "douyu", event["session_id"]), 4)
                for event in orjson.loads(body)["events"]
            }
        )
        for body in bodies
    )


def _post_together(url: str, bodies: list[bytes]) -> list[int]:
    """Post every body at once, each from its own connection; the statuses in order."""
    start = threading.Barrier(len(bodies))

    def post(body: bytes) -> int:
        with httpx.Client(timeout=30) as client:
            client.get(url + "/healthz")  # connected before the barrier
            start.wait()
            response = client.post(
                url + "/v1/events",
                content=body,
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            )
            return response.status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


@dataclasses.dataclass
class Topic:
    records: int
    bundles: int
    most_batches: int
    sessions: Counter[str]
    misplaced: int


def _read_all(kafka: KafkaSettings) -> Topic:
    topic = kafka.topic(EVENTS)
    consumer = KafkaConsumer(bootstrap_servers=kafka.servers, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    ends = consumer.end_offsets(parts)
    seen = Topic(0, 0, 0, Counter(), 0)
    deadline = time.monotonic() + 60
    try:
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            assert time.monotonic() < deadline, "the topic was not read in time"
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    seen.records += 1
                    parts_of = split_bundle(record.value)
                    if parts_of is not None:
                        seen.bundles += 1
                        seen.most_batches = max(seen.most_batches, len(parts_of))
                    for batch in decode_batches(record.value):
                        for event in batch.events:
                            seen.sessions[event["session_id"]] += 1
                            key = partition_key("carnival", batch.platform, event["session_id"])
                            if partition_for(key, kafka.partitions) != tp.partition:
                                seen.misplaced += 1
    finally:
        consumer.close()
    return seen


def test_concurrent_requests_land_in_fewer_records_and_every_event_once(coalescing, one_by_one):
    tag = uuid.uuid4().hex[:8]
    bodies = _bodies(tag)
    wanted = {f"{tag}-{r}-{i}" for r in range(REQUESTS) for i in range(EVENTS_PER_REQUEST)}

    assert _post_together(one_by_one.url, bodies) == [202] * REQUESTS
    alone = _read_all(one_by_one.kafka)
    assert _post_together(coalescing.url, bodies) == [202] * REQUESTS
    together = _read_all(coalescing.kafka)

    for seen in (alone, together):
        assert seen.sessions.keys() == wanted
        assert set(seen.sessions.values()) == {1}  # every event exactly once
        assert seen.misplaced == 0  # in the partition its own key maps to
    # Without coalescing, one record per partition per request.
    assert (alone.records, alone.bundles) == (_partitions_touched(bodies), 0)
    # With it, records of several requests share one record.
    assert together.bundles > 0 and together.most_batches >= 2
    assert together.records <= alone.records // 2


def test_a_quiet_coalescing_ingest_writes_what_it_wrote_before(coalescing):
    """One request at a time: each record goes out as the request's own batch."""
    before = _read_all(coalescing.kafka)
    tag = uuid.uuid4().hex[:8]
    bodies = _bodies(tag)[:3]
    for body in bodies:
        response = httpx.post(
            coalescing.url + "/v1/events",
            content=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 202
    after = _read_all(coalescing.kafka)
    assert after.records - before.records == _partitions_touched(bodies)
    assert after.bundles == before.bundles
