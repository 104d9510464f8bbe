"""The load generator: runs in its own process and posts the event log to ingest.

It speaks just enough HTTP/1.1 (keep-alive POSTs with a Content-Length) over asyncio
streams that the generator itself costs little CPU next to the server it measures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from livetally.bench.eventlog import read_log
from livetally.bench.stats import pacing_schedule

__all__ = [
    "ClosedResult",
    "Conn",
    "LoadSpec",
    "OpenResult",
    "bearer",
    "closed_loop",
    "open_loop",
    "preload",
]


@dataclass(frozen=True)
class LoadSpec:
    """Where to post what."""

    url: str
    """Ingest's base URL."""
    keys: dict[str, str]
    """Partner id → API key."""
    log_path: str
    """The event log written by ``eventlog.write_log``."""
    max_events: int | None = None
    """Use only the first batches holding this many events."""
    full_only: bool = False
    """Use only full batches (``batch_size`` events), for the per-request figures."""
    batch_size: int = 500


@dataclass
class _Counts:
    """What the answers of a load run were (shared by both kinds of run)."""

    seconds: float = 0.0
    requests: int = 0
    accepted: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    stale_retries: int = 0
    """Requests sent again on a fresh connection (the server had closed the idle one)."""

    def answered(self, status: int, payload: bytes) -> int:
        """Count one answer; return the events it accepted."""
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        accepted = _accepted(status, payload)
        self.accepted += accepted
        if status not in (202, 207):
            self.failed += 1
        return accepted


@dataclass
class ClosedResult(_Counts):
    """Outcome of the closed-loop (as fast as it goes) run."""


@dataclass
class OpenResult(_Counts):
    """Outcome of the open-loop (fixed offered rate) run."""

    offered_rate: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    """Per request: from its scheduled send time to its answer."""
    accepted_at: list[float] = field(default_factory=list)
    """Wall-clock time of each 202."""
    max_send_lag_s: float = 0.0
    """Largest delay of a send behind its schedule (the generator's own lateness)."""
    batches: int = 0
    """Batches scheduled (answered or not); a run continuing this one starts after them."""
    cpu_s: float = 0.0
    """CPU time the load generator's own process used during the run."""


def bearer(key: str) -> str:
    """The header line of a partner key (or dashboard token), for ``Conn.post``."""
    return f"Authorization: Bearer {key}\r\n"


class Conn:
    """One keep-alive HTTP/1.1 connection posting JSON, far cheaper per request than a
    general HTTP client (so the load generator is not what is measured)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    stale_retries = 0
    """Requests sent again, in this process, because the server had closed a kept-alive
    connection (class-wide: the load runs read it before and after)."""

    async def post(self, path: str, body: bytes, headers: str) -> tuple[int, bytes]:
        """POST ``body`` as JSON with the extra ``headers`` lines (each ending in CRLF)."""
        reused = self.writer is not None
        try:
            status_line = await self._send(path, body, headers)
        except (OSError, ConnectionError):
            if not reused:
                raise
            status_line = b""
        if not status_line and reused:
            # The server closed the idle connection before reading the request (its
            # keep-alive timeout): nothing was received, so send it once more on a fresh
            # connection, as HTTP clients do.
            await self.close()
            Conn.stale_retries += 1
            status_line = await self._send(path, body, headers)
        if not status_line:
            await self.close()
            raise ConnectionError("server closed the connection")
        return await self._answer(status_line)

    async def _send(self, path: str, body: bytes, headers: str) -> bytes:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"{headers}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        return await self.reader.readline()

    async def _answer(self, status_line: bytes) -> tuple[int, bytes]:
        assert self.reader is not None  # noqa: S101 - _send opened it
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value.strip())
            elif lowered == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


_loaded: tuple[LoadSpec, list[tuple[str, bytes, int]]] | None = None
"""The batches of the last spec read in this process: a run of steps reads its log once."""


def preload(spec: LoadSpec) -> int:
    """Read the batches of ``spec`` now (in the load generator's process), so that the
    runs that follow start at once; return how many there are."""
    return len(_load(spec))


def _load(spec: LoadSpec) -> list[tuple[str, bytes, int]]:
    global _loaded
    if _loaded is not None and _loaded[0] == spec:
        return _loaded[1]
    _loaded = None  # one log in memory at a time
    out = _read(spec)
    _loaded = (spec, out)
    return out


def _read(spec: LoadSpec) -> list[tuple[str, bytes, int]]:
    out: list[tuple[str, bytes, int]] = []
    total = 0
    for partner, body in read_log(Path(spec.log_path)):
        size = body.count(b'"type"')
        if spec.full_only and size != spec.batch_size:
            continue
        out.append((spec.keys[partner], body, size))
        total += size
        if spec.max_events is not None and total >= spec.max_events:
            break
    if not out:
        raise ValueError(f"the event log {spec.log_path} is empty")
    return out


def _accepted(status: int, payload: bytes) -> int:
    if status not in (202, 207):
        return 0
    return int(orjson.loads(payload).get("accepted", 0))


async def _closed(spec: LoadSpec, seconds: float, clients: int) -> ClosedResult:
    bodies = _load(spec)
    parts = urlsplit(spec.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = ClosedResult()
    stale_before = Conn.stale_retries
    counter = iter(range(1 << 62))
    started = time.monotonic()
    deadline = started + seconds

    async def client() -> None:
        conn = Conn(host, port)
        try:
            while time.monotonic() < deadline:
                key, body, _ = bodies[next(counter) % len(bodies)]
                try:
                    status, payload = await conn.post("/v1/events", body, bearer(key))
                except (OSError, ConnectionError, asyncio.IncompleteReadError):
                    result.failed += 1
                    await conn.close()
                    continue
                result.answered(status, payload)
        finally:
            await conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    result.seconds = time.monotonic() - started
    result.stale_retries = Conn.stale_retries - stale_before
    return result


async def _open(spec: LoadSpec, events_per_s: float, seconds: float, first: int) -> OpenResult:
    bodies = _load(spec)
    parts = urlsplit(spec.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sizes: list[int] = []
    total = 0
    while total < events_per_s * seconds:
        size = bodies[(first + len(sizes)) % len(bodies)][2]
        sizes.append(size)
        total += size
    schedule = pacing_schedule(sizes, events_per_s)
    result = OpenResult(offered_rate=events_per_s)
    stale_before = Conn.stale_retries
    idle: list[Conn] = []

    async def send(index: int, due: float) -> None:
        key, body, _ = bodies[(first + index) % len(bodies)]
        conn = idle.pop() if idle else Conn(host, port)
        try:
            status, payload = await conn.post("/v1/events", body, bearer(key))
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            result.failed += 1
            await conn.close()
            return
        done = time.monotonic()
        idle.append(conn)
        result.latencies_s.append(done - due)
        if result.answered(status, payload):
            result.accepted_at.append(time.time())

    started = time.monotonic()
    cpu_started = time.process_time()
    tasks: list[asyncio.Task[None]] = []
    for index, offset in enumerate(schedule):
        due = started + offset
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        result.max_send_lag_s = max(result.max_send_lag_s, time.monotonic() - due)
        tasks.append(asyncio.create_task(send(index, due)))
    await asyncio.gather(*tasks)
    result.seconds = time.monotonic() - started
    result.stale_retries = Conn.stale_retries - stale_before
    result.batches = len(schedule)
    result.cpu_s = time.process_time() - cpu_started
    for conn in idle:
        await conn.close()
    return result


def closed_loop(spec: LoadSpec, seconds: float, clients: int) -> ClosedResult:
    """Post batches as fast as ``clients`` connections go, for ``seconds``."""
    return asyncio.run(_closed(spec, seconds, clients))


def open_loop(spec: LoadSpec, events_per_s: float, seconds: float, first: int = 0) -> OpenResult:
    """Post batches on a fixed schedule of ``events_per_s`` for ``seconds``, from the
    log's batch ``first`` on (the log is taken again from its start once it runs out)."""
    return asyncio.run(_open(spec, events_per_s, seconds, first))


def warm_up(spec: LoadSpec, requests: Sequence[int] = (0, 1, 2)) -> int:
    """Post a few batches (connections, caches); return how many were answered 2xx."""

    async def run() -> int:
        bodies = _load(spec)
        parts = urlsplit(spec.url)
        conn = Conn(parts.hostname or "127.0.0.1", parts.port or 80)
        ok = 0
        try:
            for index in requests:
                key, body, _ = bodies[index % len(bodies)]
                status, _ = await conn.post("/v1/events", body, bearer(key))
                ok += status in (202, 207)
        finally:
            await conn.close()
        return ok

    return asyncio.run(run())
