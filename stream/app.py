"""Builds the Faust app of the stream worker and runs it."""

from __future__ import annotations

import logging
from typing import Any

from contract.topics import EVENTS, ensure_topics
from stream.agents import register_agents
from stream.config import StreamConfig
from stream.states import PartitionStates
from stream.topics import declare_topics

__all__ = ["create_app", "serve"]

logger = logging.getLogger(__name__)


def create_app(config: StreamConfig) -> Any:
    """A Faust app wired with the livetally agents, for ``config``'s cluster."""
    import faust

    kafka = config.shared.kafka
    datadir = config.shared.home / "worker"
    app = faust.App(
        config.app_id,
        broker=[f"kafka://{server}" for server in kafka.servers],
        store="memory://",
        datadir=str(datadir),
        web_enabled=True,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=config.web_port,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        topic_disable_leader=True,
        stream_wait_empty=False,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
    )
    states = PartitionStates(kafka.servers, kafka.topic(EVENTS))
    register_agents(app, declare_topics(app, config), states, config.flush_interval_s)
    return app


def serve(config: StreamConfig) -> None:
    """Create the topics if needed and run the worker until it is stopped."""
    from faust import Worker

    ensure_topics(config.shared.kafka)
    (config.shared.home / "worker").mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    Worker(app, loglevel="info").execute_from_commandline()
