"""uvicorn's HTTP/1.1 protocols with deadlines for request bytes that nobody is reading.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but it has no
limit on how long a client may take to send a request's headers: a client that connects and
sends nothing, or trickles a header byte every few seconds, holds its connection (and a slot
of ``limit_concurrency``) for ever. Here each request gets ``header_timeout_s`` from its first
byte (a new connection: from the moment it opened) to complete its headers, else it is
answered 408 and the connection closes. When a response went out before the request's body
was read (a refusal), the rest of that body gets ``drain_timeout_s`` to arrive before the
connection closes. While the app reads a body, the app's own timeout applies
(``ingest.routes``).

A connection cut off here closes the way a careful server closes: the answer is written, the
sending side is shut, and whatever the client still sends is read and dropped for
``LINGER_S`` before the socket closes. Closing at once with unread bytes in the socket would
make the kernel send a reset, and a reset can discard the answer before the client read it.
The same holds when the app answers before a body arrived in full and the connection is to
close (the body's 408, a refusal that closes): uvicorn's close then lingers too.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Callable
from typing import Any, Literal, cast

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from ingest.config import HttpParser
from ingest.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES, problem_document

__all__ = [
    "LINGER_S",
    "MAX_HEADER_BYTES",
    "Phase",
    "RequestDeadline",
    "closing_response",
    "protocol_class",
    "timeout_response",
]

logger = logging.getLogger(__name__)

Phase = Literal["idle", "headers", "body", "drain"]
"""Where a connection's current request is: nothing pending, headers arriving, body being
read by the app, or body arriving after the response was sent."""


LINGER_S = 2.0
"""How long a connection that was answered and cut off keeps reading (and dropping) what its
client still sends, so that closing it does not reset the answer away."""

MAX_HEADER_BYTES = 16 * 1024
"""Request line and headers of one request, at most (h11's own limit; enforced here for
httptools, which has none)."""


def closing_response(code: str, detail: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 problem response for ``code`` that closes the connection."""
    body = orjson.dumps(problem_document(code, detail))
    kind = PROBLEM_TYPES[code]
    lines = [f"HTTP/1.1 {kind.status} {kind.title}".encode()]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode(),
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def timeout_response(detail: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 408 problem response that closes the connection."""
    return closing_response("request_timeout", detail, default_headers)


class RequestDeadline:
    """One timer per connection, running while headers (or an unread body) are awaited."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        header_timeout_s: float,
        drain_timeout_s: float,
        on_expiry: Callable[[Phase], None],
    ) -> None:
        self._loop = loop
        self._timeouts = {"headers": header_timeout_s, "drain": drain_timeout_s}
        self._on_expiry = on_expiry
        self._timer: asyncio.TimerHandle | None = None
        self.phase: Phase = "idle"
        """The phase the running timer is for ("idle" when none runs)."""

    def watch(self, phase: Phase) -> None:
        """Run the timer of ``phase`` (started at its first call, not restarted by later
        calls for the same phase), or none for "idle"/"body"."""
        if phase == self.phase:
            return
        self.cancel()
        if phase in ("headers", "drain"):
            self._timer = self._loop.call_later(self._timeouts[phase], self._expire, phase)
            self.phase = phase

    def cancel(self) -> None:
        """Stop the timer, if one runs."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.phase = "idle"

    def _expire(self, phase: Phase) -> None:
        self._timer = None
        self.phase = "idle"
        self._on_expiry(phase)


class _LingeringTransport:
    """A connection's transport whose ``close()`` lingers while its client may still be
    sending the request's body; everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport, connection: _Deadlines) -> None:
        self._transport = transport
        self._connection = connection

    def close(self) -> None:
        if self._connection._lingering:
            return
        if self._connection._body_unread():
            self._connection._cut_off()
        else:
            self._transport.close()

    def is_closing(self) -> bool:
        return self._connection._lingering or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Deadlines:
    """What both protocols add; each says which phase its parser is in."""

    header_timeout_s: float = 10.0
    drain_timeout_s: float = 30.0
    _deadline: RequestDeadline
    _lingering = False
    """The connection was answered and cut off: incoming bytes are dropped until it closes."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    server_state: Any
    client: tuple[str, int] | None

    _raw_transport: asyncio.Transport

    def _parser_phase(self) -> Phase:
        raise NotImplementedError

    def _body_unread(self) -> bool:
        """The current request's body has not arrived in full."""
        raise NotImplementedError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        # uvloop's transports are not asyncio.Transport subclasses, but they behave as one.
        self._raw_transport = cast(asyncio.Transport, transport)
        # uvicorn and its request cycles close through this attribute.
        self.transport = _LingeringTransport(self._raw_transport, self)  # type: ignore[assignment]
        self._start_deadlines()

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def _start_deadlines(self) -> None:
        self._deadline = RequestDeadline(
            self.loop,
            header_timeout_s=self.header_timeout_s,
            drain_timeout_s=self.drain_timeout_s,
            on_expiry=self._expired,
        )
        self._deadline.watch("headers")

    def _busy(self) -> bool:
        """A response is under way (bytes now are a pipelined request: let it wait)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _after_data(self, cycle_before: Any) -> None:
        phase = self._parser_phase()
        if phase == "idle" and self.cycle is cycle_before and not self._busy():
            phase = "headers"  # bytes came, but they are not a request yet
        if phase == "headers" and self._busy():
            phase = "idle"
        self._deadline.watch(phase)

    def _expired(self, phase: Phase) -> None:
        if self.transport.is_closing():
            return
        if phase == "headers" and not self._busy():
            detail = f"the request headers did not arrive within {self.header_timeout_s:g} s"
            logger.info("%s from %s; closing", detail, self.client)
            self.transport.write(timeout_response(detail, self.server_state.default_headers))
        else:
            logger.info("the rest of a refused body from %s is too slow; closing", self.client)
        self._cut_off()

    def _cut_off(self) -> None:
        """Shut the sending side now and close after ``LINGER_S`` of dropping input."""
        self._deadline.cancel()
        self._lingering = True
        if self._raw_transport.can_write_eof():
            self._raw_transport.write_eof()
        self.loop.call_later(LINGER_S, self._raw_transport.close)


class DeadlineH11Protocol(_Deadlines, H11Protocol):
    """uvicorn's h11 protocol with request deadlines."""

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        before = self.cycle
        super().data_received(data)
        self._after_data(before)

    def _parser_phase(self) -> Phase:
        theirs = self.conn.their_state
        if theirs is h11.IDLE:
            return "headers" if self.conn.trailing_data[0] else "idle"
        if theirs is h11.SEND_BODY:
            return "drain" if self.cycle is not None and self.cycle.response_complete else "body"
        return "idle"

    def _body_unread(self) -> bool:
        return self.conn.their_state is h11.SEND_BODY


def _httptools_class() -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class DeadlineHttpToolsProtocol(_Deadlines, HttpToolsProtocol):
        """uvicorn's httptools protocol with request deadlines."""

        _in_headers = False
        _in_message = False
        _header_bytes = 0
        _began_in_chunk = False
        _ended_in_chunk = False

        def data_received(self, data: bytes) -> None:
            if self._lingering:
                return
            before = self.cycle
            self._began_in_chunk = self._ended_in_chunk = False
            super().data_received(data)
            if self._in_headers and not self.transport.is_closing():
                # httptools buffers an unfinished header block without limit: every byte
                # of a chunk that did not finish the headers belongs to them, unless a
                # pipelined request ended in this chunk before this one began (its bytes
                # are not these headers'): then the cap may be passed by one read.
                if not (self._began_in_chunk and self._ended_in_chunk):
                    self._header_bytes += len(data)
                if self._header_bytes > MAX_HEADER_BYTES:
                    self._refuse_headers()
                    return
            self._after_data(before)

        def _refuse_headers(self) -> None:
            detail = f"the request line and headers exceed {MAX_HEADER_BYTES // 1024} KiB"
            logger.info("%s from %s; closing", detail, self.client)
            self.transport.write(
                closing_response("headers_too_large", detail, self.server_state.default_headers)
            )
            self._cut_off()

        def on_message_begin(self) -> None:
            self._in_headers = self._in_message = True
            self._began_in_chunk = True
            self._header_bytes = 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_headers = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_message = False
            self._ended_in_chunk = True
            super().on_message_complete()

        def _parser_phase(self) -> Phase:
            if self._in_headers:
                return "headers"
            if self._in_message:
                done = self.cycle is not None and self.cycle.response_complete
                return "drain" if done else "body"
            return "idle"

        def _body_unread(self) -> bool:
            return self._in_message and not self._in_headers

    return DeadlineHttpToolsProtocol


def protocol_class(
    parser: HttpParser, *, header_timeout_s: float, drain_timeout_s: float
) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's ``http`` setting ("auto": httptools if installed)."""
    if parser == "auto":
        parser = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    base = _httptools_class() if parser == "httptools" else DeadlineH11Protocol
    settings = {"header_timeout_s": header_timeout_s, "drain_timeout_s": drain_timeout_s}
    return type(base.__name__, (base,), settings)
