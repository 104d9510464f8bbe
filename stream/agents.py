"""The Faust agent, timers and signal handlers: thin wrappers around the worker's parts."""

from __future__ import annotations

import logging
from typing import Any

from stream.publisher import now_ms
from stream.runtime import Runtime
from stream.states import TruncatedLog
from stream.topics import StreamTopics

__all__ = ["register_agents"]

logger = logging.getLogger(__name__)


def register_agents(app: Any, topics: StreamTopics, runtime: Runtime) -> None:
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

    @app.timer(runtime.publisher.flush_interval_s)
    async def publish() -> None:
        await runtime.publisher.tick()

    checkpointer = runtime.checkpointer
    if checkpointer is not None:

        @app.timer(checkpointer.tick_s)
        async def checkpoint() -> None:
            await checkpointer.tick()

    def events_partitions(tps: Any) -> list[Any]:
        return [tp for tp in tps if tp.topic == events_topic]

    @app.timer(runtime.metrics_interval_s)
    async def monitor() -> None:
        consumer: Any = getattr(app, "consumer", None)
        tps = events_partitions(consumer.assignment()) if consumer is not None else []
        partitions = sorted(tp.partition for tp in tps)
        now = now_ms()
        highs: dict[int, int] = {}
        if tps:
            try:
                highs = {
                    tp.partition: int(h) for tp, h in (await consumer.highwaters(*tps)).items()
                }
            except Exception as exc:  # metrics must never stop the worker
                logger.warning("could not read high watermarks: %s", exc)
        await runtime.publisher.publish_pipeline(runtime.worker, partitions, highs, now)
        await runtime.alerts.tick(0 in partitions, now)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        partitions = [tp.partition for tp in events_partitions(revoked)]
        # The alert duty stops now, not at its next tick: partition 0's next owner may be
        # delivering by then.
        await runtime.alerts.revoked(partitions)
        await runtime.assignment.revoked(partitions)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        runtime.assignment.assigned(sorted(tp.partition for tp in events_partitions(assigned)))

    @app.on_before_shutdown.connect
    async def on_shutdown(sender: Any, **kwargs: Any) -> None:
        # Faust has stopped the consumer (and skips the revocation handler when stopping);
        # the producer is flushed after this. Publish what was counted since the last
        # publish, so that a clean stop leaves nothing for the next owner to catch up.
        runtime.assignment.cancel()
        await runtime.publisher.publish_before_stop(timeout_s=10)
        await runtime.alerts.close()

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
                "alerts": runtime.alerts.active,
                "alerts_pending": runtime.alerts.pending(),
            }
        )
