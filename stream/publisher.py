"""The publisher: what the partition states counted, sent on at a pace the worker keeps up."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from contract.deadletter import DeadLetter, deadletter_key, encode_dead_letter
from contract.metrics import encode_metric, metric_key, pipeline_metrics
from contract.partials import Chunk, chunk_key, encode_chunk
from contract.stats import PartitionStats, encode_stats, stats_key
from stream.metrics import LatencyWindow, RateWindow
from stream.pacing import publish_interval
from stream.sender import Send
from stream.states import PartitionStates

__all__ = ["Drained", "Publisher", "now_ms"]

logger = logging.getLogger(__name__)

Drained = list[tuple[list[tuple[int, int]], list[Chunk], list[PartitionStats], list[DeadLetter]]]
"""Per partition: (received_at, events) arrivals, chunks, monitor figures, dead letters."""


def now_ms() -> int:
    """Wall-clock milliseconds, the time base of ingest's ``received_at``."""
    return int(time.time() * 1000)


class Publisher:
    """Drains the partition states and sends chunks, stats and dead letters on.

    Also keeps the latency (ingest to publish) and rate figures of the pipeline record, and
    paces the publishes: less often while the worker is catching up (``stream.pacing``).
    """

    def __init__(
        self,
        states: PartitionStates,
        lock: asyncio.Lock,
        send: Send,
        flush_interval_s: float,
        flush_max_interval_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._states = states
        self._lock = lock
        self._send = send
        self.flush_interval_s = flush_interval_s
        self._max_interval_s = flush_max_interval_s
        self._clock = clock
        self._wall_ms = wall_ms
        self.latency = LatencyWindow()
        self.rate = RateWindow()
        self.published_at = 0.0
        """``clock()`` of the last paced publish."""
        self.catching_up = False
        """Whether the last tick chose an interval longer than the flush interval."""

    def drain(self, partitions: Iterable[int]) -> Drained:
        """Take what the given partitions counted since the last publish (hold the lock)."""
        drained: Drained = []
        for partition in partitions:
            state = self._states.states.get(partition)
            if state is not None:
                arrivals, state.arrivals = state.arrivals, []
                drained.append((arrivals, *state.drain()))
        return drained

    async def send(self, drained: Drained) -> None:
        """Send what ``drain`` took, then account its arrivals as published now."""
        for arrivals, chunks, stats, dead in drained:
            for chunk in chunks:
                key = chunk_key(chunk.stream, chunk.platform, chunk.partition, chunk.minute)
                await self._send("partials", key, encode_chunk(chunk))
            for item in stats:
                await self._send("stats", stats_key(item), encode_stats(item))
            for letter in dead:
                logger.warning(
                    "dead letter p%d@%d: %s %s",
                    letter.partition,
                    letter.offset,
                    letter.code,
                    letter.detail,
                )
                await self._send("deadletter", deadletter_key(letter), encode_dead_letter(letter))
            published = self._wall_ms()
            for received_at, count in arrivals:
                self.latency.add(published, published - received_at, count)
                self.rate.add(published, count)

    async def publish_all(self) -> None:
        """Drain every partition held and send it."""
        async with self._lock:
            drained = self.drain(list(self._states.states))
        await self.send(drained)

    def behind_ms(self) -> int:
        """How long ago the newest record counted since the last publish arrived at ingest."""
        states = self._states.states.values()
        newest = max((s.arrivals[-1][0] for s in states if s.arrivals), default=0)
        return self._wall_ms() - newest if newest else 0

    async def tick(self) -> None:
        """The publish timer: publish everything, less often while catching up."""
        now = self._clock()
        behind = self.behind_ms()
        interval = publish_interval(behind, self.flush_interval_s, self._max_interval_s)
        catching_up = interval > self.flush_interval_s
        if catching_up != self.catching_up:
            self.catching_up = catching_up
            if catching_up:
                logger.info("catching up (%.1f s behind): publishing less often", behind / 1000)
            else:
                logger.info("caught up: publishing every %g s", self.flush_interval_s)
        if catching_up and now - self.published_at < interval:
            return  # catching up: publish less often (stream/pacing.py)
        self.published_at = now
        await self.publish_all()

    async def publish_before_stop(self, timeout_s: float = 10.0) -> None:
        """Publish what is left, giving up (with a warning) after ``timeout_s``."""
        try:  # bounded: a cluster that is gone must not hold the stop up
            await asyncio.wait_for(self.publish_all(), timeout=timeout_s)
        except Exception as exc:
            logger.warning("could not publish before stopping: %r", exc)

    async def publish_pipeline(
        self, worker: str, partitions: list[int], highs: Mapping[int, int], at_ms: int
    ) -> None:
        """Send the ``pipeline/<worker>`` metrics record; ``highs`` are the high watermarks."""
        lag: dict[int, int] = {}
        for partition, high in highs.items():
            state = self._states.states.get(partition)
            position = state.next_offset if state is not None else 0
            lag[partition] = max(0, high - position)
        metric = pipeline_metrics(
            worker,
            at_ms,
            partitions,
            lag,
            self.latency.percentiles(at_ms),
            self.rate.rate(at_ms),
        )
        await self._send("metrics", metric_key(metric), encode_metric(metric))
