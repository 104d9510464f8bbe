"""A local Apache Kafka (KRaft) for livetally: jars from Maven Central, 1 or 3 nodes, plain
or secured (SASL_SSL, mutual-TLS controllers, ACLs; see ``livetally.kafka_secure``).

What the CLI, the benchmark stack and the tests use, in one import. The work is done in
``kafka_install`` (Java, Maven, jars), ``kafka_layout`` (ports, paths, properties),
``kafka_storage`` (cluster id, formatting), ``kafka_probe`` (does it answer, ACLs) and
``kafka_cluster`` (start, stop, status).
"""

from __future__ import annotations

from livetally.kafka_cluster import (
    Started,
    Stopped,
    ensure_running,
    local_size,
    start,
    status,
    stop,
)
from livetally.kafka_install import (
    MIN_JAVA,
    ensure_libs,
    kafka_version,
    libs_dir,
    parse_java_major,
)
from livetally.kafka_layout import (
    NodeLayout,
    new_cluster_id,
    node_layout,
    render_properties,
    replication_lines,
)
from livetally.kafka_users import admin_security, is_secure

__all__ = [
    "MIN_JAVA",
    "NodeLayout",
    "Started",
    "Stopped",
    "admin_security",
    "ensure_libs",
    "ensure_running",
    "is_secure",
    "kafka_version",
    "libs_dir",
    "local_size",
    "new_cluster_id",
    "node_layout",
    "parse_java_major",
    "render_properties",
    "replication_lines",
    "start",
    "status",
    "stop",
]
