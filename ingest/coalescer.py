"""Gathering the records of concurrent requests: one record per partition per linger."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from contract.packing import MAX_RECORD_BYTES, OutRecord
from contract.records import bundle_size, encode_bundle
from ingest.exceptions import KafkaNotAcknowledged
from ingest.producer import EventSink

__all__ = ["Coalescer", "Timer"]

logger = logging.getLogger(__name__)

_BUNDLE_OVERHEAD = bundle_size([])
"""A bundle's bytes around its batches; each batch after the first adds a comma."""


class Timer(Protocol):
    """A pending call, as ``loop.call_later`` returns it."""

    def cancel(self) -> None:
        """Do not make the call."""
        ...


CallLater = Callable[[float, Callable[[], None]], Timer]
"""Schedules a call after a delay in seconds; the running loop's ``call_later`` unless a
test passes timers it fires by hand."""


def _call_later(delay_s: float, callback: Callable[[], None]) -> Timer:
    return asyncio.get_running_loop().call_later(delay_s, callback)


@dataclass(eq=False)
class _Bundle:
    """The records gathered for one partition, and what became of them once produced."""

    partition: int
    records: list[OutRecord] = field(default_factory=list)
    payload: int = 0
    """Bytes of the records' values."""
    events: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None
    """Why Kafka did not take the bundle; set before ``done``."""

    def size_with(self, record: OutRecord) -> int:
        """The bundle's length in bytes once ``record`` joined it (``bundle_size``)."""
        return _BUNDLE_OVERHEAD + self.payload + len(record.value) + len(self.records)

    def fits(self, record: OutRecord, max_events: int, max_bytes: int) -> bool:
        """Whether ``record`` may join (an empty bundle takes any record)."""
        if not self.records:
            return True
        return self.events + record.count <= max_events and self.size_with(record) <= max_bytes

    def add(self, record: OutRecord) -> None:
        self.records.append(record)
        self.payload += len(record.value)
        self.events += record.count

    def record(self) -> OutRecord:
        """The one record to produce: a lone record as it is, several as a bundle."""
        if len(self.records) == 1:
            return self.records[0]
        first = self.records[0]
        value = encode_bundle([record.value for record in self.records])
        return OutRecord(self.partition, first.key, value, self.events)


def _fresh(error: BaseException) -> BaseException:
    """A copy of ``error`` for one of the requests it fails, so that concurrent requests do
    not raise (and chain tracebacks onto) one shared exception object."""
    try:
        twin = copy.copy(error)
    except Exception:  # an exception type copy cannot rebuild: share the original
        return error
    return twin.with_traceback(error.__traceback__)


class Coalescer:
    """An ``EventSink`` that produces the records of concurrent requests together.

    On ``topic``, the first record sent opens a window of ``linger_s``; every record sent
    until it closes joins the bundle of its partition, produced as one record when the
    window closes, or at once when it holds ``max_events`` events. A record that would take
    a bundle past ``max_events`` events or ``max_bytes`` bytes starts the next one, and the
    full one is produced at once. A lone record is produced as it is, so a quiet ingest
    writes exactly what it wrote without coalescing.

    A send returns once every bundle holding one of its records is acknowledged; otherwise
    it raises (a copy of) the error the sink raised for the first one that failed, so every
    request with events in a failed record gets the error its own send would have got.
    Records go out whatever becomes of the requests that sent them: a request cancelled
    while it waits takes nothing out of a bundle. Bundles are handed to the sink in the
    order they were closed, and records join a bundle in the order they were sent, so the
    order of the records of a partition is the order they were sent in. Records of other
    topics go straight through.

    Memory: a bundle holds references to the records of requests still waiting for it, plus
    its own encoded copy while it is produced; ingest's concurrency limit bounds both.
    """

    def __init__(
        self,
        sink: EventSink,
        topic: str,
        *,
        linger_s: float,
        max_events: int,
        max_bytes: int = MAX_RECORD_BYTES,
        call_later: CallLater = _call_later,
    ) -> None:
        if not linger_s > 0:
            raise ValueError("a coalescer needs a linger above 0 s")
        if max_events < 1 or max_bytes < 1:
            raise ValueError("a bundle holds at least one event and one byte")
        self._sink = sink
        self._topic = topic
        self._linger_s = linger_s
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._call_later = call_later
        self._filling: dict[int, _Bundle] = {}
        self._window: Timer | None = None
        self._producing: set[asyncio.Task[None]] = set()

    @property
    def sink(self) -> EventSink:
        """The sink the bundles go to."""
        return self._sink

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has (the sink's answer)."""
        return await self._sink.partitions(topic)

    async def ready(self, topic: str) -> bool:
        """The sink's answer."""
        return await self._sink.ready(topic)

    async def send(self, topic: str, records: Sequence[OutRecord]) -> None:
        """Gather the records; return once every one of them is acknowledged."""
        if topic != self._topic:
            await self._sink.send(topic, records)
            return
        # No await until every record is placed: a window cannot close halfway.
        bundles = list(dict.fromkeys(self._place(record) for record in records))
        for bundle in bundles:
            await bundle.done.wait()
            if bundle.error is not None:
                raise _fresh(bundle.error)

    def _place(self, record: OutRecord) -> _Bundle:
        partition = record.partition
        bundle = self._filling.get(partition)
        if bundle is not None and not bundle.fits(record, self._max_events, self._max_bytes):
            self._produce(self._filling.pop(partition))
            bundle = None
        if bundle is None:
            bundle = self._filling[partition] = _Bundle(partition)
            if self._window is None:
                self._window = self._call_later(self._linger_s, self._close_window)
        bundle.add(record)
        if bundle.events >= self._max_events:
            self._produce(self._filling.pop(partition))
        if not self._filling and self._window is not None:
            self._window.cancel()  # nothing left to wait for
            self._window = None
        return bundle

    def _close_window(self) -> None:
        if self._window is not None:
            self._window.cancel()
            self._window = None
        filling, self._filling = self._filling, {}
        for partition in sorted(filling):
            self._produce(filling[partition])

    def _produce(self, bundle: _Bundle) -> None:
        # Tasks start in the order they were created, and each hands its record to the
        # sink before its first await: the sink gets the bundles in this order.
        task = asyncio.get_running_loop().create_task(self._deliver(bundle))
        self._producing.add(task)
        task.add_done_callback(self._producing.discard)

    async def _deliver(self, bundle: _Bundle) -> None:
        acknowledged = False
        try:
            await self._sink.send(self._topic, [bundle.record()])
            acknowledged = True
        except Exception as exc:  # every request waiting on the bundle gets it
            bundle.error = exc
        finally:
            # Cancellation or any other way out without an acknowledgement: no waiting
            # request may be answered as if its events were in Kafka.
            if not acknowledged and bundle.error is None:
                bundle.error = KafkaNotAcknowledged("ingest stopped before Kafka acknowledged")
            bundle.done.set()

    @property
    def pending(self) -> int:
        """Bundles gathering or being produced."""
        return len(self._filling) + len(self._producing)

    async def close(self) -> None:
        """Produce what is gathered, wait for it, then close the sink."""
        self._close_window()
        if self._producing:
            await asyncio.gather(*self._producing, return_exceptions=True)
        await self._sink.close()
