"""The partner SDK's ``Client``: events queued and posted in batches, by size or by time,
from the caller's thread or a background sender with a bounded queue.

It batches the way Segment's and PostHog's SDKs do: a batch goes out when ``batch_size``
events are waiting or the oldest has waited ``flush_interval`` seconds, whichever comes
first. Retrying is always safe: counting is duplicate-proof, so an event sent twice counts
once.
"""

from __future__ import annotations

import atexit
import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from livetally.client.codec import dumps
from livetally.client.events import EventShortcuts
from livetally.client.exceptions import ClientError, QueueFull
from livetally.client.poster import BatchPoster
from livetally.client.results import BatchResult

__all__ = ["EXIT_TIMEOUT_S", "Client", "OnError"]

logger = logging.getLogger(__name__)

EXIT_TIMEOUT_S = 10.0
"""How long the interpreter's exit waits for each open client's last events."""

OnError = Callable[[ClientError, list[Mapping[str, Any]]], None]
"""``on_error(error, events)``: called with events that will not be delivered."""


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


_OPEN: weakref.WeakSet[Client] = weakref.WeakSet()
"""Clients not closed yet, closed (and so flushed) when the interpreter exits."""


def _close_open_clients() -> None:
    for client in list(_OPEN):
        try:
            client.close(timeout_s=EXIT_TIMEOUT_S)
        except Exception:
            logger.exception("livetally: could not send the last events at exit")


atexit.register(_close_open_clients)


class Client(EventShortcuts):
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
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._background = background
        self._max_queue_size = max_queue_size
        self._on_error = on_error
        self._clock = clock
        self._now_ms = now_ms
        self._http = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "User-Agent": "livetally-client/0.1",
            },
        )
        self._poster = BatchPoster(
            self._http,
            base_url.rstrip("/") + "/v1/events",
            gzip=gzip,
            max_retries=max_retries,
            sleep=sleep,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not security
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
        self.dropped = 0
        """Events dropped because the background queue was full."""
        if flush_at_exit:
            _OPEN.add(self)

    @property
    def retries(self) -> int:
        """How many requests were retried."""
        return self._poster.retries

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
        dumps(event)
        with self._cond:
            if self._closed:  # closed by another thread since the check above
                raise ClientError("this client is closed")
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
        return self._poster.post(events)

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
                try:
                    self.flush()
                finally:  # a batch that failed stops the flush: say what it left behind
                    left = [event for _, event in self._queue]
                    self._queue.clear()
                    if left:
                        self._report(
                            ClientError(f"closed before {len(left)} events were sent"), left
                        )
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
