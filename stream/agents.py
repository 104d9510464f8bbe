"""The Faust agent and timer: thin wrappers that hand records to the pure counting code."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import orjson

from stream.merge import chunk_key, encode_chunk
from stream.partition_state import PlatformStats
from stream.states import PartitionStates
from stream.topics import StreamTopics

__all__ = ["register_agents", "stats_key"]

logger = logging.getLogger(__name__)


def stats_key(stats: PlatformStats) -> bytes:
    """The compacted-topic key of one partition's monitor figures for a partner."""
    return f"{stats.stream}\x1f{stats.platform}\x1f{stats.partition}".encode()


def register_agents(
    app: Any, topics: StreamTopics, states: PartitionStates, flush_interval_s: float
) -> None:
    """Attach the aggregating agent, the publishing timer and the health page to ``app``."""

    @app.agent(topics.events, name="aggregate")
    async def aggregate(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            state = await states.state_for(message.partition, message.offset)
            state.apply_record(message.offset, message.value)

    @app.timer(flush_interval_s)
    async def publish() -> None:
        for state in list(states.states.values()):
            chunks, stats, dead = state.drain()
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

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        # Another worker may advance these partitions: rebuild if they come back.
        states.drop(tp.partition for tp in revoked if tp.topic == topics.events.get_topic_name())

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json(
            {
                "status": "ok",
                "partitions": sorted(states.states),
                "sessions": sum(s.sessions() for s in states.states.values()),
                "rebuilds": states.rebuilds,
            }
        )
