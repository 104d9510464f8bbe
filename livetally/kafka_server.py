"""A local Apache Kafka (KRaft) for livetally: jars from Maven Central, 1 or 3 nodes, plain
or secured (SASL_SSL, mutual-TLS controllers, ACLs; see ``livetally.kafka_secure``).

The names here are kept for the code and tests that import them from this module; the
work is done in ``kafka_install`` (Java, Maven, jars), ``kafka_layout`` (ports, paths,
properties) and ``kafka_cluster`` (start, stop, status).
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
from livetally.kafka_cluster import describe as _describe
from livetally.kafka_install import (
    MIN_JAVA,
    ensure_libs,
    kafka_version,
    libs_dir,
    parse_java_major,
)
from livetally.kafka_install import log4j_config as _log4j_config
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
    "_describe",
    "_log4j_config",
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
