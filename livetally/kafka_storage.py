"""A local cluster's storage: its cluster id, each node's properties and formatted data."""

from __future__ import annotations

import subprocess
from pathlib import Path

from contract.settings import Settings
from livetally.exceptions import KafkaUnavailable, LivetallyError
from livetally.kafka_install import log4j_config
from livetally.kafka_layout import (
    NodeLayout,
    kafka_dir,
    new_cluster_id,
    node_dir,
    props_path,
    recorded_size,
    render_properties,
    size_path,
)
from livetally.kafka_secure import NodeSecurity
from livetally.kafka_tls import write_private
from livetally.kafka_users import read_credentials, scram_arguments

__all__ = ["cluster_id", "format_storage", "formatted", "jvm_options", "write_properties"]


def cluster_id(settings: Settings) -> str:
    path = kafka_dir(settings) / "cluster.id"
    try:
        cid = path.read_text(encoding="ascii").strip()
    except OSError:
        cid = ""
    if not cid:
        cid = new_cluster_id()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cid + "\n", encoding="ascii")
    return cid


def jvm_options(settings: Settings, node_id: int, brokers: int) -> list[str]:
    heap = "-Xmx512m" if brokers == 1 else "-Xmx384m"
    return [
        heap,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j_config()}",
        f"-Dkafka.logs.dir={node_dir(settings, node_id)}",
    ]


def formatted(settings: Settings) -> bool:
    """Whether any node's storage under LIVETALLY_HOME has been formatted."""
    return any(kafka_dir(settings).glob("node-*/data/meta.properties"))


def format_storage(
    settings: Settings, java: str, libs: Path, nodes: list[NodeLayout], secure: bool
) -> None:
    """Format the storage of each node not formatted yet (in parallel: each is a JVM).

    A secured cluster's SCRAM users go into the bootstrap metadata here: the brokers need
    their own to reach each other before any admin client could create one.
    """
    users = scram_arguments(read_credentials(settings.home)) if secure else []
    todo = [
        n
        for n in nodes
        if not (node_dir(settings, n.node_id) / "data" / "meta.properties").exists()
    ]
    cid = cluster_id(settings)
    runs: list[tuple[Path, subprocess.Popen[str]]] = []
    for node in todo:
        argv = [
            java,
            *jvm_options(settings, node.node_id, len(nodes)),
            "-cp",
            f"{libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cid,
            "-c",
            str(props_path(settings, node.node_id)),
            *users,
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        runs.append((node_dir(settings, node.node_id) / "data", proc))
    failures = []
    for data, proc in runs:
        output, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(f"{data}: {output[-1500:]}")
    if failures:
        raise KafkaUnavailable("formatting Kafka storage failed:\n" + "\n".join(failures))


def write_properties(
    settings: Settings, nodes: list[NodeLayout], security: NodeSecurity | None
) -> None:
    """Write each node's properties; refuse to reuse data formatted for another size."""
    recorded = recorded_size(settings)
    if recorded is not None and recorded != len(nodes):
        raise LivetallyError(
            f"the Kafka data in {kafka_dir(settings)} belongs to a {recorded}-broker "
            f"cluster; start it with --brokers {recorded}, or delete that directory "
            f"to start afresh with {len(nodes)} broker(s) (its topics are lost)."
        )
    for node in nodes:
        data = node_dir(settings, node.node_id) / "data"
        data.mkdir(parents=True, exist_ok=True)
        text = render_properties(node, nodes, data, security)
        if security is None:
            props_path(settings, node.node_id).write_text(text, encoding="utf-8")
        else:  # it holds the brokers' password
            write_private(props_path(settings, node.node_id), text.encode("utf-8"))
    size_path(settings).write_text(f"{len(nodes)}\n", encoding="ascii")
