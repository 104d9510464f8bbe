"""The request deadlines and header cap added to uvicorn's HTTP/1.1 protocols.

Driven without sockets: each protocol gets a fake transport and a loop whose timers the test
fires by hand, so a deadline runs out exactly when the test says. The same behaviour over
real sockets is in ``test_server.py``.
"""

from __future__ import annotations

import asyncio
import importlib.util
from dataclasses import dataclass

import orjson
import pytest
import uvicorn
from uvicorn.server import ServerState

from ingest.connections import (
    LINGER_S,
    MAX_HEADER_BYTES,
    DeadlineH11Protocol,
    RequestDeadline,
    closing_response,
    protocol_class,
    timeout_response,
)
from ingest.problems import PROBLEM_TYPES
from tests.ingest.helpers import HandTimers, Timer

HEADER_S = 10.0
DRAIN_S = 30.0
KEEP_ALIVE_S = 5.0  # a delay of its own, so the deadline's timers are told apart
PARSERS = ["h11", "httptools"]


# --- a loop with hand-fired timers, and a transport that records -------------------------


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.eof = False

    def write(self, data) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def get_extra_info(self, name, default=None):
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol) -> None:
        pass

    def status(self) -> int:
        head = self.written.split(b"\r\n", 1)[0]
        return int(head.split()[1])

    def body(self) -> dict:
        return orjson.loads(self.written.partition(b"\r\n\r\n")[2])


async def app(scope, receive, send) -> None:
    """Refuses ``/refuse`` (and ``/refuse-close``, closing) before reading the body; reads
    the whole body elsewhere (``/close``: and closes)."""
    if scope["type"] != "http":
        return
    refuse = scope["path"].startswith("/refuse")
    if not refuse:
        while (await receive()).get("more_body"):
            pass
    status = 401 if refuse else 202
    headers = [(b"connection", b"close")] if scope["path"].endswith("close") else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


@dataclass
class Connection:
    protocol: asyncio.Protocol
    transport: FakeTransport
    loop: HandTimers

    def deadline_timers(self) -> list[Timer]:
        return [t for t in self.loop.pending() if t.delay in (HEADER_S, DRAIN_S)]

    def cut_off(self) -> bool:
        """The connection shut its sending side and closes when its linger timer fires."""
        if not self.transport.eof or self.transport.closed:
            return False
        [linger] = [t for t in self.loop.pending() if t.delay == LINGER_S]
        linger.fire()
        return self.transport.closed

    async def feed(self, data: bytes) -> None:
        self.protocol.data_received(data)
        for _ in range(5):  # let the app's task run
            await asyncio.sleep(0)


def answering_when_set(gate: asyncio.Event):
    """An app that reads the body, then waits for ``gate`` before it answers 202."""

    async def slow(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await gate.wait()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return slow


async def connect(parser: str, asgi=app) -> Connection:
    cls = protocol_class(parser, header_timeout_s=HEADER_S, drain_timeout_s=DRAIN_S)
    config = uvicorn.Config(asgi, http=cls, timeout_keep_alive=KEEP_ALIVE_S, log_level="error")
    config.load()
    loop = HandTimers()
    protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    transport = FakeTransport()
    protocol.connection_made(transport)
    return Connection(protocol, transport, loop)


def head(path: str = "/events", length: int = 2) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: ingest\r\nContent-Length: {length}\r\n\r\n").encode()


# --- the closing responses ----------------------------------------------------------------


def split(raw: bytes) -> tuple[str, list[str], bytes]:
    top, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = top.decode().split("\r\n")
    return status, lines, body


def test_a_closing_response_is_a_complete_problem_that_closes_the_connection():
    raw = closing_response("headers_too_large", "too big", [(b"server", b"uvicorn")])
    status, lines, body = split(raw)
    assert status == f"HTTP/1.1 431 {PROBLEM_TYPES['headers_too_large'].title}"
    assert lines == [
        "server: uvicorn",
        "content-type: application/problem+json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    doc = orjson.loads(body)
    assert (doc["code"], doc["status"], doc["detail"]) == ("headers_too_large", 431, "too big")


def test_a_timeout_response_is_a_408_problem():
    status, lines, body = split(timeout_response("slow", []))
    assert status == f"HTTP/1.1 408 {PROBLEM_TYPES['request_timeout'].title}"
    assert "connection: close" in lines
    assert (orjson.loads(body)["code"], orjson.loads(body)["detail"]) == ("request_timeout", "slow")


def test_the_content_length_counts_bytes_not_characters():
    raw = closing_response("request_timeout", "超时了 — 请重试", [])
    _, lines, body = split(raw)
    assert f"content-length: {len(body)}" in lines
    assert len(body) > len(body.decode())


def test_an_unknown_problem_code_is_a_programming_error():
    with pytest.raises(KeyError):
        closing_response("no_such_problem", "x", [])


# --- RequestDeadline on its own -------------------------------------------------------------


class Loop:
    def __init__(self) -> None:
        self.timers: list[Timer] = []

    def call_later(self, delay, callback, *args) -> Timer:
        self.timers.append(timer := Timer(delay, callback, args))
        return timer


def deadline() -> tuple[RequestDeadline, Loop, list[str]]:
    loop = Loop()
    expired: list[str] = []
    watch = RequestDeadline(
        loop, header_timeout_s=2.0, drain_timeout_s=7.0, on_expiry=expired.append
    )
    return watch, loop, expired


@pytest.mark.parametrize(("phase", "delay"), [("headers", 2.0), ("drain", 7.0)])
def test_a_watched_phase_runs_its_own_timeout_and_reports_it_on_expiry(phase, delay):
    watch, loop, expired = deadline()
    watch.watch(phase)
    [timer] = loop.timers
    assert (timer.delay, watch.phase) == (delay, phase)
    timer.fire()
    assert expired == [phase]
    assert watch.phase == "idle"


@pytest.mark.parametrize("phase", ["idle", "body"])
def test_idle_and_body_run_no_timer(phase):
    watch, loop, _ = deadline()
    watch.watch(phase)
    assert loop.timers == [] and watch.phase == "idle"


def test_watching_the_same_phase_again_does_not_restart_its_timer():
    """A header trickled a byte at a time must not push its deadline on."""
    watch, loop, _ = deadline()
    for _ in range(5):
        watch.watch("headers")
    [timer] = loop.timers
    assert not timer.cancelled


def test_a_new_phase_cancels_the_old_timer():
    watch, loop, expired = deadline()
    watch.watch("headers")
    watch.watch("body")
    assert loop.timers[0].cancelled and watch.phase == "idle"
    watch.watch("drain")
    assert [t.delay for t in loop.timers] == [2.0, 7.0] and not loop.timers[1].cancelled
    assert expired == []


def test_headers_after_idle_start_a_fresh_timer():
    watch, loop, _ = deadline()
    watch.watch("headers")
    watch.watch("idle")
    watch.watch("headers")
    assert [t.cancelled for t in loop.timers] == [True, False]


def test_cancel_stops_the_timer_and_may_be_repeated():
    watch, loop, expired = deadline()
    watch.watch("drain")
    watch.cancel()
    watch.cancel()
    assert loop.timers[0].cancelled and watch.phase == "idle" and expired == []


def test_after_expiry_the_same_phase_may_be_watched_again():
    watch, loop, expired = deadline()
    watch.watch("headers")
    loop.timers[0].fire()
    watch.watch("headers")
    assert len(loop.timers) == 2 and not loop.timers[1].cancelled
    assert expired == ["headers"]


# --- protocol_class -----------------------------------------------------------------------


@pytest.mark.parametrize("parser", PARSERS)
def test_the_protocol_class_carries_the_timeouts_given(parser):
    cls = protocol_class(parser, header_timeout_s=1.5, drain_timeout_s=4.0)
    assert (cls.header_timeout_s, cls.drain_timeout_s) == (1.5, 4.0)
    base = "H11Protocol" if parser == "h11" else "HttpToolsProtocol"
    assert any(c.__name__ == base for c in cls.__mro__)


def test_each_call_makes_its_own_class_and_leaves_the_defaults_alone():
    first = protocol_class("h11", header_timeout_s=1.0, drain_timeout_s=2.0)
    second = protocol_class("h11", header_timeout_s=3.0, drain_timeout_s=4.0)
    assert first is not second and first.header_timeout_s == 1.0
    assert (DeadlineH11Protocol.header_timeout_s, DeadlineH11Protocol.drain_timeout_s) == (
        10.0,
        30.0,
    )


def test_auto_picks_httptools_when_it_is_installed():
    cls = protocol_class("auto", header_timeout_s=1.0, drain_timeout_s=2.0)
    expected = "HttpToolsProtocol" if importlib.util.find_spec("httptools") else "H11Protocol"
    assert expected in {c.__name__ for c in cls.__mro__}


def test_auto_falls_back_to_h11_without_httptools(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "httptools" else real(name)
    )
    cls = protocol_class("auto", header_timeout_s=1.0, drain_timeout_s=2.0)
    assert issubclass(cls, DeadlineH11Protocol)


# --- the protocols with deadlines -----------------------------------------------------------


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_new_connection_gets_the_header_deadline_and_a_408_when_it_runs_out(parser):
    conn = await connect(parser)
    [timer] = conn.deadline_timers()
    assert timer.delay == HEADER_S
    timer.fire()
    assert conn.transport.status() == 408
    assert conn.transport.body()["code"] == "request_timeout"
    assert "10 s" in conn.transport.body()["detail"]
    assert conn.cut_off()


@pytest.mark.parametrize("parser", PARSERS)
async def test_bytes_of_unfinished_headers_do_not_push_the_deadline_on(parser):
    conn = await connect(parser)
    [timer] = conn.deadline_timers()
    for byte in head()[:30]:
        await conn.feed(bytes([byte]))
    assert conn.deadline_timers() == [timer]
    timer.fire()
    assert conn.transport.status() == 408 and conn.cut_off()


@pytest.mark.parametrize("parser", PARSERS)
async def test_complete_headers_stop_the_deadline_while_the_app_reads_the_body(parser):
    conn = await connect(parser)
    await conn.feed(head(length=10) + b"12345")  # half the body: the app is reading
    assert conn.deadline_timers() == []
    await conn.feed(b"67890")
    assert conn.transport.status() == 202


@pytest.mark.parametrize("parser", PARSERS)
async def test_after_a_response_the_next_request_s_headers_get_a_new_deadline(parser):
    conn = await connect(parser)
    await conn.feed(head() + b"{}")
    assert conn.transport.status() == 202
    assert conn.deadline_timers() == []  # idle keep-alive is uvicorn's own timeout
    assert conn.loop.pending(KEEP_ALIVE_S)
    await conn.feed(b"POST /events HTTP/1.1\r\n")
    [timer] = conn.deadline_timers()
    assert timer.delay == HEADER_S


async def test_httptools_starts_the_header_deadline_on_blank_lines_after_a_response():
    """httptools skips blank lines before a request line (h11 answers them 400): bytes that
    are not yet a request must not hold an idle connection for ever."""
    conn = await connect("httptools")
    await conn.feed(head() + b"{}")
    assert conn.deadline_timers() == []
    await conn.feed(b"\r\n")
    [timer] = conn.deadline_timers()
    assert timer.delay == HEADER_S
    timer.fire()
    assert conn.transport.written.count(b"HTTP/1.1 408") == 1 and conn.cut_off()


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_pipelined_request_waits_without_a_deadline_while_a_response_is_under_way(parser):
    gate = asyncio.Event()
    conn = await connect(parser, answering_when_set(gate))
    await conn.feed(head() + b"{}" + b"POST /events HTTP/1.1\r\nHost: ingest\r\n")
    await conn.feed(b"Content-")
    assert conn.deadline_timers() == []  # the app is slow, not the client
    gate.set()
    await conn.feed(b"")
    assert conn.transport.status() == 202


@pytest.mark.parametrize("parser", PARSERS)
async def test_the_rest_of_a_refused_body_gets_the_drain_deadline_then_the_connection_closes(
    parser,
):
    conn = await connect(parser)
    await conn.feed(head("/refuse", length=1000) + b"x" * 10)
    assert conn.transport.status() == 401
    await conn.feed(b"x" * 10)
    [timer] = conn.deadline_timers()
    assert timer.delay == DRAIN_S
    answered = conn.transport.written
    timer.fire()
    assert conn.cut_off()
    assert conn.transport.written == answered  # no second response after the 401


@pytest.mark.parametrize("parser", PARSERS)
async def test_an_expiry_on_a_connection_already_closing_writes_nothing(parser):
    conn = await connect(parser)
    [timer] = conn.deadline_timers()
    conn.transport.closed = True
    timer.fire()
    assert conn.transport.written == b""


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_lost_connection_cancels_its_deadline(parser):
    conn = await connect(parser)
    [timer] = conn.deadline_timers()
    conn.protocol.connection_lost(None)
    assert timer.cancelled


async def test_httptools_refuses_headers_over_the_cap_with_a_431_problem():
    conn = await connect("httptools")
    await conn.feed(b"GET /healthz HTTP/1.1\r\nHost: ingest\r\nX-Big: ")
    sent = 0
    while not conn.transport.eof:
        await conn.feed(b"a" * 1024)
        sent += 1024
        assert sent <= 2 * MAX_HEADER_BYTES, "the header cap never applied"
    assert MAX_HEADER_BYTES - 1024 <= sent <= MAX_HEADER_BYTES + 1024
    assert conn.transport.status() == 431
    assert conn.transport.body()["code"] == "headers_too_large"
    assert "16 KiB" in conn.transport.body()["detail"]
    assert conn.deadline_timers() == []
    assert conn.cut_off()


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_cut_off_connection_drops_what_its_client_still_sends_until_it_closes(parser):
    """Closing with unread bytes would reset the connection, and a reset can discard the
    408 before the client read it: the connection reads and drops them while it lingers."""
    conn = await connect(parser)
    await conn.feed(b"POST /events HTTP/1.1\r\n")
    [timer] = conn.deadline_timers()
    timer.fire()
    answered = conn.transport.written
    await conn.feed(b"Host: ingest\r\nContent-Length: 2\r\n\r\n{}")
    assert conn.transport.written == answered
    assert conn.deadline_timers() == []
    assert not conn.transport.closed
    assert conn.cut_off()


@pytest.mark.parametrize("parser", PARSERS)
async def test_an_answer_that_closes_before_the_body_arrived_lingers_instead(parser):
    """The app's 408 for a slow body closes the connection with the body unread: closing
    at once would reset the answer away, so the close lingers as a cut-off does."""
    conn = await connect(parser)
    await conn.feed(head("/refuse-close", length=1000) + b"x" * 10)
    assert conn.transport.status() == 401
    assert not conn.transport.closed
    answered = conn.transport.written
    await conn.feed(b"x" * 10)
    assert conn.transport.written == answered
    assert conn.deadline_timers() == []
    assert conn.cut_off()


@pytest.mark.parametrize("parser", PARSERS)
async def test_an_answer_that_closes_after_the_whole_body_closes_at_once(parser):
    conn = await connect(parser)
    await conn.feed(head("/close") + b"{}")
    assert conn.transport.status() == 202
    assert conn.transport.closed
    assert not conn.transport.eof


async def test_httptools_counts_header_bytes_per_request_not_per_connection():
    conn = await connect("httptools")
    filler = b"X-Fill: " + b"a" * (MAX_HEADER_BYTES // 2) + b"\r\n"
    for _ in range(3):  # three requests of just over half the cap each: none over it
        await conn.feed(b"POST /events HTTP/1.1\r\nHost: ingest\r\n")
        await conn.feed(filler)
        await conn.feed(b"Content-Length: 2\r\n\r\n{}")
        assert not conn.transport.closed
    assert conn.transport.written.count(b"HTTP/1.1 202") == 3


async def test_httptools_does_not_count_a_large_body_sent_with_the_headers():
    conn = await connect("httptools")
    body = b"x" * (2 * MAX_HEADER_BYTES)
    await conn.feed(head(length=len(body)) + body)
    assert conn.transport.status() == 202


@pytest.mark.parametrize("parser", PARSERS)
async def test_pipelined_requests_in_one_chunk_are_each_answered(parser):
    conn = await connect(parser)
    await conn.feed((head() + b"{}") * 3)
    assert conn.transport.written.count(b"HTTP/1.1 202") == 3
    assert not conn.transport.closed


async def test_httptools_does_not_count_a_pipelined_request_s_body_as_the_next_one_s_headers():
    conn = await connect("httptools")
    body = b"x" * (2 * MAX_HEADER_BYTES)
    await conn.feed(head(length=len(body)) + body + b"POST /events HTTP/1.1\r\nHost: ingest\r\n")
    assert conn.transport.status() == 202
    assert not conn.transport.closed
