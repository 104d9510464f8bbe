"""The Kafka side of ingest: a thin, lazily created kafka-python producer bridged to asyncio."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from contract.packing import OutRecord
from contract.producing import producer_options
from contract.settings import KafkaSettings
from ingest.exceptions import KafkaNotAcknowledged

__all__ = ["EventSink", "KafkaEventProducer"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_PARTITIONS_TTL_S = 60.0


class EventSink(Protocol):
    """Where accepted records go; the app only needs these four calls."""

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has."""
        ...

    async def send(self, topic: str, records: Sequence[OutRecord]) -> None:
        """Produce the records; return only once every one is acknowledged. Records of
        successive calls reach a partition in the order of the calls."""
        ...

    async def ready(self, topic: str) -> bool:
        """True while writes to ``topic`` are being accepted."""
        ...

    async def close(self) -> None:
        """Flush and release the client."""
        ...


def _settle(loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[None], error: Any) -> None:
    """Called on kafka-python's thread: hand the outcome to the event loop."""

    def apply() -> None:
        if waiter.done():
            return
        if isinstance(error, BaseException):
            waiter.set_exception(error)
        else:
            waiter.set_result(None)

    try:
        loop.call_soon_threadsafe(apply)
    except RuntimeError:  # the loop closed while the record was in flight
        pass


class KafkaEventProducer:
    """Produces packed event records; the kafka-python client is built on first use."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        ack_timeout_s: float = 5.0,
        ready_window_s: float = 3.0,
        options: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._servers = list(kafka.servers)
        self._connect = kafka.client_options()
        self._ack_timeout_s = ack_timeout_s
        self._ready_window_s = ready_window_s
        self._options = {**producer_options(ack_timeout_s), **(options or {})}
        self._clock = clock
        self._client: Any = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ingest-kafka")
        # One thread hands every record to the client, so records of successive sends reach
        # a partition in the order of the sends (the coalescer relies on it).
        self._send_executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="ingest-kafka-send"
        )
        self._partitions: dict[str, tuple[int, float]] = {}
        self._last_ok = float("-inf")
        self._last_failure = float("-inf")
        self._failing_since: float | None = None
        self._reset_after_s = max(2 * ack_timeout_s, 5.0)
        """Replace the client after failing this long without one acknowledgement."""

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from kafka import KafkaProducer

                # The options win over the connection's (no TypeError for a repeated one).
                self._client = KafkaProducer(**{**self._connect, **self._options})
                logger.info("Kafka producer connected to %s", ",".join(self._servers))
            return self._client

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def _in_send_thread(self, fn: Callable[[], None]) -> None:
        # Submitted at the call, before the first await: the order of the calls is kept.
        await asyncio.get_running_loop().run_in_executor(self._send_executor, fn)

    def _failed(self, detail: str) -> KafkaNotAcknowledged:
        now = self._clock()
        self._last_failure = now
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since >= self._reset_after_s:
            self._replace_client()
        return KafkaNotAcknowledged(detail)

    def _replace_client(self) -> None:
        """Drop a client that has failed for a while; the next request builds a fresh one.

        After a quorum loss kafka-python's idempotent producer can stay wedged even once the
        brokers are back (the reliability suite shows it); a new client recovers. Records the
        old client still holds may or may not land: their requests were answered 503, and a
        retry is harmless because counting ignores duplicates.
        """
        with self._lock:
            old, self._client = self._client, None
        self._failing_since = None
        self._partitions.clear()
        if old is not None:
            logger.warning("Kafka producer failed for %.0f s; replacing it", self._reset_after_s)
            threading.Thread(target=old.close, kwargs={"timeout": 0}, daemon=True).start()

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has (cached for a minute)."""
        cached = self._partitions.get(topic)
        now = self._clock()
        if cached is not None and now - cached[1] < _PARTITIONS_TTL_S:
            return cached[0]
        from kafka.errors import KafkaError

        try:
            async with asyncio.timeout(self._ack_timeout_s):
                found = await self._in_thread(lambda: self._get_client().partitions_for(topic))
        except TimeoutError:
            raise self._failed("Kafka did not answer in time") from None
        except KafkaError as exc:
            raise self._failed(f"Kafka is unavailable ({type(exc).__name__})") from None
        if not found:
            raise self._failed(f"topic {topic} does not exist")
        self._partitions[topic] = (len(found), now)
        return len(found)

    async def send(self, topic: str, records: Sequence[OutRecord]) -> None:
        """Produce the records and wait, at most ``ack_timeout_s``, for every acknowledgement."""
        from kafka.errors import KafkaError

        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[None]] = [loop.create_future() for _ in records]

        def produce() -> None:
            client = self._get_client()
            for record, waiter in zip(records, waiters, strict=True):
                future = client.send(
                    topic, value=record.value, key=record.key, partition=record.partition
                )
                future.add_callback(lambda _meta, w=waiter: _settle(loop, w, None))
                future.add_errback(lambda exc, w=waiter: _settle(loop, w, exc))

        try:
            async with asyncio.timeout(self._ack_timeout_s):
                await self._in_send_thread(produce)
                await asyncio.gather(*waiters)
        except TimeoutError:
            raise self._failed(
                f"Kafka did not acknowledge within {self._ack_timeout_s:g} s"
            ) from None
        except KafkaError as exc:
            raise self._failed(f"Kafka refused the events ({type(exc).__name__})") from None
        self._last_ok = self._clock()
        self._failing_since = None

    async def ready(self, topic: str) -> bool:
        """True if a write succeeded lately, else if a fresh metadata request succeeds."""
        now = self._clock()
        if self._last_ok > self._last_failure and now - self._last_ok < self._ready_window_s:
            return True
        try:
            async with asyncio.timeout(self._ready_window_s):
                await self._in_thread(self._probe, topic)
        except Exception as exc:  # any failure means not ready, which is the answer
            logger.info("Kafka not ready: %s", type(exc).__name__)
            return False
        return True

    def _probe(self, topic: str) -> None:
        client = self._get_client()
        client.partitions_for(topic)  # makes the client track the topic's metadata
        # kafka-python has no public "refresh metadata now"; its cluster metadata does.
        metadata = client._metadata
        done = threading.Event()
        future = metadata.request_update()
        future.add_both(lambda _value: done.set())
        client._sender.wakeup()
        if not done.wait(self._ready_window_s) or future.failed():
            raise KafkaNotAcknowledged("metadata request failed")
        partitions = metadata.partitions_for_topic(topic) or set()
        available = metadata.available_partitions_for_topic(topic) or set()
        if not partitions or len(available) < len(partitions):
            raise KafkaNotAcknowledged(f"topic {topic} has no leader for some partitions")
        self._last_ok = self._clock()

    async def close(self) -> None:
        """Flush what is buffered and close the client."""
        client = self._client
        if client is not None:
            timeout = self._ack_timeout_s
            try:
                await self._in_thread(lambda: client.close(timeout=timeout))
            except Exception:
                logger.exception("closing the Kafka producer failed")
            self._client = None
        self._executor.shutdown(wait=False)
        self._send_executor.shutdown(wait=False)
