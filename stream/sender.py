"""How the worker's parts send a record: one callable taking a topic, a key and a value."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from stream.topics import StreamTopics

__all__ = ["Send", "Topic", "topic_sender"]

Topic = Literal["partials", "stats", "deadletter", "metrics", "alerts", "deliveries"]
"""The topics the worker writes, by their field name on ``StreamTopics``."""

Send = Callable[[Topic, bytes, bytes], Awaitable[None]]
"""``await send(topic, key, value)``: hand one record to the producer."""


def topic_sender(topics: StreamTopics) -> Send:
    """A ``Send`` writing to the Faust topics of the app."""

    async def send(topic: Topic, key: bytes, value: bytes) -> None:
        await getattr(topics, topic).send(key=key, value=value)

    return send
