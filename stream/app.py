"""Builds the Faust app of the stream worker and runs it."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from functools import partial
from typing import Any

from contract.topics import CHECKPOINTS, EVENTS, REGISTRY, ensure_topics
from stream.agents import register_agents
from stream.alert_cards import alert_card
from stream.alert_duty import AlertDuty
from stream.alerting import AlertMonitor
from stream.alerts import AlertRules
from stream.allocator import fix_mmap_threshold
from stream.assignment import Assignment
from stream.channels.base import Sink
from stream.channels.dingtalk import DingTalkBot
from stream.channels.feishu import FeishuBot
from stream.channels.webhook import Webhook
from stream.channels.wecom import WeComBot
from stream.checkpointer import Checkpointer
from stream.checkpoints import CheckpointStore
from stream.clients import committed_offsets
from stream.config import StreamConfig, parse_milestones
from stream.deliverer import Deliverer
from stream.metrics import worker_id
from stream.publisher import Publisher
from stream.runtime import Runtime
from stream.sender import Send, topic_sender
from stream.states import PartitionStates
from stream.topics import declare_topics

__all__ = ["create_app", "serve"]

logger = logging.getLogger(__name__)


def alert_sinks(config: StreamConfig) -> list[Sink]:
    """The alert channels the configuration names."""
    sinks: list[Sink] = []
    if config.alert_webhook:
        sinks.append(Webhook(config.alert_webhook, config.alert_webhook_secret))
    if config.alert_wecom_webhook:
        sinks.append(WeComBot(config.alert_wecom_webhook))
    if config.alert_dingtalk_webhook:
        sinks.append(DingTalkBot(config.alert_dingtalk_webhook, config.alert_dingtalk_secret))
    if config.alert_feishu_webhook:
        sinks.append(FeishuBot(config.alert_feishu_webhook, config.alert_feishu_secret))
    return sinks


class _LazyClient:
    """One ``httpx.AsyncClient`` for every delivery, created at the first one."""

    def __init__(self) -> None:
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient()
        return self._client

    async def aclose(self) -> None:
        """Close the client, if one was created (the next call creates another)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def alert_duty(
    config: StreamConfig, new_monitor: Callable[[], AlertMonitor], send: Send
) -> AlertDuty:
    """The alert duty, delivering to the configured channels (if any)."""
    sinks = alert_sinks(config)
    if not sinks:
        return AlertDuty(new_monitor, send)
    client = _LazyClient()
    return AlertDuty(
        new_monitor,
        send,
        partial(Deliverer, sinks, send, client),
        partial(alert_card, lang=config.alert_lang, dashboard_url=config.dashboard_url),
        close=client.aclose,
    )


def create_app(config: StreamConfig) -> Any:
    """A Faust app wired with the livetally agents, for ``config``'s cluster."""
    import faust

    kafka = config.shared.kafka
    datadir = config.shared.home / "worker"
    app = faust.App(
        config.app_id,
        broker=[f"kafka://{server}" for server in kafka.servers],
        broker_credentials=kafka.security.faust_credentials(),
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
        # A worker killed with -9 holds its partitions until its session expires: keep that
        # short so a restarted or surviving worker takes over within seconds, not a minute.
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 4),
    )
    connect = kafka.client_options()
    store = CheckpointStore(connect, kafka.topic(CHECKPOINTS), config.checkpoint_chunk_bytes)
    states = PartitionStates(connect, kafka.topic(EVENTS), store)
    every, extra = parse_milestones(config.milestones)
    rules = AlertRules(
        drop_ratio=config.drop_ratio,
        drop_window_s=config.drop_window_s,
        drop_min_viewers=config.drop_min_viewers,
        milestone_every=every,
        milestones=extra,
    )
    topics = declare_topics(app, config)
    send = topic_sender(topics)
    lock = asyncio.Lock()
    publisher = Publisher(states, lock, send, config.flush_interval_s, config.flush_max_interval_s)
    events = topics.events.get_topic_name()
    new_monitor = partial(
        AlertMonitor,
        connect,
        topics.partials.get_topic_name(),
        topics.stats.get_topic_name(),
        topics.alerts.get_topic_name(),
        rules,
        registry_topic=kafka.topic(REGISTRY),
        deliveries_topic=topics.deliveries.get_topic_name(),
    )
    runtime = Runtime(
        worker=worker_id(config.app_id, socket.gethostname(), os.getpid()),
        states=states,
        lock=lock,
        publisher=publisher,
        assignment=Assignment(
            states,
            lock,
            publisher,
            partial(committed_offsets, connect, config.app_id, events),
            app.crash,
        ),
        alerts=alert_duty(config, new_monitor, send),
        checkpointer=Checkpointer(
            states,
            store,
            lock,
            config.checkpoint_interval_s,
            config.checkpoint_min_records,
        ),
        metrics_interval_s=config.metrics_interval_s,
    )
    register_agents(app, topics, runtime)
    return app


def serve(config: StreamConfig) -> None:
    """Create the topics if needed and run the worker until it is stopped."""
    from faust import Worker

    from contract.kafka_login import check_login

    if config.mmap_threshold_bytes:
        fix_mmap_threshold(config.mmap_threshold_bytes)
    check_login(config.shared.kafka)
    ensure_topics(config.shared.kafka)
    (config.shared.home / "worker").mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    Worker(app, loglevel="info").execute_from_commandline()
