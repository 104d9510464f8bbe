"""Where a local Kafka cluster lives: node ports, the files under LIVETALLY_HOME, and each
node's server.properties (pure, apart from reading the recorded size)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path

from contract.settings import Settings
from livetally.kafka_secure import NodeSecurity, secure_lines

__all__ = [
    "NodeLayout",
    "kafka_dir",
    "local_servers",
    "log_path",
    "new_cluster_id",
    "node_dir",
    "node_layout",
    "pid_path",
    "props_path",
    "recorded_size",
    "render_properties",
    "replication_lines",
    "servers_text",
    "size_path",
]


@dataclass(frozen=True)
class NodeLayout:
    """Where one local Kafka node listens."""

    node_id: int
    client_port: int
    controller_port: int


def node_layout(base_port: int, brokers: int) -> list[NodeLayout]:
    """Ports of each node: node i listens on base + 2i (clients) and base + 2i + 1 (controller)."""
    if brokers < 1:
        raise ValueError(f"brokers must be at least 1, got {brokers}")
    if not 1 <= base_port <= 65535 - 2 * brokers + 1:
        raise ValueError(f"base port {base_port} leaves no room for {brokers} node(s)")
    return [NodeLayout(i, base_port + 2 * i, base_port + 2 * i + 1) for i in range(brokers)]


def render_properties(
    node: NodeLayout,
    nodes: list[NodeLayout],
    data_dir: Path,
    security: NodeSecurity | None = None,
) -> str:
    """The server.properties of one node of a combined-mode (broker + controller) cluster;
    with ``security``, of a secured one (SASL_SSL, mTLS controllers, ACLs)."""
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
    if security is None:
        listeners = [
            f"listeners=PLAINTEXT://127.0.0.1:{node.client_port},"
            f"CONTROLLER://127.0.0.1:{node.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{node.client_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ]
        trailer = ["auto.create.topics.enable=true"]
    else:
        # secure_lines() ends with auto.create.topics.enable=false: services' users may
        # not create topics, the admin user creates them (contract.topics.ensure_topics).
        listeners = secure_lines(node.client_port, node.controller_port, security)
        trailer = []
    lines = [
        "# Written by livetally; rewritten on every start.",
        "process.roles=broker,controller",
        f"node.id={node.node_id}",
        f"controller.quorum.voters={voters}",
        *listeners,
        f"log.dirs={data_dir}",
        *replication_lines(len(nodes)),
        *trailer,
    ]
    return "\n".join(lines) + "\n"


def replication_lines(nodes: int) -> list[str]:
    """Replication and group defaults of a cluster of ``nodes`` combined-mode nodes: three
    copies and two in sync from three nodes on, else one."""
    replicated = nodes >= 3
    rf = 3 if replicated else 1
    min_isr = 2 if replicated else 1
    return [
        "num.partitions=1",
        f"default.replication.factor={rf}",
        f"min.insync.replicas={min_isr}",
        f"offsets.topic.replication.factor={rf}",
        f"transaction.state.log.replication.factor={rf}",
        f"transaction.state.log.min.isr={min_isr}",
        f"share.coordinator.state.topic.replication.factor={rf}",
        f"share.coordinator.state.topic.min.isr={min_isr}",
        "unclean.leader.election.enable=false",
        "group.initial.rebalance.delay.ms=0",
    ]


def new_cluster_id() -> str:
    """A random KRaft cluster id (a UUID in URL-safe base64, never starting with '-')."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


def kafka_dir(settings: Settings) -> Path:
    """The directory of the local cluster's data, properties and cluster id."""
    return settings.home / "kafka"


def node_dir(settings: Settings, node_id: int) -> Path:
    """One node's directory (its data and server.properties)."""
    return kafka_dir(settings) / f"node-{node_id}"


def pid_path(settings: Settings, node_id: int) -> Path:
    """The pid file of one node."""
    return settings.home / "run" / f"kafka-{node_id}.pid"


def log_path(settings: Settings, node_id: int) -> Path:
    """The log file of one node."""
    return settings.home / "logs" / f"kafka-{node_id}.log"


def props_path(settings: Settings, node_id: int) -> Path:
    """One node's server.properties."""
    return node_dir(settings, node_id) / "server.properties"


def size_path(settings: Settings) -> Path:
    """The file recording how many nodes the cluster was formatted with."""
    return kafka_dir(settings) / "brokers"


def recorded_size(settings: Settings) -> int | None:
    """How many nodes the local cluster under LIVETALLY_HOME was formatted with."""
    try:
        text = size_path(settings).read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def local_servers(nodes: list[NodeLayout]) -> list[str]:
    """The bootstrap servers of local nodes."""
    return [f"127.0.0.1:{n.client_port}" for n in nodes]


def servers_text(nodes: list[NodeLayout]) -> str:
    """The bootstrap servers of local nodes, comma-separated."""
    return ",".join(local_servers(nodes))
