"""A real ``livetally serve ingest`` process on the session's broker: signals and metrics.

Every 202 means Kafka has the events: a SIGTERM mid-load lets in-flight requests finish,
flushes the producer and exits 0; a SIGKILL mid-load loses no event that got a 202. The
process also publishes its figures to the metrics topic.
"""

from __future__ import annotations

import dataclasses
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from contract.records import decode_batches
from contract.registry import Partner, Stream, hash_secret
from contract.registry_store import RegistryStore
from contract.settings import KafkaSettings
from contract.topics import EVENTS, METRICS, ensure_topics
from tests.conftest import free_port

pytestmark = [pytest.mark.integration]

KEY = "pk_proc_" + uuid.uuid4().hex


@dataclasses.dataclass
class IngestProcess:
    proc: subprocess.Popen[bytes]
    url: str
    kafka: KafkaSettings
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def kafka(broker) -> KafkaSettings:
    settings = dataclasses.replace(
        broker.settings.kafka, topic_prefix=f"proc-{uuid.uuid4().hex[:8]}."
    )
    ensure_topics(settings)
    store = RegistryStore(settings)
    store.put(Stream("carnival", "Carnival"))
    store.put(Partner("douyu", "Douyu", rate=1_000_000, key_hash=hash_secret(KEY)))
    return settings


@pytest.fixture
def start_ingest(kafka, broker, tmp_path) -> Iterator:
    started: list[subprocess.Popen[bytes]] = []

    def start(workers: int = 1, **settings: str) -> IngestProcess:
        port = free_port()
        log = tmp_path / f"ingest-{port}.log"
        env = {
            **os.environ,
            **broker.env,
            "LIVETALLY_BOOTSTRAP": kafka.bootstrap,
            "LIVETALLY_TOPIC_PREFIX": kafka.topic_prefix,
            "LIVETALLY_INGEST_PORT": str(port),
            "LIVETALLY_INGEST_WORKERS": str(workers),
            **settings,
        }
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "livetally", "serve", "ingest"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        ingest = IngestProcess(proc, f"http://127.0.0.1:{port}", kafka, log)
        deadline = time.monotonic() + 90
        while True:  # ready, and every worker process knows the partner
            assert proc.poll() is None, ingest.output()
            try:
                codes = {post(ingest.url, [join("warm-up")]).status_code for _ in range(8)}
                if codes == {202}:
                    return ingest
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, ingest.output()
            time.sleep(0.3)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def join(session: str) -> dict:
    now = time.time_ns() // 1_000_000
    return {"type": "join", "stream": "carnival", "ts": now, "session_id": session}


def post(url: str, events: list, *, client: httpx.Client | None = None) -> httpx.Response:
    send = client.post if client is not None else httpx.post
    return send(
        url + "/v1/events",
        content=orjson.dumps({"events": events}),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        timeout=30,
    )


def stored_sessions(kafka: KafkaSettings, wanted: set[str], timeout_s: float = 30) -> set[str]:
    """Which of ``wanted`` session ids the events topic holds."""
    topic = kafka.topic(EVENTS)
    consumer = KafkaConsumer(bootstrap_servers=kafka.servers, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    found: set[str] = set()
    end = consumer.end_offsets(parts)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    for batch in decode_batches(record.value):
                        for event in batch.events:
                            if event.get("session_id") in wanted:
                                found.add(event["session_id"])
            if all(consumer.position(tp) >= end[tp] for tp in parts):
                break
    finally:
        consumer.close()
    return found


@dataclasses.dataclass
class Load:
    """Clients posting 200-event batches until the server goes away."""

    url: str
    acknowledged: set[str] = dataclasses.field(default_factory=set)
    outcomes: list[tuple[float, float, str]] = dataclasses.field(default_factory=list)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def run(self, clients: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        return threads

    def _client(self, n: int) -> None:
        with httpx.Client() as client:
            seq = 0
            while not self.stop.is_set():
                sessions = [f"{n}-{seq}-{i}-{uuid.uuid4().hex[:6]}" for i in range(200)]
                seq += 1
                started = time.monotonic()
                try:
                    response = post(self.url, [join(s) for s in sessions], client=client)
                    outcome = str(response.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                    time.sleep(0.05)
                with self.lock:
                    self.outcomes.append((started, time.monotonic(), outcome))
                    if outcome == "202":
                        self.acknowledged.update(sessions)


def slow_post(
    url: str, events: list, sent: threading.Event, signalled: threading.Event
) -> tuple[int, bytes]:
    """POST with half the body sent before the server is signalled and half after: a
    request certainly in flight during the shutdown."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    body = orjson.dumps({"events": events})
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head + body[: len(body) // 2])
        sent.set()
        assert signalled.wait(60)
        time.sleep(0.5)  # the server is shutting down now
        sock.sendall(body[len(body) // 2 :])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_mid_load_finishes_requests_flushes_and_exits_0(start_ingest, workers):
    ingest = start_ingest(workers)
    load = Load(ingest.url)
    threads = load.run(4)
    sent, signalled = threading.Event(), threading.Event()
    slow_sessions = [f"slow-{uuid.uuid4().hex[:8]}-{i}" for i in range(300)]
    slow: list[tuple[int, bytes]] = []
    slow_thread = threading.Thread(
        target=lambda: slow.append(
            slow_post(ingest.url, [join(s) for s in slow_sessions], sent, signalled)
        )
    )
    slow_thread.start()
    assert sent.wait(30)
    sent_at = time.monotonic()
    deadline = sent_at + 60
    # Once several requests sent after the slow one's first half have been answered, the
    # servers' event loops have long accepted it and are waiting for the rest of its body.
    while sum(o[2] == "202" and o[0] > sent_at for o in list(load.outcomes)) < 4:
        assert time.monotonic() < deadline, load.outcomes
        time.sleep(0.1)
    ingest.proc.send_signal(signal.SIGTERM)
    signalled.set()
    assert ingest.proc.wait(timeout=60) == 0, ingest.output()
    load.stop.set()
    for thread in [*threads, slow_thread]:
        thread.join(timeout=60)
    # The request in flight when the signal came was finished, and Kafka has its events.
    assert slow and slow[0][0] == 202, (slow, ingest.output())
    assert orjson.loads(slow[0][1]) == {"accepted": len(slow_sessions)}
    # Every other request got a 202 or was refused (503 or no connection): never cut off
    # with anything else.
    assert all(o[2] in ("202", "503") or not o[2].isdigit() for o in load.outcomes)
    acknowledged = load.acknowledged | set(slow_sessions)
    assert stored_sessions(ingest.kafka, acknowledged) == acknowledged


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_load_loses_no_acknowledged_event(start_ingest, workers):
    ingest = start_ingest(workers)
    load = Load(ingest.url)
    threads = load.run(4)
    time.sleep(2.0)
    ingest.proc.kill()
    ingest.proc.wait(timeout=30)
    time.sleep(0.5)
    load.stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert load.acknowledged
    assert stored_sessions(ingest.kafka, load.acknowledged) == load.acknowledged
    # Worker processes notice their supervisor is gone and stop: nothing serves on as orphan.
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(ingest.url + "/healthz", timeout=2)
        except httpx.TransportError:
            break
        assert time.monotonic() < deadline, "an orphaned worker still answers"
        time.sleep(0.5)


def read_metrics(kafka: KafkaSettings) -> dict[str, dict]:
    """The latest value of every key on the metrics topic."""
    topic = kafka.topic(METRICS)
    consumer = KafkaConsumer(bootstrap_servers=kafka.servers, enable_auto_commit=False)
    part = TopicPartition(topic, 0)
    consumer.assign([part])
    consumer.seek_to_beginning(part)
    end = consumer.end_offsets([part])[part]
    latest: dict[str, dict] = {}
    try:
        while consumer.position(part) < end:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    latest[record.key.decode()] = orjson.loads(record.value)
    finally:
        consumer.close()
    return latest


def test_ingest_publishes_its_figures_to_the_metrics_topic(start_ingest):
    ingest = start_ingest()
    events = [join(f"m-{i}") for i in range(7)]
    events += [{**join("m-x"), "stream": "nowhere"}, {**join("m-y"), "color": 1}]
    assert post(ingest.url, events).status_code == 207
    stats = httpx.get(ingest.url + "/v1/stats", headers={"Authorization": f"Bearer {KEY}"})
    expected_accepted = stats.json()["accepted"]  # the 7 and the warm-up events
    assert expected_accepted >= 7
    deadline = time.monotonic() + 30
    while True:
        ours = {
            key: doc
            for key, doc in read_metrics(ingest.kafka).items()
            if key.endswith(f"-{ingest.proc.pid}-{ingest.url.rsplit(':', 1)[1]}/douyu")
        }
        if ours and next(iter(ours.values()))["accepted"] == expected_accepted:
            break
        assert time.monotonic() < deadline, ours
        time.sleep(0.5)
    [(key, doc)] = ours.items()
    assert key == f"ingest/{doc['instance']}/douyu"
    assert doc["kind"] == "ingest" and doc["partner"] == "douyu"
    assert doc["rejected"] == {"unknown_field": 1, "unknown_stream": 1}
    assert doc["unexpected_errors"] == 0
    assert abs(doc["at"] - time.time() * 1000) < 30_000


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_slow_clients_are_cut_off_with_408_by_the_timeouts_set_in_the_environment(start_ingest):
    ingest = start_ingest(
        LIVETALLY_INGEST_HEADER_TIMEOUT_S="1", LIVETALLY_INGEST_BODY_TIMEOUT_S="1"
    )
    host, port = ingest.url.removeprefix("http://").rsplit(":", 1)
    body = orjson.dumps({"events": [join(f"slow-body-{i}") for i in range(10)]})
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()

    def trickle(sock: socket.socket, data: bytes) -> int:
        """Bytes sent, one every 0.1 s, before the server answered or closed (at most 30 s)."""
        deadline = time.monotonic() + 30
        for sent in range(len(data)):
            if select.select([sock], [], [], 0)[0] or time.monotonic() > deadline:
                return sent
            try:
                sock.send(data[sent : sent + 1])
            except OSError:
                return sent
            time.sleep(0.1)
        return len(data)

    outcomes: dict[str, tuple[int, int, bytes]] = {}

    def slow_headers() -> None:
        with socket.create_connection((host, int(port)), timeout=60) as sock:
            sent = trickle(sock, head)
            outcomes["headers"] = (sent, *_read_response(sock))

    def slow_body() -> None:
        with socket.create_connection((host, int(port)), timeout=60) as sock:
            sock.sendall(head)
            sent = trickle(sock, body)
            outcomes["body"] = (sent, *_read_response(sock))

    threads = [threading.Thread(target=slow_headers), threading.Thread(target=slow_body)]
    for thread in threads:
        thread.start()
    served = [post(ingest.url, [join(f"served-{i}")]).status_code for i in range(3)]
    for thread in threads:
        thread.join(60)
    assert served == [202, 202, 202]
    for phase, total in (("headers", len(head)), ("body", len(body))):
        sent, status, answer = outcomes[phase]
        assert sent < total, phase
        assert (status, orjson.loads(answer)["code"]) == (408, "request_timeout"), phase
