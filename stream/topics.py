"""The Faust topics of the stream app (raw bytes; the contract modules do the encoding)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract import topics as names
from stream.config import StreamConfig

__all__ = ["StreamTopics", "declare_topics"]


@dataclass(frozen=True)
class StreamTopics:
    """The topics the worker reads and writes."""

    events: Any
    partials: Any
    stats: Any
    deadletter: Any
    metrics: Any
    alerts: Any
    deliveries: Any


def declare_topics(app: Any, config: StreamConfig) -> StreamTopics:
    """Declare the topics on a Faust app (they are created by ``contract.topics``)."""
    kafka = config.shared.kafka

    def raw(name: str) -> Any:
        return app.topic(kafka.topic(name), key_serializer="raw", value_serializer="raw")

    return StreamTopics(
        events=raw(names.EVENTS),
        partials=raw(names.PARTIALS),
        stats=raw(names.STATS),
        deadletter=raw(names.DEADLETTER),
        metrics=raw(names.METRICS),
        alerts=raw(names.ALERTS),
        deliveries=raw(names.DELIVERIES),
    )
