"""Publishing ingest's figures to the compacted metrics topic for the dashboard's monitor.

Every ``interval_s`` one record per partner (``contract.metrics.IngestMetrics``), keyed
``ingest/<instance>/<partner>``, with the counts since this instance started (``instance`` =
host-pid-port, so restarts and worker processes are told apart): accepted events, rejections
by code, and ``unexpected_errors`` (the partner's requests answered 500). Best effort: a
failed publish is logged and retried next time; requests never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

from contract.metrics import IngestMetrics, encode_metric, metric_key
from contract.packing import OutRecord
from ingest.producer import EventSink
from ingest.stats import IngestStats, PartnerTotals

__all__ = ["MetricsPublisher", "instance_name", "metrics_records"]

logger = logging.getLogger(__name__)


def instance_name(port: int, *, host: str | None = None, pid: int | None = None) -> str:
    """``<hostname>-<pid>-<port>``: one ingest process."""
    return f"{host or socket.gethostname()}-{os.getpid() if pid is None else pid}-{port}"


def metrics_records(
    totals: Mapping[str, PartnerTotals], *, instance: str, at_ms: int
) -> list[OutRecord]:
    """One metrics record per partner from its totals."""
    records = []
    for partner, counts in sorted(totals.items()):
        metric = IngestMetrics(
            instance=instance,
            partner=partner,
            at=at_ms,
            accepted=counts.accepted,
            rejected=dict(counts.rejected),
            unexpected_errors=counts.unexpected_errors,
        )
        records.append(OutRecord(0, metric_key(metric), encode_metric(metric), 0))
    return records


class MetricsPublisher:
    """A background task publishing ``stats`` to ``topic`` through ``sink``."""

    def __init__(
        self,
        sink: EventSink,
        stats: IngestStats,
        topic: str,
        *,
        instance: str,
        interval_s: float = 2.0,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._sink = sink
        self._stats = stats
        self._topic = topic
        self._instance = instance
        self._interval_s = interval_s
        self._clock_ms = clock_ms
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def publish_once(self) -> bool:
        """Publish the current totals now; False (logged) if Kafka did not take them."""
        records = metrics_records(
            self._stats.totals(), instance=self._instance, at_ms=self._clock_ms()
        )
        if not records:
            return True
        try:
            await self._sink.send(self._topic, records)
        except Exception as exc:  # best effort: never let the figures hurt ingest
            if not self._failing:
                logger.warning("publishing ingest metrics failed: %s", exc)
            self._failing = True
            return False
        if self._failing:
            logger.info("publishing ingest metrics works again")
        self._failing = False
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.publish_once()

    def start(self) -> None:
        """Start publishing on the running event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ingest-metrics")

    async def stop(self) -> None:
        """Stop the task and publish the final totals (best effort)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.publish_once()
