"""The Faust agent and timers: thin wrappers that hand records to the pure counting code."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from stream.alerting import AlertMonitor, schedule_webhook
from stream.alerts import AlertRules
from stream.checkpoints import CheckpointStore
from stream.clients import committed_offsets
from stream.merge import Chunk, chunk_key, encode_chunk
from stream.metrics import LatencyWindow, RateWindow, pipeline_record, worker_id
from stream.pacing import publish_interval
from stream.partition_state import DeadLetter, PlatformStats
from stream.snapshot import dump_state
from stream.states import PartitionStates, TruncatedLog
from stream.topics import StreamTopics

__all__ = ["Runtime", "register_agents", "stats_key"]

logger = logging.getLogger(__name__)

Drained = list[tuple[list[tuple[int, int]], list[Chunk], list[PlatformStats], list[DeadLetter]]]
"""Per partition: (received_at, events) arrivals, chunks, monitor figures, dead letters."""


def stats_key(stats: PlatformStats) -> bytes:
    """The compacted-topic key of one partition's monitor figures for a partner."""
    return f"{stats.stream}\x1f{stats.platform}\x1f{stats.partition}".encode()


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Runtime:
    """What the timers share: states, checkpoints, monitor figures and the alert monitor."""

    states: PartitionStates
    checkpoints: CheckpointStore | None
    checkpoint_interval_s: float
    checkpoint_min_records: int
    metrics_interval_s: float
    worker: str = field(default_factory=lambda: worker_id("livetally", socket.gethostname(), 0))
    rules: AlertRules = field(default_factory=AlertRules)
    webhook: str | None = None
    connect: dict[str, Any] = field(default_factory=dict)
    """``KafkaSettings.client_options()`` of the side clients (restores, alert monitor)."""
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    rate: RateWindow = field(default_factory=RateWindow)
    monitor: AlertMonitor | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while a state changes or is read whole (apply, drain, checkpoint dump)."""
    dump_s: dict[int, float] = field(default_factory=dict)
    """Seconds the last checkpoint dump of each partition took."""
    http: Any = None
    restoring: set[asyncio.Task[None]] = field(default_factory=set)
    """Background builds of newly assigned partitions' states (kept referenced)."""
    assignment: int = 0
    """Counts revocations: a build started under an older assignment stops."""
    published_at: float = 0.0
    """``time.monotonic()`` of the publish timer's last publish."""
    catching_up: bool = False
    """Whether the publish timer last chose an interval longer than the flush interval."""

    @classmethod
    def for_app(cls, app_id: str, **kwargs: Any) -> Runtime:
        """A runtime whose worker id names this process."""
        return cls(worker=worker_id(app_id, socket.gethostname(), os.getpid()), **kwargs)


def register_agents(
    app: Any,
    topics: StreamTopics,
    runtime: Runtime,
    flush_interval_s: float,
    flush_max_interval_s: float,
) -> None:
    """Attach the aggregating agent, the timers and the health page to ``app``."""
    states = runtime.states
    events_topic = topics.events.get_topic_name()

    @app.agent(topics.events, name="aggregate")
    async def aggregate(stream: Any) -> None:
        lock = runtime.lock
        async for event in stream.events():
            message = event.message
            async with lock:
                try:
                    state = await states.state_for(message.partition, message.offset)
                except TruncatedLog as exc:
                    # Nothing of this partition may be counted (or committed) from a
                    # partial log: stop the worker with the reason instead.
                    logger.critical("%s", exc)
                    await app.crash(exc)
                    return
                if message.offset >= state.next_offset:
                    state.apply_record(message.offset, message.value)

    def drain(partitions: Iterable[int]) -> Drained:
        """Take what the given partitions counted since the last publish (hold the lock)."""
        drained: Drained = []
        for partition in partitions:
            state = states.states.get(partition)
            if state is not None:
                arrivals, state.arrivals = state.arrivals, []
                drained.append((arrivals, *state.drain()))
        return drained

    async def send(drained: Drained) -> None:
        for arrivals, chunks, stats, dead in drained:
            for chunk in chunks:
                key = chunk_key(chunk.stream, chunk.platform, chunk.partition, chunk.minute)
                await topics.partials.send(key=key, value=encode_chunk(chunk))
            for item in stats:
                await topics.stats.send(key=stats_key(item), value=orjson.dumps(asdict(item)))
            for letter in dead:
                logger.warning(
                    "dead letter p%d@%d: %s %s",
                    letter.partition,
                    letter.offset,
                    letter.code,
                    letter.detail,
                )
                await topics.deadletter.send(
                    key=f"{letter.partition}/{letter.offset}".encode(),
                    value=orjson.dumps(asdict(letter)),
                )
            published = _now_ms()
            for received_at, count in arrivals:
                runtime.latency.add(published, published - received_at, count)
                runtime.rate.add(published, count)

    async def publish_all() -> None:
        async with runtime.lock:
            drained = drain(list(states.states))
        await send(drained)

    def behind_ms() -> int:
        """How long ago the newest record counted since the last publish arrived at ingest."""
        newest = max((s.arrivals[-1][0] for s in states.states.values() if s.arrivals), default=0)
        return _now_ms() - newest if newest else 0

    @app.timer(flush_interval_s)
    async def publish() -> None:
        now = time.monotonic()
        behind = behind_ms()
        interval = publish_interval(behind, flush_interval_s, flush_max_interval_s)
        catching_up = interval > flush_interval_s
        if catching_up != runtime.catching_up:
            runtime.catching_up = catching_up
            if catching_up:
                logger.info("catching up (%.1f s behind): publishing less often", behind / 1000)
            else:
                logger.info("caught up: publishing every %g s", flush_interval_s)
        if catching_up and now - runtime.published_at < interval:
            return  # catching up: publish less often (stream/pacing.py)
        runtime.published_at = now
        await publish_all()

    @app.timer(min(5.0, runtime.checkpoint_interval_s))
    async def checkpoint() -> None:
        store = runtime.checkpoints
        if store is None:
            return
        # Counting waits while a partition is dumped: keep all dumps together under ~10 % of
        # the time (each partition at most every 10x the sum of the last dumps), and dump one
        # partition per tick, the one waiting longest, so counting never stops for several.
        spacing = max(
            runtime.checkpoint_interval_s,
            10 * sum(runtime.dump_s.get(p, 0.0) for p in states.states),
        )
        now = time.monotonic()
        due: list[tuple[float, int]] = []
        for partition, state in states.states.items():
            # The first checkpoint of a partition comes one interval after its state was
            # built, like every later one (not at once while a start-up backlog is counted).
            built_at = states.built_at.get(partition, 0.0)
            done_offset, done_at = states.checkpointed.get(partition, (0, built_at))
            if (
                now - done_at >= spacing
                and state.next_offset - done_offset >= runtime.checkpoint_min_records
            ):
                due.append((done_at, partition))
        if not due:
            return
        partition = min(due)[1]
        state = states.states[partition]
        started = time.monotonic()
        # A consistent cut: counting waits on the lock while a thread serialises, so the
        # event loop (and the consumer's heartbeats) keep running. The offset is read under
        # the lock too: records counted while this waited for it are in the dump, and a
        # manifest naming an older offset than its state's is refused when loading.
        async with runtime.lock:
            if states.states.get(partition) is not state:
                return  # revoked or rebuilt meanwhile
            offset = state.next_offset
            data = await asyncio.to_thread(dump_state, state)
        dumped = time.monotonic() - started
        runtime.dump_s[partition] = dumped
        try:
            manifest = await store.write(partition, offset, data)
        except Exception:  # the next try comes at the next tick; counting goes on
            logger.exception("checkpoint of partition %d failed", partition)
            return
        if states.states.get(partition) is state:  # not revoked while it was written
            states.checkpointed[partition] = (offset, time.monotonic())
        logger.info(
            "checkpoint of partition %d at %d: %d bytes in %d chunks, %.2f s + %.2f s",
            partition,
            offset,
            manifest.size,
            len(manifest.chunks),
            dumped,
            time.monotonic() - started - dumped,
        )

    def owned() -> list[int]:
        consumer = getattr(app, "consumer", None)
        if consumer is None:
            return []
        return sorted(tp.partition for tp in consumer.assignment() if tp.topic == events_topic)

    @app.timer(runtime.metrics_interval_s)
    async def monitor() -> None:
        partitions = owned()
        now = _now_ms()
        lag: dict[int, int] = {}
        if partitions:
            try:
                tps = [tp for tp in app.consumer.assignment() if tp.topic == events_topic]
                highs = await app.consumer.highwaters(*tps)
                for tp, high in highs.items():
                    state = states.states.get(tp.partition)
                    position = state.next_offset if state is not None else 0
                    lag[tp.partition] = max(0, int(high) - position)
            except Exception as exc:  # metrics must never stop the worker
                logger.warning("could not read high watermarks: %s", exc)
        record = pipeline_record(
            runtime.worker,
            now,
            partitions,
            lag,
            runtime.latency.percentiles(now),
            runtime.rate.rate(now),
        )
        await topics.metrics.send(
            key=f"pipeline/{runtime.worker}".encode(), value=orjson.dumps(record)
        )
        await _alerts(0 in partitions, now)

    async def _alerts(responsible: bool, now: int) -> None:
        if not responsible:
            if runtime.monitor is not None:
                await runtime.monitor.stop()
                runtime.monitor = None
            return
        try:
            if runtime.monitor is None:
                monitor = AlertMonitor(
                    runtime.connect,
                    topics.partials.get_topic_name(),
                    topics.stats.get_topic_name(),
                    topics.alerts.get_topic_name(),
                    runtime.rules,
                )
                await monitor.start()
                runtime.monitor = monitor
            await runtime.monitor.poll()
            alerts = runtime.monitor.evaluate(now)
        except Exception:
            logger.exception("alert evaluation failed")
            return
        for alert in alerts:
            logger.info("alert %s: %s", alert.id, alert.message_en)
            await topics.alerts.send(key=alert.id.encode(), value=orjson.dumps(alert.to_json()))
        if alerts and runtime.webhook:
            if runtime.http is None:
                import httpx

                runtime.http = httpx.AsyncClient()
            schedule_webhook(runtime.http, runtime.webhook, alerts)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        # Another worker may advance these partitions: rebuild if they come back. Publish
        # what was counted there first, so that the dashboard does not wait for the next
        # owner's build of the partition to show it.
        partitions = [tp.partition for tp in revoked if tp.topic == events_topic]
        async with runtime.lock:
            runtime.assignment += 1
            drained = drain(partitions)
            states.drop(partitions)
        await send(drained)

    async def restore(partitions: list[int], assignment: int) -> None:
        # Retried with backoff until every partition is built or the assignment is over: the
        # next record is no fallback here, since the point is partitions that get none.
        pending = list(partitions)
        delay = 1.0
        while pending and runtime.assignment == assignment:
            try:
                offsets = await asyncio.wait_for(
                    committed_offsets(runtime.connect, app.conf.id, events_topic, pending),
                    timeout=30,
                )
            except Exception as exc:
                logger.warning("committed offsets of %s not read (%s); retrying", pending, exc)
                offsets = {}
            for partition in [p for p in pending if p in offsets]:
                # One at a time under the lock, like the agent's own rebuilds: whichever comes
                # first builds the state, the other finds it. Never after a revocation: a
                # state built for a partition that moved on would be a second, stale
                # publisher of it.
                async with runtime.lock:
                    if runtime.assignment != assignment:
                        return
                    try:
                        await states.ensure(partition, offsets[partition])
                    except TruncatedLog as exc:
                        logger.critical("%s", exc)
                        await app.crash(exc)
                        return
                    except Exception:
                        logger.exception("building partition %d failed; retrying", partition)
                        continue
                pending.remove(partition)
            if pending:
                await asyncio.sleep(delay)
                delay = min(2 * delay, 30.0)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        # Build the partitions' states now rather than at their next record: the offsets a
        # previous owner committed can be ahead of what it published (commits every second,
        # publishes every flush interval), and a partition that gets no further record
        # would never show those changes. Up to the committed offsets, so that what follows
        # is counted by the agent as usual; in the background, so that the rebalance
        # completes. (Every rebalance revokes and assigns all partitions.)
        partitions = sorted(tp.partition for tp in assigned if tp.topic == events_topic)
        if partitions:
            task = asyncio.ensure_future(restore(partitions, runtime.assignment))
            runtime.restoring.add(task)
            task.add_done_callback(runtime.restoring.discard)

    @app.on_before_shutdown.connect
    async def on_shutdown(sender: Any, **kwargs: Any) -> None:
        # Faust has stopped the consumer (and skips the revocation handler when stopping);
        # the producer is flushed after this. Publish what was counted since the last
        # publish, so that a clean stop leaves nothing for the next owner to catch up.
        for task in list(runtime.restoring):
            task.cancel()
        try:  # bounded: a cluster that is gone must not hold the stop up
            await asyncio.wait_for(publish_all(), timeout=10)
        except Exception as exc:
            logger.warning("could not publish before stopping: %r", exc)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json(
            {
                "status": "ok",
                "worker": runtime.worker,
                "partitions": sorted(states.states),
                "sessions": sum(s.sessions() for s in states.states.values()),
                "rebuilds": states.rebuilds,
                "restored_from_checkpoint": states.restored_from_checkpoint,
                "last_rebuild_s": states.last_rebuild_s,
                "offsets": {str(p): s.next_offset for p, s in sorted(states.states.items())},
                "checkpoints": {str(p): o for p, (o, _) in sorted(states.checkpointed.items())},
                "alerts": runtime.monitor is not None,
            }
        )
