"""The local Kafka cluster's lifecycle: format, start, wait until it answers, stop, status.

Nothing here prints: ``start`` and ``stop`` return what they did and the CLI says it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from contract.settings import Settings
from livetally import pidfiles
from livetally.exceptions import KafkaUnavailable, LivetallyError, MissingRequirement
from livetally.kafka_install import (
    Progress,
    ensure_libs,
    find_java,
    kafka_version,
    libs_dir,
    libs_ready,
)
from livetally.kafka_layout import (
    NodeLayout,
    kafka_dir,
    local_servers,
    log_path,
    node_layout,
    pid_path,
    props_path,
    recorded_size,
    servers_text,
)
from livetally.kafka_probe import apply_acls, describe, port_open
from livetally.kafka_secure import prepare_security
from livetally.kafka_storage import (
    format_storage,
    formatted,
    jvm_options,
    write_properties,
)
from livetally.kafka_users import (
    admin_security,
    credentials_path,
    is_secure,
)

__all__ = [
    "START_TIMEOUT_S",
    "STOP_TIMEOUT_S",
    "Started",
    "Stopped",
    "describe",
    "ensure_running",
    "local_size",
    "node_pids",
    "start",
    "status",
    "stop",
]


START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Started:
    """A local cluster that answers, as ``start`` left it."""

    brokers: int
    servers: str
    """Bootstrap servers, comma-separated."""
    secured: bool
    home: Path
    already_running: bool = False
    secured_by_home: bool = False
    """Started secured although not asked to: the home's cluster was made secure before."""
    version: str = ""
    """The Kafka version started ('' when it was running already)."""

    def __str__(self) -> str:
        lines = []
        if self.secured_by_home:
            lines.append(
                f"The local Kafka under {self.home} is a secured one (SASL_SSL + ACLs); "
                "starting it secured."
            )
        if self.already_running:
            lines.append(f"Kafka is already running ({self.brokers} broker(s), {self.servers}).")
        else:
            mode = (
                f"secured (SASL_SSL, credentials in {credentials_path(self.home)})"
                if self.secured
                else "PLAINTEXT"
            )
            lines.append(
                f"Apache Kafka {self.version} is running: {self.brokers} broker(s) at "
                f"{self.servers}, {mode} (logs in {self.home / 'logs'})."
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Stopped:
    """The local nodes ``stop`` stopped."""

    nodes: tuple[int, ...]
    """Ids of the nodes that were running."""
    killed: tuple[int, ...]
    """Pids that did not stop in time and were killed."""
    home: Path

    def __str__(self) -> str:
        lines = []
        if self.killed:
            lines.append(
                f"Kafka node(s) with pid {list(self.killed)} did not stop in time and were killed."
            )
        if self.nodes:
            lines.append(f"Stopped Kafka node(s) {list(self.nodes)} under {self.home}.")
        else:
            lines.append("No local Kafka of livetally's is running.")
        return "\n".join(lines)


# --- local nodes ----------------------------------------------------------------------


def local_size(settings: Settings) -> int | None:
    """How many nodes the local cluster under ``settings.home`` has (None: none yet)."""
    return recorded_size(settings)


def _markers(settings: Settings, node_id: int) -> list[str]:
    return ["kafka.Kafka", str(props_path(settings, node_id))]


def node_pids(settings: Settings) -> dict[int, int]:
    """node id -> pid of each local node of ours that is alive."""
    found: dict[int, int] = {}
    run = settings.home / "run"
    for pid_file in sorted(run.glob("kafka-*.pid")) if run.is_dir() else []:
        suffix = pid_file.stem.removeprefix("kafka-")
        if not suffix.isdigit():
            continue
        pid = pidfiles.owned_pid(pid_file, _markers(settings, int(suffix)))
        if pid is not None:
            found[int(suffix)] = pid
    return found


def _secure_mode(settings: Settings, secure: bool) -> bool:
    """Whether to start the home's cluster secured: once secured, always; never a cluster
    formatted without security (its metadata holds neither users nor ACLs)."""
    if is_secure(settings):
        return True
    if secure and formatted(settings):
        raise LivetallyError(
            f"the Kafka data in {kafka_dir(settings)} was formatted without security, and "
            "a cluster cannot be secured afterwards; use a fresh LIVETALLY_HOME, or delete "
            f"{kafka_dir(settings)} to start afresh secured (its topics are lost)."
        )
    return secure


def start(
    settings: Settings, brokers: int = 1, secure: bool = False, progress: Progress | None = None
) -> Started:
    """Start a local KRaft cluster of ``brokers`` nodes and wait until every node answers.

    ``secure`` sets up a secured cluster (TLS, SCRAM users, ACLs; see
    ``livetally.kafka_secure``) in a fresh home; a home once secured always starts secured.
    ``progress`` hears about the one-time download of the jars (``ensure_libs``).
    """
    if settings.kafka.external:
        raise LivetallyError(
            f"LIVETALLY_BOOTSTRAP={settings.kafka.bootstrap} is set, so livetally uses that "
            "cluster and does not start one; unset it to run a local broker."
        )
    if brokers not in (1, 3):
        raise LivetallyError(f"--brokers must be 1 or 3, got {brokers}")
    nodes = node_layout(settings.kafka.port, brokers)
    secured = _secure_mode(settings, secure)
    report = Started(
        brokers=brokers,
        servers=servers_text(nodes),
        secured=secured,
        home=settings.home,
        secured_by_home=secured and not secure,
    )
    running = node_pids(settings)
    if running:
        size = recorded_size(settings)
        if size == brokers and len(running) == brokers:
            _wait_answering(settings, nodes, running, timeout_s=START_TIMEOUT_S)
            if secured:
                apply_acls(settings, nodes)
            return replace(report, already_running=True)
        what = (
            f"a {size}-broker local Kafka is running"
            if size == len(running)
            else f"{len(running)} of the {size or '?'} local Kafka brokers are running"
        )
        raise LivetallyError(
            f"{what} under {settings.home}; run `livetally kafka stop` first, then start "
            f"{brokers} broker(s)."
        )
    for node in nodes:
        for port in (node.client_port, node.controller_port):
            if port_open(port):
                raise KafkaUnavailable(
                    f"port {port} is already in use by another program; stop it or choose "
                    "other ports with LIVETALLY_KAFKA_PORT (or use that Kafka with "
                    "LIVETALLY_BOOTSTRAP)."
                )
    java = find_java()
    libs = ensure_libs(progress)
    write_properties(settings, nodes, prepare_security(settings) if secured else None)
    format_storage(settings, java, libs, nodes, secured)
    started: dict[int, int] = {}
    for node in nodes:
        argv = [
            java,
            *jvm_options(settings, node.node_id, brokers),
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(props_path(settings, node.node_id)),
        ]
        started[node.node_id] = pidfiles.spawn(
            argv,
            log_path=log_path(settings, node.node_id),
            pid_path=pid_path(settings, node.node_id),
        )
    try:
        _wait_answering(settings, nodes, started, timeout_s=START_TIMEOUT_S)
        if secured:
            apply_acls(settings, nodes)
    except KafkaUnavailable:
        stop(settings)
        raise
    return replace(report, version=kafka_version())


def _wait_answering(
    settings: Settings, nodes: list[NodeLayout], pids: dict[int, int], timeout_s: float
) -> None:
    """Wait until every node is registered with our cluster id; fail early if one dies."""
    expected = {n.node_id for n in nodes}
    expected_id = (kafka_dir(settings) / "cluster.id").read_text(encoding="ascii").strip()
    deadline = time.monotonic() + timeout_s
    seen: set[int] = set()
    while True:
        for node_id, pid in pids.items():
            if pidfiles.process_cmdline(pid) is None:
                log = log_path(settings, node_id)
                raise KafkaUnavailable(
                    f"Kafka node {node_id} exited during startup; see {log}:\n"
                    f"{pidfiles.tail(log, 15)}"
                )
        info = describe(local_servers(nodes), 3.0, admin_security(settings))
        if info is not None:
            if info.get("cluster_id") != expected_id:
                raise KafkaUnavailable(
                    f"another Kafka cluster (id {info.get('cluster_id')}) answers on "
                    f"{servers_text(nodes)}; choose other ports with LIVETALLY_KAFKA_PORT."
                )
            seen = {int(b["broker_id"]) for b in info.get("brokers", [])}
            if expected <= seen:
                return
        if time.monotonic() >= deadline:
            logs = ", ".join(str(log_path(settings, n.node_id)) for n in nodes)
            missing = sorted(expected - seen)
            raise KafkaUnavailable(
                f"Kafka did not answer within {timeout_s:.0f} s (nodes not registered: "
                f"{missing}); see {logs}"
            )
        time.sleep(0.5)


def stop(settings: Settings) -> Stopped:
    """Stop the local nodes livetally started under LIVETALLY_HOME (SIGTERM, then SIGKILL);
    the report says what was stopped (nothing is printed)."""
    run = settings.home / "run"
    pid_files = sorted(run.glob("kafka-*.pid")) if run.is_dir() else []
    running = node_pids(settings)
    killed: list[int] = []
    if running:
        killed = list(pidfiles.terminate_group(list(running.values()), STOP_TIMEOUT_S))
    for pid_file in pid_files:
        pid_file.unlink(missing_ok=True)
    return Stopped(nodes=tuple(sorted(running)), killed=tuple(killed), home=settings.home)


def status(settings: Settings) -> str:
    """The Kafka version, whether the local cluster is secured (and where its credentials
    are), and one line per local node (id, pid, ports, running, answering)."""
    if settings.kafka.external:
        answers = describe(settings.kafka.servers, security=settings.kafka.security) is not None
        state = "answers" if answers else "does NOT answer"
        return (
            f"Kafka: external cluster LIVETALLY_BOOTSTRAP={settings.kafka.bootstrap} "
            f"({state}); livetally does not start or stop it."
        )
    try:
        version = f"Apache Kafka {kafka_version()}"
        jars = libs_dir()
        where = f"jars in {jars}" if libs_ready(jars) else "jars not downloaded yet"
    except MissingRequirement as exc:
        version, where = "Apache Kafka (version unknown)", str(exc)
    size = recorded_size(settings)
    if size is None:
        return f"{version} ({where}); no local cluster under {settings.home} yet."
    nodes = node_layout(settings.kafka.port, size)
    running = node_pids(settings)
    security = admin_security(settings)
    info = describe(local_servers(nodes), 3.0, security) if running else None
    registered = {int(b["broker_id"]) for b in (info or {}).get("brokers", [])}
    if security.sasl:
        mode = (
            f"secured: {security.protocol} ({security.mechanism}) + ACLs, "
            f"credentials in {credentials_path(settings.home)}"
        )
    else:
        mode = "not secured: PLAINTEXT, no authentication or ACLs"
    lines = [f"{version} ({where}), {size} broker(s) under {kafka_dir(settings)}; {mode}"]
    for node in nodes:
        pid = running.get(node.node_id)
        state = "running" if pid else "stopped"
        answer = "answering" if node.node_id in registered else "not answering"
        lines.append(
            f"  kafka node {node.node_id}  pid {pid or '-':>7}  port {node.client_port} "
            f"(controller {node.controller_port})  {state}  {answer}"
        )
    return "\n".join(lines)


def ensure_running(settings: Settings, progress: Progress | None = None) -> Started | None:
    """Make sure Kafka answers: check an external cluster (None), else start the local one
    (one broker unless the home holds a cluster of another size; secured if the home is)."""
    if settings.kafka.external:
        if describe(settings.kafka.servers, security=settings.kafka.security) is None:
            raise KafkaUnavailable(
                f"the Kafka cluster at LIVETALLY_BOOTSTRAP={settings.kafka.bootstrap} "
                "does not answer; check the address and that the brokers are up."
            )
        return None
    running = node_pids(settings)
    size = recorded_size(settings)
    if running and size is not None:
        nodes = node_layout(settings.kafka.port, size)
        if len(running) == size:
            _wait_answering(settings, nodes, running, timeout_s=START_TIMEOUT_S)
            secured = is_secure(settings)
            return Started(
                brokers=size,
                servers=servers_text(nodes),
                secured=secured,
                home=settings.home,
                already_running=True,
            )
    brokers = size if size in (1, 3) and not running else 1
    return start(settings, brokers=brokers, secure=is_secure(settings), progress=progress)
