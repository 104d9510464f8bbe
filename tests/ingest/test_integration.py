"""The real ingest app over real HTTP against a real Kafka broker it can lose and regain."""

from __future__ import annotations

import gzip
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import jsonschema
import orjson
import pytest
import uvicorn
from kafka import KafkaConsumer, TopicPartition

from contract.packing import partition_for
from contract.records import decode_batches, partition_key
from contract.registry import Partner, Stream, hash_secret
from contract.registry_store import RegistryStore
from contract.settings import KafkaSettings, Settings
from contract.topics import EVENTS, ensure_topics
from ingest.app import create_app
from ingest.config import IngestConfig
from ingest.openapi import ROUTE_STATUSES
from ingest.server import uvicorn_config
from livetally.client import BatchResult
from tests.ports import free_port, free_port_pair

from .broker import Broker

pytestmark = [
    pytest.mark.integration,
]

# A broker of its own (these tests kill it), on a free pair of ports.
KAFKA_PORT = free_port_pair()
HTTP_PORT = free_port()
KEY = "pk_it_" + uuid.uuid4().hex
SLOW_KEY = "pk_it_slow_" + uuid.uuid4().hex
OTHER_KEY = "pk_it_other_" + uuid.uuid4().hex
PARTITIONS = 4


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[Broker]:
    node = Broker(tmp_path_factory.mktemp("kafka"), KAFKA_PORT)
    node.format()
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def kafka(broker) -> KafkaSettings:
    settings = KafkaSettings(
        bootstrap=f"127.0.0.1:{broker.port}", port=broker.port, partitions=PARTITIONS
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            ensure_topics(settings)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    store = RegistryStore(settings)
    store.put(Stream("carnival", "Carnival"))
    store.put(Partner("douyu", "Douyu", rate=50_000, key_hash=hash_secret(KEY)))
    store.put(Partner("huya", "Huya", rate=100_000, key_hash=hash_secret(OTHER_KEY)))
    # rate 1 with a burst of 2: after 10 events the bucket owes 8 s, however slow the box.
    store.put(Partner("slowpoke", "Slow", rate=1, key_hash=hash_secret(SLOW_KEY)))
    return settings


@pytest.fixture(scope="module")
def server(kafka) -> Iterator[str]:
    config = IngestConfig(shared=Settings(kafka=kafka), port=HTTP_PORT)
    app = create_app(config)
    uv = uvicorn.Server(uvicorn_config(config, app))  # the settings `livetally serve` uses
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = config.base_url
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("ingest never became ready")
        time.sleep(0.3)
    yield url
    uv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def spec(server) -> dict:
    return httpx.get(server + "/openapi.json").json()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def join(session: str, **extra) -> dict:
    return {"type": "join", "stream": "carnival", "ts": now_ms(), "session_id": session, **extra}


def post(url, body, *, key=KEY, content_type="application/json", path="/v1/events", **headers):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        url + path,
        content=data,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type, **headers},
        timeout=30,
    )


def check_declared(spec: dict, response: httpx.Response, path: str = "/v1/events") -> None:
    """The status is declared for the route, and the body matches the schema declared for
    that status and media type (validated with jsonschema, OpenAPI 3.1 = JSON Schema 2020-12)."""
    method = response.request.method.lower()
    declared = spec["paths"][path][method]["responses"]
    assert str(response.status_code) in declared
    assert response.status_code in ROUTE_STATUSES[(method, path)]
    content = declared[str(response.status_code)]["content"]
    media_type = response.headers["content-type"].split(";")[0].strip()
    assert media_type in content, (media_type, list(content))
    schema = {**content[media_type]["schema"], "components": spec["components"]}
    body = response.text if media_type == "text/html" else response.json()
    jsonschema.Draft202012Validator(schema).validate(body)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        doc = response.json()
        assert {"type", "title", "status", "detail", "code"} <= doc.keys()
        assert doc["status"] == response.status_code


def stored_events(kafka: KafkaSettings, sessions: set[str], timeout_s: float = 30) -> dict:
    """session_id -> (partition, record key, event, platform) for every stored event asked for."""
    topic = kafka.topic(EVENTS)
    consumer = KafkaConsumer(bootstrap_servers=kafka.servers, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    found: dict = {}
    deadline = time.monotonic() + timeout_s
    try:
        while not sessions <= found.keys() and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    for batch in decode_batches(record.value):
                        for event in batch.events:
                            if event.get("session_id") in sessions:
                                found[event["session_id"]] = (
                                    tp.partition,
                                    record.key,
                                    event,
                                    batch,
                                )
    finally:
        consumer.close()
    return found


def test_accepted_events_are_in_kafka_in_the_partition_their_key_maps_to(server, kafka, spec):
    sessions = [f"acc-{uuid.uuid4().hex[:8]}-{i}" for i in range(40)]
    response = post(server, {"events": [join(s, platform="douyu") for s in sessions]})
    assert (response.status_code, response.json()) == (202, {"accepted": 40})
    check_declared(spec, response)
    found = stored_events(kafka, set(sessions))
    assert found.keys() == set(sessions)
    for session, (partition, _key, event, batch) in found.items():
        assert partition == partition_for(partition_key("carnival", "douyu", session), PARTITIONS)
        assert event["type"] == "join" and "platform" not in event
        assert batch.platform == "douyu" and batch.timeout_ms == 30_000
    # one record per partition per request: no more records than partitions used
    assert len({key for _, key, _, _ in found.values()}) <= PARTITIONS


def test_the_partner_sdk_s_events_reach_kafka_in_their_viewer_s_partition(server, kafka):
    from livetally.client import Client

    sessions = [f"sdk-{uuid.uuid4().hex[:8]}-{i}" for i in range(12)]
    with Client(server, KEY, background=True, batch_size=5, flush_at_exit=False) as client:
        for session in sessions:
            client.join("carnival", session)
            client.heartbeat("carnival", session)
    assert client.result == BatchResult(accepted=24)
    found = stored_events(kafka, set(sessions))
    assert found.keys() == set(sessions)
    for session, (partition, _key, _event, batch) in found.items():
        assert partition == partition_for(partition_key("carnival", "douyu", session), PARTITIONS)
        assert batch.platform == "douyu"


def test_ndjson_and_gzip_reach_kafka(server, kafka, spec):
    sessions = [f"nd-{uuid.uuid4().hex[:8]}-{i}" for i in range(5)]
    body = b"\n".join(orjson.dumps(join(s)) for s in sessions) + b"\n\n"
    response = post(
        server,
        gzip.compress(body),
        content_type="application/x-ndjson",
        **{"Content-Encoding": "gzip"},
    )
    assert response.json() == {"accepted": 5}
    check_declared(spec, response)
    assert stored_events(kafka, set(sessions)).keys() == set(sessions)


def test_partly_rejected_batch_is_207_and_stores_only_the_valid(server, kafka, spec):
    good = f"good-{uuid.uuid4().hex[:8]}"
    events = [
        join(good),
        join("x", stream="nowhere"),
        join("y", ts=now_ms() - 2 * 86_400_000),
        {"type": "count", "stream": "carnival", "ts": now_ms(), "concurrent": 3},
        {"type": "join", "stream": "carnival", "ts": now_ms(), "session_id": "z", "color": 1},
        [],
    ]
    response = post(server, {"events": events})
    assert response.status_code == 207
    check_declared(spec, response)
    codes = [(r["index"], r["code"]) for r in response.json()["rejected"]]
    assert codes == [
        (1, "unknown_stream"),
        (2, "ts_too_old"),
        (3, "wrong_mode"),
        (4, "unknown_field"),
        (5, "not_an_object"),
    ]
    assert good in stored_events(kafka, {good})
    stats = httpx.get(server + "/v1/stats", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert stats["rejected"]["unknown_stream"] >= 1


@pytest.mark.parametrize(
    ("body", "kwargs", "status", "code"),
    [
        ({"events": [{"type": "join"}]}, {}, 422, "all_rejected"),
        (b'{"events": [}', {}, 400, "malformed_json"),
        (b'{"events": [{"a": 1, "a": 1}]}', {}, 400, "duplicate_key"),
        (b'{"events": [{"a": "\xc3\x28"}]}', {}, 400, "not_utf8"),
        (b"{" + b" " * (1024 * 1024) + b"}", {}, 413, "body_too_large"),
        ({"events": [{}] * 1001}, {}, 413, "too_many_events"),
        (b"{}", {"content_type": "application/xml"}, 415, "unsupported_media_type"),
        ({"events": []}, {"key": "pk_nobody"}, 401, "unauthorized"),
        ({"events": [join("p", platform="huya")]}, {}, 403, "platform_mismatch"),
    ],
)
def test_each_refusal_has_its_status_and_problem(server, spec, body, kwargs, status, code):
    response = post(server, body, **kwargs)
    assert (response.status_code, response.json()["code"]) == (status, code)
    check_declared(spec, response)


def test_over_the_partner_rate_is_429_with_retry_after(server, spec):
    first = post(server, {"events": [join(f"slow-{i}") for i in range(10)]}, key=SLOW_KEY)
    assert first.status_code == 202
    response = post(server, {"events": [join("slow-x")]}, key=SLOW_KEY)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    check_declared(spec, response)


def test_validate_writes_nothing(server, kafka, spec):
    session = f"val-{uuid.uuid4().hex[:8]}"
    response = post(server, {"events": [join(session)]}, path="/v1/events/validate")
    assert response.json() == {"accepted": 1}
    check_declared(spec, response, "/v1/events/validate")
    assert stored_events(kafka, {session}, timeout_s=3) == {}


def test_service_routes_answer_as_declared(server, spec):
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        response = httpx.get(server + path)
        assert response.status_code == 200
        check_declared(spec, response, path)


def test_lost_broker_gives_503_with_retry_after_and_a_retry_lands_after_restart(
    server, kafka, broker, spec
):
    sessions = [f"outage-{uuid.uuid4().hex[:8]}-{i}" for i in range(6)]
    broker.kill()
    try:
        started = time.monotonic()
        # Posted together, so they share the records the broker never acknowledges.
        with ThreadPoolExecutor(len(sessions)) as pool:
            responses = list(pool.map(lambda s: post(server, {"events": [join(s)]}), sessions))
        elapsed = time.monotonic() - started
        assert [r.status_code for r in responses] == [503] * len(sessions)
        assert {r.json()["code"] for r in responses} == {"kafka_unavailable"}
        assert {r.headers["Retry-After"] for r in responses} == {"1"}
        assert elapsed < 7.0
        for response in responses:
            check_declared(spec, response)
        assert httpx.get(server + "/readyz", timeout=10).status_code == 503
    finally:
        broker.start()
    deadline = time.monotonic() + 90
    for session in sessions:
        while True:
            response = post(server, {"events": [join(session)]})
            if response.status_code == 202 or time.monotonic() > deadline:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))
        assert response.status_code == 202
    assert stored_events(kafka, set(sessions)).keys() == set(sessions)
