"""livetally's Kafka topics: their names, their settings, and creating them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from contract.settings import KafkaSettings

__all__ = ["TopicSpec", "ensure_topics", "topic_specs"]

logger = logging.getLogger(__name__)

EVENTS = "events"
"""Accepted viewer events, packed several to a record, keyed by viewer."""
REGISTRY = "registry"
"""Streams, partners and dashboard tokens (compacted; the latest record per key wins)."""
PARTIALS = "partials"
"""Per-partition, per-minute chunks of per-second count changes (compacted)."""
STATS = "stats"
"""Per-partition, per-partner monitor figures: newest event, arrival, event counts (compacted)."""
DEADLETTER = "deadletter"
"""Records and events the stream app could not accept, with the reason."""
ALERTS = "alerts"
"""Alerts raised by the stream app, keyed by alert id."""
DELIVERIES = "deliveries"
"""How each alert's delivery to each channel (group bots, webhook) ended, keyed
``channel/alert_id`` (compacted, and kept a day: only the last 5 minutes matter)."""
METRICS = "metrics"
"""Pipeline and ingest monitor figures (compacted): ``pipeline/<worker>``, ``ingest/<...>``."""
CHECKPOINTS = "checkpoints"
"""Stream worker checkpoints of partition state (compacted): ``p<partition>/manifest`` and
chunks ``p<partition>/<epoch>/<i>`` (see ``stream/checkpoints.py``)."""
CHECKPOINT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest record the checkpoints topic takes (a checkpoint chunk is at most 15 MiB)."""

_MONTH_MS = 30 * 24 * 3600 * 1000
_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic and how it is created."""

    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(kafka: KafkaSettings) -> list[TopicSpec]:
    """Every topic livetally uses, with its partition count and configuration."""
    replicated = {"min.insync.replicas": "2"} if kafka.replication_factor >= 3 else {}
    replicated["unclean.leader.election.enable"] = "false"
    compacted = {"cleanup.policy": "compact", **replicated}
    kept = {"cleanup.policy": "delete", "retention.ms": str(_MONTH_MS), **replicated}
    return [
        TopicSpec(kafka.topic(EVENTS), kafka.partitions, kept),
        TopicSpec(kafka.topic(REGISTRY), 1, compacted),
        TopicSpec(kafka.topic(PARTIALS), kafka.partitions, compacted),
        TopicSpec(kafka.topic(STATS), 1, compacted),
        TopicSpec(kafka.topic(DEADLETTER), 1, kept),
        TopicSpec(kafka.topic(ALERTS), 1, kept),
        TopicSpec(
            kafka.topic(DELIVERIES),
            1,
            {**compacted, "cleanup.policy": "compact,delete", "retention.ms": str(_DAY_MS)},
        ),
        TopicSpec(kafka.topic(METRICS), 1, compacted),
        TopicSpec(
            kafka.topic(CHECKPOINTS),
            kafka.partitions,
            {
                **compacted,
                "max.message.bytes": str(CHECKPOINT_MAX_MESSAGE_BYTES),
                # Replaced checkpoints are tombstoned; let the cleaner reclaim them soon.
                "segment.ms": str(10 * 60 * 1000),
                "min.cleanable.dirty.ratio": "0.1",
                "delete.retention.ms": str(10 * 60 * 1000),
            },
        ),
    ]


def ensure_topics(kafka: KafkaSettings, *, timeout_s: float = 60.0) -> list[str]:
    """Create whichever of livetally's topics do not exist yet; return the names created.

    A cluster that has just started may refuse connections to a node for a moment after it
    registered, so connection errors are retried until ``timeout_s`` has passed.
    """
    from kafka.errors import (
        AuthorizationError,
        BrokerNotAvailableError,
        KafkaConnectionError,
        KafkaTimeoutError,
        SaslAuthenticationFailedError,
    )

    from contract.kafka_login import KafkaLoginError, explain

    deadline = time.monotonic() + timeout_s
    created: list[str] = []
    while True:
        try:
            created += _create_missing(kafka)
            return created
        except (AuthorizationError, SaslAuthenticationFailedError) as exc:
            reason = explain(exc, kafka) or str(exc)
            raise KafkaLoginError(
                f"{reason}. Some of livetally's topics are missing and this user may not "
                "create them: create them once as an admin user (`livetally kafka setup` "
                "with admin credentials, or `livetally up` on a local cluster)"
            ) from None
        except (KafkaConnectionError, KafkaTimeoutError, BrokerNotAvailableError) as exc:
            if time.monotonic() > deadline:
                raise
            logger.info("Kafka not ready to create topics (%s); retrying", type(exc).__name__)
            time.sleep(1.0)


def _create_missing(kafka: KafkaSettings) -> list[str]:
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**kafka.client_options(), client_id="livetally-admin")
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in topic_specs(kafka) if spec.name not in existing]
        created: list[str] = []
        for spec in missing:
            topic = NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=kafka.replication_factor,
                topic_configs=spec.config,
            )
            try:
                admin.create_topics([topic])
                created.append(spec.name)
                logger.info("created topic %s", spec.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
