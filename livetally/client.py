"""The partner SDK for the ingest API, and the ``livetally send`` command built on it.

``Client`` batches events the way Segment's and PostHog's SDKs do: a batch goes out when
``batch_size`` events are waiting or the oldest has waited ``flush_interval`` seconds,
whichever comes first; optionally from a background thread with a bounded queue. Retrying
is always safe: counting is duplicate-proof, so an event sent twice counts once.

It needs httpx only (orjson, when installed, makes encoding faster) and imports nothing of
the ingest service: the rules of an event are the contract's (``contract.wire``).
"""

from __future__ import annotations

import atexit
import gzip as gzip_module
import json
import logging
import os
import random
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TextIO

import httpx

from livetally.exceptions import LivetallyError

if TYPE_CHECKING:
    from contract.kafka_auth import KafkaSecurity
    from contract.wire import SessionType

try:
    import orjson

    _fast_dumps: Callable[[Any], bytes] | None = orjson.dumps
    _fast_loads: Callable[[str | bytes], Any] | None = orjson.loads
except ImportError:  # the SDK needs httpx only
    _fast_dumps = _fast_loads = None

__all__ = [
    "EXIT_TIMEOUT_S",
    "BatchResult",
    "Client",
    "ClientError",
    "KafkaClient",
    "LineError",
    "OnError",
    "QueueFull",
    "RejectedEvent",
    "backoff_delay",
    "iter_ndjson",
    "parse_result",
    "parse_retry_after",
    "partner_key",
    "send_file",
]

logger = logging.getLogger(__name__)

RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 502, 503, 504})
"""Statuses that mean "try again later" (too slow a link, overload, rate limit, Kafka
briefly away)."""
MAX_500_RETRIES = 2
"""A 500 is a fault of the service that usually fails the same way again: it is retried
this many times per batch (in case it was a one-off), then reported with its error id."""
EXIT_TIMEOUT_S = 10.0
"""How long the interpreter's exit waits for each open client's last events."""


class ClientError(LivetallyError):
    """The ingest API refused a request, or could not be reached after every retry."""

    def __init__(self, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem: dict[str, Any] = problem if isinstance(problem, dict) else {}


class QueueFull(ClientError):
    """A background client's queue held ``max_queue_size`` events: the new one was dropped."""


OnError = Callable[[ClientError, list[Mapping[str, Any]]], None]
"""``on_error(error, events)``: called with events that will not be delivered."""


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """One event the API refused: its position, a stable code, a sentence for people."""

    index: int
    code: str
    detail: str


@dataclass(slots=True)
class BatchResult:
    """What the API did with some events."""

    accepted: int = 0
    rejected: list[RejectedEvent] = field(default_factory=list)

    def add(self, other: BatchResult, offset: int = 0) -> None:
        """Add ``other``'s outcome, shifting its indexes by ``offset``."""
        self.accepted += other.accepted
        self.rejected.extend(
            RejectedEvent(r.index + offset, r.code, r.detail) for r in other.rejected
        )


# --- pure helpers -------------------------------------------------------------------------


def _dumps(doc: Any) -> bytes:
    """``doc`` as compact JSON; ``TypeError``/``ValueError`` if it is not JSON."""
    if _fast_dumps is not None:
        return _fast_dumps(doc)
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _loads(data: str | bytes) -> Any:
    """Parsed JSON; ``ValueError`` if it is not JSON."""
    if _fast_loads is not None:
        return _fast_loads(data)
    return json.loads(data)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_result(doc: Any) -> BatchResult:
    """Read the API's answer ``{"accepted": n, "rejected": [{index, code, detail}, ...]}``."""
    if not isinstance(doc, dict):
        raise ClientError("the ingest API answered with something other than a JSON object")
    accepted = doc.get("accepted", 0)
    rejected_raw = doc.get("rejected", [])
    if isinstance(accepted, bool) or not isinstance(accepted, int):
        raise ClientError("the ingest API's answer has no integer 'accepted' count")
    if not isinstance(rejected_raw, list):
        rejected_raw = []
    rejected = [
        RejectedEvent(
            index=int(item.get("index", -1)),
            code=str(item.get("code", "rejected")),
            detail=str(item.get("detail", "")),
        )
        for item in rejected_raw
        if isinstance(item, dict)
    ]
    return BatchResult(accepted=accepted, rejected=rejected)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    base_s: float = 0.25,
    cap_s: float = 30.0,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based).

    Exponential back-off with "full jitter" (a random delay up to the exponential bound),
    so many clients refused at once do not come back at once; a server's ``Retry-After``
    is a floor.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    bound = min(cap_s, base_s * (2**attempt))
    jittered = (rng or random).uniform(bound / 2, bound)
    if retry_after is not None:
        return max(min(retry_after, cap_s * 4), jittered)
    return jittered


def _problem_message(status: int, doc: Any, text: str) -> str:
    if isinstance(doc, dict):
        title = str(doc.get("title") or "").strip()
        detail = str(doc.get("detail") or "").strip()
        parts = [p for p in (title, detail) if p]
        if parts:
            return f"ingest API refused the request ({status}): {': '.join(parts)}"
    snippet = text.strip()[:200]
    return f"ingest API refused the request ({status})" + (f": {snippet}" if snippet else "")


def _with_error_id(message: str, doc: Any) -> str:
    """``message`` naming the problem's ``error_id`` (a 500's), unless it already does."""
    error_id = doc.get("error_id") if isinstance(doc, dict) else None
    if not isinstance(error_id, str) or not error_id or error_id in message:
        return message
    return f"{message} (error id {error_id})"


def _is_outcome(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("rejected"), list) and "accepted" in doc


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return _loads(response.content)
    except ValueError:
        return None


# --- the client ---------------------------------------------------------------------------

_OPEN: weakref.WeakSet[Client] = weakref.WeakSet()
"""Clients not closed yet, closed (and so flushed) when the interpreter exits."""


def _close_open_clients() -> None:
    for client in list(_OPEN):
        try:
            client.close(timeout_s=EXIT_TIMEOUT_S)
        except Exception:
            logger.exception("livetally: could not send the last events at exit")


atexit.register(_close_open_clients)


class Client:
    """Posts a partner's events to ``POST {base_url}/v1/events`` in batches.

    ``send`` (or ``join``/``heartbeat``/``leave``/``count``) queues an event; a batch is
    posted once ``batch_size`` events wait or the oldest has waited ``flush_interval``
    seconds, whichever comes first. ``flush`` posts everything now; ``close``, the end of a
    ``with`` block and the interpreter's exit flush too. ``result`` accumulates the outcome
    of every event sent, indexed in the order they were given to ``send``.

    By default batches are posted by the thread that calls ``send``, which then waits for
    the answer (and ``flush_interval`` is checked at each ``send`` and ``flush_if_due``).
    With ``background=True`` one sender thread posts them, on time even when no more events
    come, and ``send`` never waits: it only puts the event on a queue of at most
    ``max_queue_size`` events. When that queue is full the new event is dropped: ``send``
    returns False, ``dropped`` counts it and ``on_error`` gets a ``QueueFull``. Memory stays
    bounded by ``max_queue_size`` events plus the batch being posted.

    ``on_error(error, events)`` receives every event that will not be delivered: a batch the
    API refused or that could not be posted after every retry, or a dropped event. Without
    it, the calling thread gets the ``ClientError`` (the sender thread logs it instead).

    A client without a background thread belongs to the thread that uses it; with one,
    any thread may call ``send`` and the helpers.
    """

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        background: bool = False,
        max_queue_size: int = 10_000,
        on_error: OnError | None = None,
        gzip: bool = True,
        max_retries: int = 8,
        timeout_s: float = 10,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], int] = _wall_ms,
        rng: random.Random | None = None,
        flush_at_exit: bool = True,
    ) -> None:
        """``clock`` times ``flush_interval`` (seconds, monotonic); ``now_ms`` is the event
        time the helpers stamp (epoch ms); ``sleep`` waits between retries."""
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size must be 1 to 1000")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if flush_interval < 0:
            raise ValueError("flush_interval must be >= 0")
        if max_queue_size < 1:
            raise ValueError("max_queue_size must be at least 1")
        self._url = base_url.rstrip("/") + "/v1/events"
        self._gzip = gzip
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._background = background
        self._max_queue_size = max_queue_size
        self._on_error = on_error
        self._max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._now_ms = now_ms
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._http = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "User-Agent": "livetally-client/0.1",
            },
        )
        # (when queued by ``clock``, event); the sender thread and ``send`` share it.
        self._queue: deque[tuple[float, Mapping[str, Any]]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self._flushing = 0
        self._closed = False
        self._full = False
        self._sent = 0
        self.result = BatchResult()
        """Outcome of every event posted so far."""
        self.retries = 0
        """How many requests were retried."""
        self.dropped = 0
        """Events dropped because the background queue was full."""
        if flush_at_exit:
            _OPEN.add(self)

    @property
    def pending(self) -> int:
        """Events queued and not yet answered."""
        with self._cond:
            return len(self._queue) + self._in_flight

    # --- queueing ---------------------------------------------------------------------

    def send(self, event: Mapping[str, Any]) -> bool:
        """Queue one event; False if it was dropped because the background queue is full.

        A background client checks here that the event is JSON (``TypeError`` or
        ``ValueError`` otherwise), so one bad event cannot sink a batch on the sender.
        """
        if self._closed:
            raise ClientError("this client is closed")
        if not self._background:
            self._queue.append((self._clock(), event))
            if self._due():
                self.flush()
            return True
        _dumps(event)
        with self._cond:
            if len(self._queue) >= self._max_queue_size:
                self.dropped += 1
                warn, self._full = not self._full, True
            else:
                self._queue.append((self._clock(), event))
                self._full = False
                self._cond.notify_all()
                self._start_sender()
                return True
        if warn:
            logger.warning(
                "livetally: the send queue holds %d events; dropping new ones", len(self._queue)
            )
        self._report(QueueFull(f"the send queue is full ({self._max_queue_size} events)"), [event])
        return False

    def join(
        self,
        stream: str,
        session_id: str,
        *,
        viewer_id: str | None = None,
        ts: int | str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Send a ``join``: a viewer started watching ``stream``.

        ``ts`` is now (``now_ms``) unless given, as epoch milliseconds or an RFC 3339
        string; ``viewer_id`` (for uniques) defaults to the session on the server.
        """
        return self.send(self._session_event("join", stream, session_id, viewer_id, ts, event_id))

    def heartbeat(
        self,
        stream: str,
        session_id: str,
        *,
        viewer_id: str | None = None,
        ts: int | str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Send a ``heartbeat``: the viewer is still watching (arguments as for ``join``)."""
        return self.send(
            self._session_event("heartbeat", stream, session_id, viewer_id, ts, event_id)
        )

    def leave(
        self,
        stream: str,
        session_id: str,
        *,
        viewer_id: str | None = None,
        ts: int | str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Send a ``leave``: the viewer stopped watching (arguments as for ``join``)."""
        return self.send(self._session_event("leave", stream, session_id, viewer_id, ts, event_id))

    def count(
        self,
        stream: str,
        concurrent: int,
        *,
        cumulative: int | None = None,
        uniques: int | None = None,
        ts: int | str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Send a ``count`` (a partner in reports mode): ``concurrent`` viewers now, and
        optionally the views (``cumulative``) and ``uniques`` so far."""
        event: dict[str, Any] = {"type": "count", "stream": stream, "ts": self._ts(ts)}
        optional = {"event_id": event_id, "concurrent": concurrent}
        optional |= {"cumulative": cumulative, "uniques": uniques}
        event.update((k, v) for k, v in optional.items() if v is not None)
        return self.send(event)

    def _ts(self, ts: int | str | None) -> int | str:
        return self._now_ms() if ts is None else ts

    def _session_event(
        self,
        kind: SessionType,
        stream: str,
        session_id: str,
        viewer_id: str | None,
        ts: int | str | None,
        event_id: str | None,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {"type": kind, "stream": stream, "ts": self._ts(ts)}
        event["session_id"] = session_id
        if viewer_id is not None:
            event["viewer_id"] = viewer_id
        if event_id is not None:
            event["event_id"] = event_id
        return event

    # --- sending ----------------------------------------------------------------------

    def _due(self) -> bool:
        """Whether a batch should go now (with ``_cond`` held in background mode)."""
        if not self._queue:
            return False
        if len(self._queue) >= self._batch_size or self._flushing or self._closed:
            return True
        return self._clock() - self._queue[0][0] >= self._flush_interval

    def _wait_s(self) -> float | None:
        if not self._queue:
            return None
        return max(0.0, self._queue[0][0] + self._flush_interval - self._clock())

    def _take(self) -> list[Mapping[str, Any]]:
        count = min(len(self._queue), self._batch_size)
        return [self._queue.popleft()[1] for _ in range(count)]

    def flush_if_due(self) -> BatchResult:
        """Post the batches ``batch_size`` or ``flush_interval`` call for; for a client
        without a background thread, from the caller's own loop."""
        if self._background:
            with self._cond:
                self._cond.notify_all()
            return BatchResult()
        out = BatchResult()
        while self._due():
            out.add(self._deliver(self._take()))
        return out

    def flush(self) -> BatchResult:
        """Post every queued event and wait for the answers; return their outcome (with a
        background sender: of every event answered while it waited)."""
        if not self._background:
            out = BatchResult()
            while self._queue:
                out.add(self._deliver(self._take()))
            return out
        if threading.current_thread() is self._thread:
            return BatchResult()  # on_error calling flush: the sender is already at it
        with self._cond:
            accepted, rejected = self.result.accepted, len(self.result.rejected)
            self._flushing += 1
            self._cond.notify_all()
            try:
                while (self._queue or self._in_flight) and self._sender_alive():
                    self._cond.wait(1.0)
            finally:
                self._flushing -= 1
            return BatchResult(self.result.accepted - accepted, self.result.rejected[rejected:])

    def _deliver(self, batch: list[Mapping[str, Any]]) -> BatchResult:
        """Post one batch; its outcome with indexes counted from the first event sent."""
        offset = self._sent
        self._sent += len(batch)
        try:
            result = self.post_batch(batch)
        except ClientError as error:
            if self._on_error is None and not self._background:
                raise
            self._report(error, batch)
            return BatchResult()
        except Exception as exc:
            if not self._background:
                raise
            self._report(ClientError(f"could not post events: {type(exc).__name__}: {exc}"), batch)
            return BatchResult()
        shifted = BatchResult()
        shifted.add(result, offset)
        with self._cond:
            self.result.add(result, offset)
        return shifted

    def _report(self, error: ClientError, events: list[Mapping[str, Any]]) -> None:
        if self._on_error is None:
            if not isinstance(error, QueueFull):
                logger.error("livetally: %d events not delivered: %s", len(events), error)
            return
        try:
            self._on_error(error, events)
        except Exception:
            logger.exception("livetally: on_error failed")

    # --- the sender thread ------------------------------------------------------------

    def _start_sender(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="livetally-sender", daemon=True)
            self._thread.start()

    def _sender_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._closed and not self._queue:
                        return
                    self._cond.wait(self._wait_s())
                batch = self._take()
                self._in_flight = len(batch)
            try:
                self._deliver(batch)
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()

    # --- one request ------------------------------------------------------------------

    def post_batch(self, events: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Post one batch now; rejection indexes are within the batch.

        408, 429, 502-504 and network errors are retried up to ``max_retries`` times with
        back-off; a 500 at most ``MAX_500_RETRIES`` times; anything else is not retried.
        """
        body = _dumps({"events": list(events)})
        headers = {}
        if self._gzip:
            body = gzip_module.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        server_errors = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._http.post(self._url, content=body, headers=headers)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return parse_result(_json_or_none(response))
                doc = _json_or_none(response)
                if _is_outcome(doc):
                    # 422 "all_rejected": a problem document that still lists each rejection.
                    return parse_result(doc)
                if response.status_code == 500:
                    server_errors += 1
                    if server_errors > MAX_500_RETRIES or attempt >= self._max_retries:
                        message = _with_error_id(_problem_message(500, doc, response.text), doc)
                        raise ClientError(
                            f"{message}; gave up after {server_errors} such answers",
                            status=500,
                            problem=doc,
                        )
                elif response.status_code not in RETRY_STATUSES:
                    raise ClientError(
                        _problem_message(response.status_code, doc, response.text),
                        status=response.status_code,
                        problem=doc,
                    )
                reason = _with_error_id(f"HTTP {response.status_code}", doc)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt >= self._max_retries:
                raise ClientError(
                    f"gave up posting to {self._url} after {attempt + 1} attempts ({reason})"
                )
            self._sleep(backoff_delay(attempt, retry_after=retry_after, rng=self._rng))
            attempt += 1
            self.retries += 1

    # --- the end ----------------------------------------------------------------------

    def close(self, timeout_s: float | None = None) -> None:
        """Post what is queued, stop the sender thread and close the connection pool.

        A background client waits at most ``timeout_s`` (None: as long as it takes) for
        its sender; events it has not posted by then go to ``on_error``.
        """
        if self._closed:
            return
        _OPEN.discard(self)
        try:
            if not self._background:
                self.flush()
                return
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            if self._thread is not None:
                self._thread.join(timeout_s)
            with self._cond:
                left = [event for _, event in self._queue]
                self._queue.clear()
            if left:
                self._report(ClientError(f"closed before {len(left)} events were sent"), left)
        finally:
            self._closed = True
            if not self._sender_alive():
                self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # the block failed: still send what it queued, without hiding its error
            self.close()
        except Exception:
            logger.exception("livetally: could not send the last events")


class _FlushOnExit:
    """``with client:`` flushes what is buffered when the block ends cleanly, then closes."""

    def flush(self) -> object:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.close()


# --- straight to Kafka ---------------------------------------------------------------------


class KafkaClient(_FlushOnExit):
    """An operator's tool: produces one partner's events straight to the events topic, for
    a bulk backfill of a log by whoever holds an operator Kafka user (one with Write on the
    events topic). Partners post over HTTP (``Client``); they are never given Kafka.

    It writes the same records ingest writes (``contract.packing``), one per partition per
    flush, produced with ``acks=all`` and an idempotent producer. Whatever it writes is
    trusted as accepted by ingest, so it is only for the operator.

    Events are not checked here: the stream app checks every event when it reads the record
    (the same rules as ``POST /v1/events``, against the time the record was produced) and
    puts each invalid one on the dead-letter topic with its reason. Check a sample first
    with ``POST /v1/events/validate`` if in doubt. ``timeout_ms`` must be the session
    timeout registered for the partner (``livetally partner add --session-timeout``).
    """

    def __init__(
        self,
        bootstrap: str | list[str],
        partner_id: str,
        timeout_ms: int = 30_000,
        *,
        topic_prefix: str = "livetally.",
        batch_size: int = 500,
        ack_timeout_s: float = 10.0,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        security: KafkaSecurity | None = None,
    ) -> None:
        """``security`` is how to log in (``Settings.from_env().kafka.security`` reads it
        from the ``LIVETALLY_KAFKA_*`` variables); PLAINTEXT when None."""
        if not partner_id:
            raise ValueError("partner_id must not be empty")
        if timeout_ms <= 0:
            raise ValueError("timeout_ms must be positive")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        from contract.kafka_auth import KafkaSecurity
        from contract.topics import EVENTS

        servers = bootstrap.split(",") if isinstance(bootstrap, str) else list(bootstrap)
        self._servers = [s.strip() for s in servers if s.strip()]
        self._security = security or KafkaSecurity()
        self._partner = partner_id
        self._timeout_ms = timeout_ms
        self._topic = f"{topic_prefix}{EVENTS}"
        self._batch_size = batch_size
        self._ack_timeout_s = ack_timeout_s
        self._clock_ms = clock_ms
        self._producer: Any = None
        self._buffer: list[Mapping[str, Any]] = []
        self.produced = 0
        """Events Kafka has acknowledged so far."""

    @property
    def pending(self) -> int:
        """Events buffered and not yet produced."""
        return len(self._buffer)

    def _client(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer
            from kafka.errors import KafkaError

            from contract.producing import producer_options

            options = {
                **producer_options(self._ack_timeout_s),
                "client_id": f"livetally-client-{self._partner}",
            }
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self._servers, **self._security.kafka_python(), **options
                )
            except KafkaError as exc:
                raise ClientError(
                    f"cannot reach Kafka at {','.join(self._servers)}: {exc}"
                ) from None
        return self._producer

    def send(self, event: Mapping[str, Any]) -> None:
        """Buffer one event; produces a batch once ``batch_size`` events are waiting.

        An event naming another ``platform`` is refused here, as ingest refuses it (403).
        """
        if not isinstance(event, Mapping):
            raise ClientError("an event must be a JSON object (a mapping)")
        platform = event.get("platform")
        if isinstance(platform, str) and platform != self._partner:
            raise ClientError(
                f"event has platform {platform!r} but this client produces for {self._partner!r}"
            )
        try:
            _dumps(event)
        except (TypeError, ValueError) as exc:
            raise ClientError(f"event is not JSON: {exc}") from None
        self._buffer.append(event)
        if len(self._buffer) >= self._batch_size:
            self.flush()

    def flush(self) -> int:
        """Produce every buffered event and wait for Kafka; return how many were produced."""
        if not self._buffer:
            return 0
        from kafka.errors import KafkaError

        from contract.packing import pack_raw_events

        events, self._buffer = self._buffer, []
        try:
            producer = self._client()
            partitions = producer.partitions_for(self._topic)
            if not partitions:
                raise ClientError(f"topic {self._topic} does not exist")
            records = pack_raw_events(
                events,
                platform=self._partner,
                received_at_ms=self._clock_ms(),
                partitions=len(partitions),
                timeout_ms=self._timeout_ms,
            )
            futures = [
                producer.send(self._topic, key=r.key, value=r.value, partition=r.partition)
                for r in records
            ]
            producer.flush(timeout=self._ack_timeout_s)
            for future in futures:
                future.get(timeout=self._ack_timeout_s)
        except KafkaError as exc:
            self._buffer = events + self._buffer  # keep them for a retry: duplicates are safe
            raise ClientError(f"Kafka did not take the events: {type(exc).__name__}") from None
        except ClientError:
            self._buffer = events + self._buffer
            raise
        self.produced += len(events)
        return len(events)

    def close(self) -> None:
        """Close the producer (does not flush)."""
        if self._producer is not None:
            self._producer.close(timeout=self._ack_timeout_s)
            self._producer = None


# --- livetally send -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineError:
    """A line of an NDJSON file that is not a JSON value."""

    line: int
    detail: str


def iter_ndjson(lines: Iterable[str]) -> Iterator[tuple[int, Any] | LineError]:
    """``(line number, parsed value)`` per non-blank line, or a ``LineError`` for bad JSON."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield number, _loads(text)
        except ValueError as exc:
            yield LineError(number, f"not valid JSON: {exc}")


def _batches(
    items: Iterator[tuple[int, Any] | LineError], size: int
) -> Iterator[tuple[list[int], list[Any], list[LineError]]]:
    numbers: list[int] = []
    events: list[Any] = []
    errors: list[LineError] = []
    for item in items:
        if isinstance(item, LineError):
            errors.append(item)
            continue
        numbers.append(item[0])
        events.append(item[1])
        if len(events) >= size:
            yield numbers, events, errors
            numbers, events, errors = [], [], []
    if events or errors:
        yield numbers, events, errors


def partner_key(
    key: str | None, key_file: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """The API key ``livetally send`` posts with: ``--key``, else the first line of
    ``--key-file``, else ``LIVETALLY_KEY``."""
    if key:
        return key
    if key_file:
        try:
            lines = Path(key_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise LivetallyError(
                f"cannot read --key-file {key_file}: {exc.strerror or exc}"
            ) from None
        if not lines or not lines[0].strip():
            raise LivetallyError(f"--key-file {key_file} is empty")
        return lines[0].strip()
    env = os.environ if environ is None else environ
    found = env.get("LIVETALLY_KEY", "").strip()
    if not found:
        raise LivetallyError("no API key: set LIVETALLY_KEY, or pass --key-file FILE (or --key)")
    return found


def send_file(
    path: str,
    *,
    key: str,
    url: str | None = None,
    out: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Post an NDJSON file of events (``-`` = stdin) in batches of 500; report what was refused.

    Returns 0 when every event was accepted, 1 when some were rejected.
    """
    if url is None:
        from contract.ingest_address import IngestAddress

        url = IngestAddress.from_env().base_url
    printer = out or sys.stdout
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    accepted = 0
    rejections: list[tuple[int, str, str]] = []
    try:
        handle: TextIO = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as exc:
        raise LivetallyError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        with Client(url, key, batch_size=500, transport=transport) as client:
            for numbers, events, errors in _batches(iter_ndjson(handle), 500):
                rejections.extend((e.line, "invalid_json", e.detail) for e in errors)
                if not events:
                    continue
                result = client.post_batch(events)
                accepted += result.accepted
                for rejected in result.rejected:
                    line = numbers[rejected.index] if 0 <= rejected.index < len(numbers) else 0
                    rejections.append((line, rejected.code, rejected.detail))
    except UnicodeDecodeError:
        raise LivetallyError(f"{path} is not UTF-8 text") from None
    except httpx.InvalidURL as exc:
        raise LivetallyError(f"bad ingest URL {url!r}: {exc}") from None
    finally:
        if handle is not sys.stdin:
            handle.close()
    rejections.sort()
    print(f"accepted {accepted}, rejected {len(rejections)}", file=printer)
    for line, code, detail in rejections:
        print(f"line {line}: {code}: {detail}", file=printer)
    return 0 if not rejections else 1
