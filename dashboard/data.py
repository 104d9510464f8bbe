"""Follow the partials, stats, metrics, alerts and registry topics; hand out immutable snapshots.

This is the only dashboard module that reads Kafka.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from contract.partials import Chunk, chunk_from_record
from contract.registry import Registry
from contract.registry_store import RegistryFollower
from contract.series import PartialsMerge, Steps
from contract.settings import KafkaSettings
from contract.stats import PartitionStats, decode_stats
from contract.topics import ALERTS, METRICS, PARTIALS, STATS
from dashboard.model import PartnerStats, Snapshot, aggregate_stats
from dashboard.monitor import MonitorSnapshot, MonitorState
from dashboard.ticks import TickMemo

__all__ = [
    "DataSource",
    "LiveData",
    "StaticData",
    "StreamState",
    "TopicMissing",
    "current_data",
]

logger = logging.getLogger(__name__)

STALL_S = 20.0
"""Seconds without a fetched record, while records wait, after which the data follower
reconnects (``LiveData._check_stalled``)."""
EXTENSION = "livetally_data"
"""Key under which the app's data source is kept in ``flask.Flask.extensions``: a
``dashboard.scope.RequestData``, which gives each request only what its token may read."""


class TopicMissing(RuntimeError):
    """A topic the dashboard follows has not been created yet."""


class DataSource(Protocol):
    """What pages and the API read: a snapshot, swapped whole when anything changes."""

    def snapshot(self) -> Snapshot:
        """The latest snapshot."""
        ...

    def monitor(self) -> MonitorSnapshot:
        """The latest monitor figures (pipeline, ingest, alerts, rates, status history)."""
        ...


class StaticData:
    """A fixed snapshot (tests, exports of a finished stream)."""

    def __init__(self, snapshot: Snapshot, monitor: MonitorSnapshot | None = None) -> None:
        self._snapshot = snapshot
        self._monitor = monitor or MonitorSnapshot()

    def snapshot(self) -> Snapshot:
        """The snapshot given at construction."""
        return self._snapshot

    def monitor(self) -> MonitorSnapshot:
        """The monitor snapshot given at construction (or set later)."""
        return self._monitor

    def set(self, snapshot: Snapshot) -> None:
        """Replace the snapshot."""
        self._snapshot = snapshot

    def set_monitor(self, monitor: MonitorSnapshot) -> None:
        """Replace the monitor snapshot."""
        self._monitor = monitor


def current_data() -> DataSource:
    """The data source of the Dash app handling the current request, as the request's token
    may read it (``dashboard.scope``)."""
    import flask

    from dashboard.scope import RequestData

    source: RequestData = flask.current_app.extensions[EXTENSION]
    return source.current()


class StreamState:
    """Merged chunks of every partner of every stream, and the per-partition stats.

    Pure bookkeeping (no Kafka): feed it records, then ``build`` a snapshot.
    """

    def __init__(self) -> None:
        self._partials = PartialsMerge()
        self._stats: dict[str, PartitionStats] = {}
        self._version = 0

    def put_chunk(self, chunk: Chunk) -> None:
        """Apply a chunk, replacing the one of its (stream, partner, partition, minute)."""
        self._partials.put(chunk)
        self._version += 1

    def put_stats(self, key: str, record: PartitionStats | None) -> None:
        """Store (or, with None, delete) the stats record under its topic key."""
        if record is None:
            self._stats.pop(key, None)
        else:
            self._stats[key] = record
        self._version += 1

    @property
    def version(self) -> int:
        """Grows with every change."""
        return self._version

    def build(self, registry: Registry, version: int, recent: TickMemo | None = None) -> Snapshot:
        """An immutable snapshot of the current state (``recent``: see ``Snapshot.recent``)."""
        platforms: dict[str, dict[str, Steps]] = {}
        for (stream, platform), diffs in self._partials.partners.items():
            platforms.setdefault(stream, {})[platform] = diffs.steps()
        stats: dict[str, dict[str, PartnerStats]] = aggregate_stats(self._stats.values())
        return Snapshot(
            registry=registry,
            platforms=platforms,
            totals={stream: diffs.steps() for stream, diffs in self._partials.totals.items()},
            stats=stats,
            version=version,
            recent=recent if recent is not None else TickMemo(),
        )


class FollowerStalled(RuntimeError):
    """The data follower's consumer fetches nothing although records wait."""


class LiveData:
    """Follows the data topics from the beginning in one thread, metrics and alerts in another.

    The metrics and alerts topics are optional: while they do not exist the monitor shows
    nothing from them, and they are picked up once they appear.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        poll_interval_s: float = 0.2,
        min_rebuild_s: float = 0.25,
        registry: RegistryFollower | None = None,
    ) -> None:
        self._kafka = kafka
        self._poll_ms = max(1, int(poll_interval_s * 1000))
        self._resume: dict[Any, int] | None = None
        """Where a reconnecting data follower goes on (None: from the beginning)."""
        self._min_rebuild_s = min_rebuild_s
        self._recent = TickMemo()
        self._registry = registry or RegistryFollower(kafka)
        self._state = StreamState()
        self._snapshot = Snapshot()
        self._version = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-data", daemon=True)
        self._monitor_state = MonitorState()
        self._monitor = MonitorSnapshot()
        self._monitor_thread = threading.Thread(
            target=self._run_monitor, name="dashboard-monitor", daemon=True
        )

    def snapshot(self) -> Snapshot:
        """The latest snapshot (an immutable object swapped whole; safe from any thread)."""
        return self._snapshot

    def monitor(self) -> MonitorSnapshot:
        """The latest monitor snapshot (swapped whole; safe from any thread)."""
        return self._monitor

    def start(self) -> None:
        """Start the registry follower and the topic followers."""
        self._registry.start()
        self._thread.start()
        self._monitor_thread.start()

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Wait until both the registry and the data topics were read to their ends once."""
        deadline = time.monotonic() + timeout_s
        if not self._registry.wait_ready(timeout_s):
            return False
        return self._ready.wait(max(0.0, deadline - time.monotonic()))

    def wait_current(self, timeout_s: float = 30.0) -> bool:
        """Wait until a snapshot holds everything read so far, the registry included."""
        deadline = time.monotonic() + timeout_s
        if not self.wait_ready(timeout_s):
            return False
        while time.monotonic() < deadline:
            snap = self._snapshot
            if snap.registry is self._registry.snapshot and snap.version > 0:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop following."""
        self._stop.set()
        for thread in (self._thread, self._monitor_thread):
            if thread.is_alive():
                thread.join(timeout=5)
        self._registry.stop()

    def _run(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                self._follow()
            except TopicMissing as exc:
                if not warned:
                    logger.warning("%s; waiting for it (run `livetally up` or the worker)", exc)
                    warned = True
                self._stop.wait(2.0)
            except FollowerStalled as exc:
                logger.warning("dashboard data follower: %s", exc)
            except Exception:
                logger.exception("dashboard data follower failed; retrying in 1 s")
                self._stop.wait(1.0)

    def _consumer(self, resume: dict[Any, int] | None = None) -> tuple[Any, list[Any]]:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(
            **self._kafka.client_options(),
            enable_auto_commit=False,
            client_id="livetally-dashboard",
        )
        partitions: list[Any] = []
        for name in (PARTIALS, STATS):
            topic = self._kafka.topic(name)
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                consumer.close()
                raise TopicMissing(f"topic {topic} does not exist yet")
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        for tp, offset in (resume or {}).items():
            if tp in partitions:
                consumer.seek(tp, offset)
        return consumer, partitions

    def _follow(self) -> None:
        consumer, partitions = self._consumer(self._resume)
        partials = self._kafka.topic(PARTIALS)
        try:
            ends = consumer.end_offsets(partitions)
            built_at = 0.0
            registry: Registry | None = None
            built_version = -1
            quiet_since = time.monotonic()
            while not self._stop.is_set():
                batches = consumer.poll(timeout_ms=self._poll_ms)
                for tp, records in batches.items():
                    self._apply(records, partials=tp.topic == partials)
                if batches:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= STALL_S:
                    quiet_since = time.monotonic()
                    self._check_stalled(consumer, partitions)
                caught_up = self._ready.is_set() or all(
                    consumer.position(tp) >= end for tp, end in ends.items()
                )
                current = self._registry.snapshot
                changed = current is not registry or self._state.version != built_version
                due = time.monotonic() - built_at >= self._min_rebuild_s
                if changed and caught_up and (due or not self._ready.is_set()):
                    self._version += 1
                    built_version = self._state.version
                    registry = current
                    self._snapshot = self._state.build(current, self._version, self._recent)
                    built_at = time.monotonic()
                if caught_up:
                    self._ready.set()
        finally:
            consumer.close()

    def _check_stalled(self, consumer: Any, partitions: list[Any]) -> None:
        """Raise ``FollowerStalled`` if records wait that the consumer has not fetched for
        ``STALL_S``: after a broker outage a kafka-python consumer can stay stuck on a lost
        connection, and the dashboard would freeze its numbers with no sign of it."""
        positions = {tp: consumer.position(tp) for tp in partitions}
        ends = consumer.end_offsets(partitions)
        behind = [tp for tp in partitions if positions[tp] < ends.get(tp, 0)]
        if behind:
            self._resume = positions
            raise FollowerStalled(
                f"nothing fetched for {STALL_S:.0f} s while {len(behind)} partition(s) have "
                "records; reconnecting where it stopped"
            )

    def _apply(self, records: Iterable[Any], *, partials: bool) -> None:
        for record in records:
            try:
                if partials:
                    self._state.put_chunk(chunk_from_record(record.key, record.value))
                else:
                    key = (record.key or b"").decode(errors="replace")
                    stats = None if record.value is None else decode_stats(record.value)
                    self._state.put_stats(key, stats)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                logger.warning("ignoring bad record at %s:%s: %s", record.topic, record.offset, exc)

    # --- the monitor: metrics and alerts topics, and sampling the stats every second ------

    def _run_monitor(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow_monitor()
            except Exception:
                logger.exception("dashboard monitor follower failed; retrying in 1 s")
                self._stop.wait(1.0)

    def _monitor_partitions(self, consumer: Any) -> list[Any]:
        from kafka import TopicPartition

        partitions: list[Any] = []
        for name in (METRICS, ALERTS):
            topic = self._kafka.topic(name)
            ids = consumer.partitions_for_topic(topic)
            partitions += [TopicPartition(topic, p) for p in sorted(ids or ())]
        return partitions

    def _follow_monitor(self) -> None:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            **self._kafka.client_options(),
            enable_auto_commit=False,
            client_id="livetally-dashboard-monitor",
        )
        alerts = self._kafka.topic(ALERTS)
        try:
            partitions = self._monitor_partitions(consumer)
            if partitions:
                consumer.assign(partitions)
                consumer.seek_to_beginning(*partitions)
            checked = observed = time.monotonic()
            while not self._stop.is_set():
                if partitions:
                    for tp, records in consumer.poll(timeout_ms=self._poll_ms).items():
                        self._apply_monitor(records, alerts=tp.topic == alerts)
                else:
                    self._stop.wait(self._poll_ms / 1000)
                now = time.monotonic()
                if now - observed >= 1.0:
                    observed = now
                    self._monitor_state.observe(int(time.time() * 1000), self._snapshot.stats)
                if self._monitor_state.version != self._monitor.version:
                    self._monitor = self._monitor_state.build()
                if now - checked >= 10.0:
                    checked = now
                    if len(self._monitor_partitions(consumer)) != len(partitions):
                        return  # a topic appeared: start over, reading it from the beginning
        finally:
            consumer.close()

    def _apply_monitor(self, records: Iterable[Any], *, alerts: bool) -> None:
        for record in records:
            try:
                doc = None if record.value is None else orjson.loads(record.value)
                if alerts:
                    if doc is not None:
                        self._monitor_state.put_alert(doc)
                else:
                    key = (record.key or b"").decode(errors="replace")
                    self._monitor_state.put_metric(key, doc)
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("ignoring bad record at %s:%s: %s", record.topic, record.offset, exc)
