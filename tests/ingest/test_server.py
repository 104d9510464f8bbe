"""The ingest app served by uvicorn with ingest's own server settings, over real sockets.

No Kafka here: the sink and the registry are stand-ins injected through ``create_app``, so
the tests can make the app fail on purpose and talk to it as slow or abusive clients do.
"""

from __future__ import annotations

import dataclasses
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest
import uvicorn

from contract.settings import KafkaSettings, Settings
from ingest.app import create_app
from ingest.config import IngestConfig
from ingest.exceptions import KafkaNotAcknowledged
from ingest.server import uvicorn_config
from tests.ports import free_port

from .helpers import KEY, AcknowledgingSink, StaticRegistry, join, make_registry

PARSERS = ["h11", "httptools"]


class FailingSink(AcknowledgingSink):
    """A sink with a bug: storing events raises something that is not unavailability."""

    async def send(self, topic, records) -> None:
        raise ZeroDivisionError("a bug in the sink")


class UnavailableSink(AcknowledgingSink):
    """Kafka is away: storing events is refused as unavailable."""

    async def send(self, topic, records) -> None:
        raise KafkaNotAcknowledged("Kafka did not acknowledge within 5 s")


@dataclasses.dataclass
class Running:
    url: str
    host: str
    port: int

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)


@pytest.fixture
def serve() -> Iterator[Callable[..., Running]]:
    """Start the app under ``uvicorn_config`` in a thread; stop it at the end of the test."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(sink=None, **settings) -> Running:
        port = free_port()
        config = IngestConfig(
            shared=Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1")),
            port=port,
            metrics_interval_s=0,
            **settings,
        )
        app = create_app(
            config, producer=sink or AcknowledgingSink(), registry=StaticRegistry(make_registry())
        )
        server = uvicorn.Server(uvicorn_config(config, app))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return Running(config.base_url, config.host, port)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)


def post(url: str, events: list, key: str = KEY) -> httpx.Response:
    return httpx.post(
        url + "/v1/events",
        content=orjson.dumps({"events": events}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


def request_head(content_length: int, key: str = KEY) -> bytes:
    return (
        f"POST /v1/events HTTP/1.1\r\nHost: ingest\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


def trickle(sock: socket.socket, data: bytes, every_s: float = 0.05, for_s: float = 20) -> int:
    """Send ``data`` a byte at a time until the server answers or closes; bytes sent."""
    deadline = time.monotonic() + for_s
    for sent in range(len(data)):
        if select.select([sock], [], [], 0)[0] or time.monotonic() > deadline:
            return sent
        try:
            sock.send(data[sent : sent + 1])
        except OSError:  # the server closed the connection
            return sent
        time.sleep(every_s)
    return len(data)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response (status, headers, body) from the socket."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before a response: {raw!r}"
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-response"
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# --- faults and unavailability --------------------------------------------------------------


def test_a_fault_is_a_500_with_an_error_id_and_readyz_turns_unready(serve, caplog):
    server = serve(FailingSink(), max_errors_per_min=1)
    assert httpx.get(server.url + "/readyz").status_code == 200
    with caplog.at_level(logging.ERROR, logger="ingest.routes"):
        first = post(server.url, [join("a")])
        second = post(server.url, [join("b")])
    for response in (first, second):
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert "retry-after" not in response.headers
        assert response.json()["code"] == "internal_error"
    ids = [r.json()["error_id"] for r in (first, second)]
    assert ids[0] != ids[1]
    for error_id in ids:
        [record] = [r for r in caplog.records if error_id in r.getMessage()]
        assert record.exc_info[0] is ZeroDivisionError  # logged with its traceback
    ready = httpx.get(server.url + "/readyz")
    assert (ready.status_code, ready.json()["code"]) == (503, "not_ready")
    assert "failed unexpectedly" in ready.json()["detail"]
    stats = httpx.get(server.url + "/v1/stats", headers={"Authorization": f"Bearer {KEY}"})
    assert stats.json()["unexpected_errors"] == 2


def test_kafka_being_away_is_still_a_503_with_retry_after(serve):
    server = serve(UnavailableSink())
    response = post(server.url, [join("a")])
    assert (response.status_code, response.json()["code"]) == (503, "kafka_unavailable")
    assert response.headers["retry-after"] == "1"
    assert httpx.get(server.url + "/readyz").status_code == 200  # not a fault of ingest


# --- slow and abusive clients -----------------------------------------------------------------


@pytest.mark.parametrize("http", PARSERS)
def test_headers_sent_too_slowly_get_408_while_another_client_is_served(serve, http):
    server = serve(http=http, header_timeout_s=0.5)
    head = request_head(2) + b"{}"
    outcome: dict = {}

    def loris() -> None:
        with server.connect() as sock:
            sock.sendall(head[:20])
            outcome["sent"] = 20 + trickle(sock, head[20:])
            outcome["response"] = read_response(sock)
            outcome["closed"] = closed_by_server(sock)

    thread = threading.Thread(target=loris)
    thread.start()
    served = [post(server.url, [join(f"other-{i}")]).status_code for i in range(3)]
    thread.join(30)
    assert served == [202, 202, 202]
    assert outcome["sent"] < len(head)  # cut off before its headers were complete
    status, headers, body = outcome["response"]
    assert (status, headers["content-type"]) == (408, "application/problem+json")
    assert orjson.loads(body)["code"] == "request_timeout"
    assert outcome["closed"]


@pytest.mark.parametrize("http", PARSERS)
def test_a_connection_that_sends_nothing_is_closed_with_408(serve, http):
    server = serve(http=http, header_timeout_s=0.5)
    with server.connect() as sock:
        status, _, body = read_response(sock)
        assert (status, orjson.loads(body)["code"]) == (408, "request_timeout")
        assert closed_by_server(sock)


@pytest.mark.parametrize("http", PARSERS)
def test_a_body_sent_too_slowly_gets_408_and_the_connection_closes(serve, http):
    server = serve(http=http, body_timeout_s=0.5)
    body = orjson.dumps({"events": [join(f"s{i}") for i in range(20)]})
    with server.connect() as sock:
        sock.sendall(request_head(len(body)))
        sent = trickle(sock, body)
        status, headers, answer = read_response(sock)
        assert sent < len(body)
        assert (status, orjson.loads(answer)["code"]) == (408, "request_timeout")
        assert headers["connection"] == "close"
        assert closed_by_server(sock)


@pytest.mark.parametrize("http", PARSERS)
def test_a_refused_request_whose_body_trickles_on_is_closed(serve, http):
    server = serve(http=http, body_timeout_s=0.5)
    body = b" " * 1000
    with server.connect() as sock:
        sock.sendall(request_head(len(body), key="pk_nobody"))
        status, _, _ = read_response(sock)  # refused before the body is read
        assert status == 401
        assert trickle(sock, body) < len(body)
        assert closed_by_server(sock)


def test_slow_clients_at_the_connection_limit_are_cut_off_and_others_served_again(serve):
    server = serve(limit_concurrency=3, header_timeout_s=0.5)
    lorises = [server.connect() for _ in range(3)]
    try:
        for sock in lorises:
            sock.sendall(b"POST /v1/events HTTP/1.1\r\n")
        deadline = time.monotonic() + 30
        while (status := post(server.url, [join("after")]).status_code) != 202:
            assert status == 503 and time.monotonic() < deadline, status
            time.sleep(0.2)
        for sock in lorises:
            assert read_response(sock)[0] == 408
    finally:
        for sock in lorises:
            sock.close()


def test_beyond_the_connection_limit_uvicorn_answers_503(serve):
    server = serve(limit_concurrency=2, header_timeout_s=60)
    held = [server.connect() for _ in range(2)]
    try:
        for sock in held:
            sock.sendall(b"POST /v1/events HTTP/1.1\r\n")
        time.sleep(0.2)  # let the server accept them before the next connection
        assert post(server.url, [join("x")]).status_code == 503
    finally:
        for sock in held:
            sock.close()


def test_the_request_bucket_answers_429_before_the_body_arrives(serve):
    server = serve(partner_requests_per_s=1, body_timeout_s=60)  # bursts of 2
    assert [post(server.url, [join(f"s{i}")]).status_code for i in range(2)] == [202, 202]
    with server.connect() as sock:
        sock.sendall(request_head(100))  # and never the body
        status, headers, body = read_response(sock)
    assert (status, orjson.loads(body)["code"]) == (429, "rate_limited")
    assert int(headers["retry-after"]) >= 1


@pytest.mark.parametrize("http", PARSERS)
def test_headers_over_16_kib_are_refused_and_the_connection_closed(serve, http):
    """httptools would buffer any amount of header bytes; both parsers stop at 16 KiB."""
    server = serve(http=http)
    with server.connect() as sock:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: ingest\r\nX-Big: " + b"a" * 20_000)
        status, _, _ = read_response(sock)  # answered without the headers being finished
        assert status in (400, 431)  # h11: uvicorn's 400; httptools: a 431 problem
        assert closed_by_server(sock)
    assert post(server.url, [join("after")]).status_code == 202


def test_httptools_refuses_large_headers_with_a_431_problem(serve):
    server = serve(http="httptools")
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: ingest\r\nX-Big: " + b"a" * 20_000)
        status, headers, body = read_response(sock)
        assert (status, headers["content-type"]) == (431, "application/problem+json")
        assert orjson.loads(body)["code"] == "headers_too_large"
        assert closed_by_server(sock)


@pytest.mark.parametrize("http", PARSERS)
def test_headers_and_a_large_body_in_one_send_are_not_mistaken_for_large_headers(serve, http):
    server = serve(http=http)
    events = [join(f"big-{i}") for i in range(400)]
    body = orjson.dumps({"events": events})
    assert len(body) > 20_000
    with server.connect() as sock:
        sock.sendall(request_head(len(body)) + body)
        status, _, _ = read_response(sock)
    assert status == 202


def test_the_partner_sdk_posts_through_the_real_server_from_its_sender_thread(serve):
    from contract.records import decode_batch
    from livetally.client import Client

    sink = AcknowledgingSink()
    running = serve(sink)
    errors: list = []
    client = Client(
        running.url,
        KEY,
        background=True,
        batch_size=3,
        on_error=lambda error, events: errors.append(error),
        flush_at_exit=False,
    )
    with client:
        client.join("carnival", "sdk-1", viewer_id="v-1")
        client.heartbeat("carnival", "sdk-1")
        client.heartbeat("nowhere", "sdk-1")  # refused by the server, counted as rejected
        client.leave("carnival", "sdk-1")
    assert errors == []
    assert client.result.accepted == 3
    [rejected] = client.result.rejected
    assert (rejected.index, rejected.code) == (2, "unknown_stream")
    stored = [e for _, record in sink.sent for e in decode_batch(record.value).events]
    assert sorted(e["type"] for e in stored) == ["heartbeat", "join", "leave"]
    assert all(e["session_id"] == "sdk-1" for e in stored)
