"""Local HTTP servers standing in for the bot platforms, checking what each documents.

Each ``StandIn`` verifies a request the way its platform does (WeCom: the webhook's key;
DingTalk: ``sign`` recomputed from the ``timestamp`` query parameter; Feishu: from the
body's ``timestamp``; the generic webhook: the HMAC header over the raw body), records
the accepted messages, and answers as the platform would. ``script`` holds answers given
before any success (a 500, a rate limit), to see retries; with a ``marker`` only requests
whose body holds it use the script. While ``down``, every request gets a 503. A ``RawBot``
gives the answers no platform documents: none, a trickle, a huge body, or a late one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import orjson

Kind = Literal["wecom", "dingtalk", "feishu", "webhook"]

WECOM_KEY = "standin-key"
_OK = {
    "wecom": (200, b'{"errcode":0,"errmsg":"ok"}'),
    "dingtalk": (200, b'{"errcode":0,"errmsg":"ok"}'),
    "feishu": (200, b'{"code":0,"msg":"success","data":{}}'),
    "webhook": (204, b""),
}
_BAD_SIGN = {
    "wecom": (200, b'{"errcode":93000,"errmsg":"invalid webhook url"}'),
    "dingtalk": (200, b'{"errcode":310000,"errmsg":"sign not match"}'),
    "feishu": (200, b'{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}'),
    "webhook": (401, b"bad signature"),
}


@dataclass
class Received:
    """One request as the stand-in saw it."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    verdict: str
    """``ok``, ``scripted`` or why the signature was refused."""

    @property
    def doc(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class StandIn:
    kind: Kind
    secret: str | None = None
    script: list[tuple[int, bytes]] = field(default_factory=list)
    marker: bytes | None = None
    down: bool = False
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        base = f"http://{host}:{port}/{self.kind}"
        if self.kind == "wecom":
            return f"{base}/cgi-bin/webhook/send?key={WECOM_KEY}"
        if self.kind == "dingtalk":
            return f"{base}/robot/send?access_token=standin-token"
        return base

    @property
    def messages(self) -> list[Any]:
        """The bodies of the accepted requests."""
        return [r.doc for r in self.received if r.verdict == "ok"]

    def check(self, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> str:
        """``ok`` or why the platform would refuse the request's credentials."""
        secret = self.secret or ""
        if self.kind == "wecom":
            return "ok" if query.get("key") == [WECOM_KEY] else "wrong key"
        if self.kind == "dingtalk":
            if not secret:
                return "ok"
            timestamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3_600_000:
                return "timestamp missing or more than an hour off"
            string = f"{timestamp}\n{secret}".encode()
            expected = hmac.new(secret.encode(), string, hashlib.sha256).digest()
            return "ok" if sign == base64.b64encode(expected).decode() else "sign mismatch"
        if self.kind == "feishu":
            doc = orjson.loads(body)
            if not secret:
                return "ok"
            timestamp = doc.get("timestamp", "")
            if not isinstance(timestamp, str) or not timestamp.isdigit():
                return "timestamp is not a string of seconds"
            if abs(time.time() - int(timestamp)) > 3600:
                return "timestamp more than an hour off"
            key = f"{timestamp}\n{secret}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            return "ok" if doc.get("sign") == expected else "sign mismatch"
        if not secret:
            return "ok"
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        given = headers.get("x-livetally-signature", "")
        return "ok" if hmac.compare_digest(given, expected) else "signature mismatch"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        split = urlsplit(path)
        query = parse_qs(split.query)
        if self.down:
            self.received.append(Received(split.path, query, headers, body, "down"))
            return 503, b"down"
        if self.script and (self.marker is None or self.marker in body):
            status, reply = self.script.pop(0)
            self.received.append(Received(split.path, query, headers, body, "scripted"))
            return status, reply
        verdict = self.check(query, headers, body)
        self.received.append(Received(split.path, query, headers, body, verdict))
        return _OK[self.kind] if verdict == "ok" else _BAD_SIGN[self.kind]

    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply = standin.answer(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


Reply = Callable[[asyncio.StreamWriter], Awaitable[None]]
"""How a ``RawBot`` answers, once the request has been read."""


class RawBot:
    """An asyncio HTTP server that answers every POST with ``reply``: for answers no
    platform documents (none at all, a trickle, a huge body) and for slow ones."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests = 0
        """Requests read so far (the reply may still be under way)."""
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=raw-secret-key"

    async def start(self) -> RawBot:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            self.requests += 1
            await self.reply(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up
        finally:
            writer.close()


def answer_after(delay_s: float, status: int = 200, body: bytes = b'{"errcode":0}') -> Reply:
    """A reply that comes after ``delay_s``."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(delay_s)
        head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()

    return reply


async def never_answer(writer: asyncio.StreamWriter) -> None:
    """Holds the connection open without a word."""
    await asyncio.sleep(3600)


async def trickle(writer: asyncio.StreamWriter) -> None:
    """A 200 whose chunked body comes a byte every 50 ms and never ends: no read waits long
    enough for a per-read timeout."""
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"1\r\n \r\n")
        await writer.drain()
        await asyncio.sleep(0.05)


HUGE = 8 * 1024 * 1024


async def huge_body(writer: asyncio.StreamWriter) -> None:
    """A 200 with an 8 MiB body (a bot's answer is a few dozen bytes)."""
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n".encode())
    for _ in range(HUGE // 65536):
        writer.write(b"x" * 65536)
        await writer.drain()
