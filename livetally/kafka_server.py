"""A local Apache Kafka (KRaft) for livetally: jars from Maven Central, 1 or 3 nodes, plain
or secured (SASL_SSL, mutual-TLS controllers, ACLs; see ``livetally.kafka_secure``)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import re
import shutil
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from contract.kafka_auth import KafkaSecurity
from contract.settings import Settings
from livetally import pidfiles
from livetally.exceptions import KafkaUnavailable, LivetallyError, MissingRequirement
from livetally.kafka_acls import grant_services
from livetally.kafka_secure import NodeSecurity, prepare_security, secure_lines
from livetally.kafka_tls import write_private
from livetally.kafka_users import (
    admin_security,
    credentials_path,
    is_secure,
    read_credentials,
    scram_arguments,
)

__all__ = [
    "NodeLayout",
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

logger = logging.getLogger(__name__)

MIN_JAVA = 17
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
_MARKER = ".complete"
_INSTALL_HINT = (
    "On Debian/Ubuntu: `apt-get install openjdk-17-jre-headless maven`; on macOS: "
    "`brew install openjdk@17 maven`. Or skip the local broker altogether: "
    "`docker compose up` runs Kafka and every livetally service in containers, and "
    "LIVETALLY_BOOTSTRAP=host:port points livetally at a Kafka cluster you already run."
)


# --- pure helpers ---------------------------------------------------------------------


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


def parse_java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output ("1.8.0_392" -> 8, "17.0.9" -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:
        return int(match.group(2))
    return major


def new_cluster_id() -> str:
    """A random KRaft cluster id (a UUID in URL-safe base64, never starting with '-')."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


# --- where things are -----------------------------------------------------------------


def _repo_root() -> Path:
    """The livetally checkout: the parent of the ``livetally`` package directory."""
    return Path(__file__).resolve().parent.parent


def _pom() -> Path:
    pom = _repo_root() / "infra" / "kafka" / "pom.xml"
    if not pom.is_file():
        raise MissingRequirement(
            f"{pom} is missing: the local Kafka needs a livetally source checkout "
            "(pip install -e .). In containers use `docker compose up`, or set "
            "LIVETALLY_BOOTSTRAP to an existing Kafka cluster."
        )
    return pom


def _log4j_config() -> Path:
    return _repo_root() / "infra" / "kafka" / "log4j2.properties"


def kafka_version() -> str:
    """The Apache Kafka version livetally runs, read from ``infra/kafka/pom.xml``."""
    root = ET.parse(_pom()).getroot()  # noqa: S314 - our own file, not untrusted input
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    element = root.find("m:properties/m:kafka.version", ns)
    if element is None or not (element.text or "").strip():
        raise MissingRequirement(f"{_pom()} sets no <kafka.version> property")
    return (element.text or "").strip()


def libs_dir() -> Path:
    """The shared cache directory holding the Kafka jars (it may not be filled yet)."""
    cache = Path(platformdirs.user_cache_dir("livetally"))
    return cache / f"kafka-{kafka_version()}" / "libs"


def _kafka_dir(settings: Settings) -> Path:
    return settings.home / "kafka"


def _node_dir(settings: Settings, node_id: int) -> Path:
    return _kafka_dir(settings) / f"node-{node_id}"


def _pid_path(settings: Settings, node_id: int) -> Path:
    return settings.home / "run" / f"kafka-{node_id}.pid"


def _log_path(settings: Settings, node_id: int) -> Path:
    return settings.home / "logs" / f"kafka-{node_id}.log"


def _props_path(settings: Settings, node_id: int) -> Path:
    return _node_dir(settings, node_id) / "server.properties"


def _size_path(settings: Settings) -> Path:
    return _kafka_dir(settings) / "brokers"


# --- requirements and jars ------------------------------------------------------------


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise MissingRequirement(
            f"Java {MIN_JAVA}+ is needed to run the local Kafka broker, and `java` is not "
            f"on the PATH. {_INSTALL_HINT}"
        )
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingRequirement(f"`java -version` failed ({exc}). {_INSTALL_HINT}") from exc
    major = parse_java_major(out.stderr + out.stdout)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major is not None else "an unrecognised Java"
        raise MissingRequirement(
            f"Java {MIN_JAVA}+ is needed to run Apache Kafka {kafka_version()}, "
            f"but `java` is {found}. {_INSTALL_HINT}"
        )
    return java


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingRequirement(
            "Maven (`mvn`) is needed once, to download Apache Kafka's jars from Maven "
            f"Central into {libs_dir()}, and it is not on the PATH. {_INSTALL_HINT}"
        )
    try:
        out = subprocess.run([mvn, "-v"], capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingRequirement(f"`mvn -v` failed ({exc}). {_INSTALL_HINT}") from exc
    if out.returncode != 0:
        raise MissingRequirement(f"`mvn -v` failed: {out.stderr.strip()} {_INSTALL_HINT}")
    return mvn


def _pom_digest() -> str:
    return hashlib.sha256(_pom().read_bytes()).hexdigest()


def _libs_ready(libs: Path) -> bool:
    marker = libs / _MARKER
    try:
        return marker.read_text(encoding="ascii").strip() == _pom_digest()
    except OSError:
        return False


def ensure_libs() -> Path:
    """Download the Kafka jars with Maven unless they are cached already; return their dir.

    The cache is shared by every LIVETALLY_HOME on the machine; a marker holding the
    pom's digest is written last, so an interrupted download is redone.
    """
    libs = libs_dir()
    if _libs_ready(libs):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with _locked(libs.parent / "download.lock"):
        if _libs_ready(libs):  # another process finished it while we waited
            return libs
        mvn = _mvn()
        if libs.exists():
            shutil.rmtree(libs)
        print(f"Downloading Apache Kafka {kafka_version()} from Maven Central into {libs} ...")
        argv = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(_pom()),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
            detail = (result.stdout + result.stderr).strip()[-2000:]
            raise MissingRequirement(
                f"Maven could not download Apache Kafka {kafka_version()} "
                f"(`{' '.join(argv)}` exited {result.returncode}):\n{detail}"
            )
        (libs / _MARKER).write_text(_pom_digest() + "\n", encoding="ascii")
    return libs


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- talking to the cluster -----------------------------------------------------------


@contextlib.contextmanager
def _quiet_kafka_client() -> Iterator[None]:
    """kafka-python logs every refused connection; probing is expected to be refused."""
    client_logger = logging.getLogger("kafka")
    level = client_logger.level
    client_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        client_logger.setLevel(level)


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _servers_reachable(servers: list[str]) -> bool:
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), 2):
                return True
        except (OSError, ValueError):
            continue
    return False


def _describe(
    servers: list[str], timeout_s: float = 5.0, security: KafkaSecurity | None = None
) -> dict[str, Any] | None:
    """``describe_cluster()`` of the cluster at ``servers``, or None when it does not answer
    (or does not let ``security``'s user in)."""
    if not _servers_reachable(servers):
        return None  # a refused bootstrap leaks kafka-python's IO thread; check first
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    timeout_ms = int(timeout_s * 1000)
    with _quiet_kafka_client():
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=servers,
                client_id="livetally-kafka-probe",
                bootstrap_timeout_ms=timeout_ms,
                request_timeout_ms=timeout_ms,
                **(security or KafkaSecurity()).kafka_python(),
            )
        except (KafkaError, OSError):
            return None
        try:
            result: dict[str, Any] = admin.describe_cluster()
            return result
        except (KafkaError, OSError):
            return None
        finally:
            admin.close()


def _local_servers(nodes: list[NodeLayout]) -> list[str]:
    return [f"127.0.0.1:{n.client_port}" for n in nodes]


def _apply_acls(settings: Settings, nodes: list[NodeLayout]) -> None:
    """Create the services' ACLs (idempotent) as the admin user."""
    options = {
        "bootstrap_servers": _local_servers(nodes),
        **admin_security(settings).kafka_python(),
    }
    with _quiet_kafka_client():
        grant_services(options, settings.kafka)


# --- local nodes ----------------------------------------------------------------------


def local_size(settings: Settings) -> int | None:
    """How many nodes the local cluster under ``settings.home`` has (None: none yet)."""
    return _recorded_size(settings)


def _recorded_size(settings: Settings) -> int | None:
    """How many nodes the local cluster under LIVETALLY_HOME was formatted with."""
    try:
        text = _size_path(settings).read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _markers(settings: Settings, node_id: int) -> list[str]:
    return ["kafka.Kafka", str(_props_path(settings, node_id))]


def _running(settings: Settings) -> dict[int, int]:
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


def _cluster_id(settings: Settings) -> str:
    path = _kafka_dir(settings) / "cluster.id"
    try:
        cid = path.read_text(encoding="ascii").strip()
    except OSError:
        cid = ""
    if not cid:
        cid = new_cluster_id()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cid + "\n", encoding="ascii")
    return cid


def _jvm_options(settings: Settings, node_id: int, brokers: int) -> list[str]:
    heap = "-Xmx512m" if brokers == 1 else "-Xmx384m"
    return [
        heap,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={_log4j_config()}",
        f"-Dkafka.logs.dir={_node_dir(settings, node_id)}",
    ]


def _formatted(settings: Settings) -> bool:
    """Whether any node's storage under LIVETALLY_HOME has been formatted."""
    return any(_kafka_dir(settings).glob("node-*/data/meta.properties"))


def _format(
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
        if not (_node_dir(settings, n.node_id) / "data" / "meta.properties").exists()
    ]
    cluster_id = _cluster_id(settings)
    runs: list[tuple[Path, subprocess.Popen[str]]] = []
    for node in todo:
        argv = [
            java,
            *_jvm_options(settings, node.node_id, len(nodes)),
            "-cp",
            f"{libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(_props_path(settings, node.node_id)),
            *users,
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        runs.append((_node_dir(settings, node.node_id) / "data", proc))
    failures = []
    for data, proc in runs:
        output, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(f"{data}: {output[-1500:]}")
    if failures:
        raise KafkaUnavailable("formatting Kafka storage failed:\n" + "\n".join(failures))


def _prepare(settings: Settings, nodes: list[NodeLayout], security: NodeSecurity | None) -> None:
    """Write each node's properties; refuse to reuse data formatted for another size."""
    recorded = _recorded_size(settings)
    if recorded is not None and recorded != len(nodes):
        raise LivetallyError(
            f"the Kafka data in {_kafka_dir(settings)} belongs to a {recorded}-broker "
            f"cluster; start it with --brokers {recorded}, or delete that directory "
            f"to start afresh with {len(nodes)} broker(s) (its topics are lost)."
        )
    for node in nodes:
        node_dir = _node_dir(settings, node.node_id)
        (node_dir / "data").mkdir(parents=True, exist_ok=True)
        text = render_properties(node, nodes, node_dir / "data", security)
        if security is None:
            _props_path(settings, node.node_id).write_text(text, encoding="utf-8")
        else:  # it holds the brokers' password
            write_private(_props_path(settings, node.node_id), text.encode("utf-8"))
    _size_path(settings).write_text(f"{len(nodes)}\n", encoding="ascii")


def _secure_mode(settings: Settings, secure: bool) -> bool:
    """Whether to start the home's cluster secured: once secured, always; never a cluster
    formatted without security (its metadata holds neither users nor ACLs)."""
    if is_secure(settings):
        if not secure:
            print(
                f"The local Kafka under {settings.home} is a secured one "
                "(SASL_SSL + ACLs); starting it secured."
            )
        return True
    if secure and _formatted(settings):
        raise LivetallyError(
            f"the Kafka data in {_kafka_dir(settings)} was formatted without security, and "
            "a cluster cannot be secured afterwards; use a fresh LIVETALLY_HOME, or delete "
            f"{_kafka_dir(settings)} to start afresh secured (its topics are lost)."
        )
    return secure


def start(settings: Settings, brokers: int = 1, secure: bool = False) -> None:
    """Start a local KRaft cluster of ``brokers`` nodes and wait until every node answers.

    ``secure`` sets up a secured cluster (TLS, SCRAM users, ACLs; see
    ``livetally.kafka_secure``) in a fresh home; a home once secured always starts secured.
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
    running = _running(settings)
    if running:
        size = _recorded_size(settings)
        if size == brokers and len(running) == brokers:
            _wait_answering(settings, nodes, running, timeout_s=START_TIMEOUT_S)
            if secured:
                _apply_acls(settings, nodes)
            print(f"Kafka is already running ({brokers} broker(s), {_servers_text(nodes)}).")
            return
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
            if _port_open(port):
                raise KafkaUnavailable(
                    f"port {port} is already in use by another program; stop it or choose "
                    "other ports with LIVETALLY_KAFKA_PORT (or use that Kafka with "
                    "LIVETALLY_BOOTSTRAP)."
                )
    java = _java()
    libs = ensure_libs()
    _prepare(settings, nodes, prepare_security(settings) if secured else None)
    _format(settings, java, libs, nodes, secured)
    started: dict[int, int] = {}
    for node in nodes:
        argv = [
            java,
            *_jvm_options(settings, node.node_id, brokers),
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(_props_path(settings, node.node_id)),
        ]
        started[node.node_id] = pidfiles.spawn(
            argv,
            log_path=_log_path(settings, node.node_id),
            pid_path=_pid_path(settings, node.node_id),
        )
    try:
        _wait_answering(settings, nodes, started, timeout_s=START_TIMEOUT_S)
        if secured:
            _apply_acls(settings, nodes)
    except KafkaUnavailable:
        stop(settings, quiet=True)
        raise
    mode = (
        f"secured (SASL_SSL, credentials in {credentials_path(settings.home)})"
        if secured
        else "PLAINTEXT"
    )
    print(
        f"Apache Kafka {kafka_version()} is running: {brokers} broker(s) at "
        f"{_servers_text(nodes)}, {mode} (logs in {settings.home / 'logs'})."
    )


def _servers_text(nodes: list[NodeLayout]) -> str:
    return ",".join(_local_servers(nodes))


def _wait_answering(
    settings: Settings, nodes: list[NodeLayout], pids: dict[int, int], timeout_s: float
) -> None:
    """Wait until every node is registered with our cluster id; fail early if one dies."""
    expected = {n.node_id for n in nodes}
    cluster_id = (_kafka_dir(settings) / "cluster.id").read_text(encoding="ascii").strip()
    deadline = time.monotonic() + timeout_s
    seen: set[int] = set()
    while True:
        for node_id, pid in pids.items():
            if pidfiles.process_cmdline(pid) is None:
                log = _log_path(settings, node_id)
                raise KafkaUnavailable(
                    f"Kafka node {node_id} exited during startup; see {log}:\n"
                    f"{pidfiles.tail(log, 15)}"
                )
        info = _describe(_local_servers(nodes), 3.0, admin_security(settings))
        if info is not None:
            if info.get("cluster_id") != cluster_id:
                raise KafkaUnavailable(
                    f"another Kafka cluster (id {info.get('cluster_id')}) answers on "
                    f"{_servers_text(nodes)}; choose other ports with LIVETALLY_KAFKA_PORT."
                )
            seen = {int(b["broker_id"]) for b in info.get("brokers", [])}
            if expected <= seen:
                return
        if time.monotonic() >= deadline:
            logs = ", ".join(str(_log_path(settings, n.node_id)) for n in nodes)
            missing = sorted(expected - seen)
            raise KafkaUnavailable(
                f"Kafka did not answer within {timeout_s:.0f} s (nodes not registered: "
                f"{missing}); see {logs}"
            )
        time.sleep(0.5)


def stop(settings: Settings, *, quiet: bool = False) -> None:
    """Stop the local nodes livetally started under LIVETALLY_HOME (SIGTERM, then SIGKILL)."""
    run = settings.home / "run"
    pid_files = sorted(run.glob("kafka-*.pid")) if run.is_dir() else []
    running = _running(settings)
    if running:
        killed = pidfiles.terminate_group(list(running.values()), STOP_TIMEOUT_S)
        if killed and not quiet:
            print(f"Kafka node(s) with pid {killed} did not stop in time and were killed.")
    for pid_file in pid_files:
        pid_file.unlink(missing_ok=True)
    if not quiet:
        if running:
            print(f"Stopped Kafka node(s) {sorted(running)} under {settings.home}.")
        else:
            print("No local Kafka of livetally's is running.")


def status(settings: Settings) -> str:
    """The Kafka version, whether the local cluster is secured (and where its credentials
    are), and one line per local node (id, pid, ports, running, answering)."""
    if settings.kafka.external:
        answers = _describe(settings.kafka.servers, security=settings.kafka.security) is not None
        state = "answers" if answers else "does NOT answer"
        return (
            f"Kafka: external cluster LIVETALLY_BOOTSTRAP={settings.kafka.bootstrap} "
            f"({state}); livetally does not start or stop it."
        )
    try:
        version = f"Apache Kafka {kafka_version()}"
        jars = libs_dir()
        where = f"jars in {jars}" if _libs_ready(jars) else "jars not downloaded yet"
    except MissingRequirement as exc:
        version, where = "Apache Kafka (version unknown)", str(exc)
    size = _recorded_size(settings)
    if size is None:
        return f"{version} ({where}); no local cluster under {settings.home} yet."
    nodes = node_layout(settings.kafka.port, size)
    running = _running(settings)
    security = admin_security(settings)
    info = _describe(_local_servers(nodes), 3.0, security) if running else None
    registered = {int(b["broker_id"]) for b in (info or {}).get("brokers", [])}
    if security.sasl:
        mode = (
            f"secured: {security.protocol} ({security.mechanism}) + ACLs, "
            f"credentials in {credentials_path(settings.home)}"
        )
    else:
        mode = "not secured: PLAINTEXT, no authentication or ACLs"
    lines = [f"{version} ({where}), {size} broker(s) under {_kafka_dir(settings)}; {mode}"]
    for node in nodes:
        pid = running.get(node.node_id)
        state = "running" if pid else "stopped"
        answer = "answering" if node.node_id in registered else "not answering"
        lines.append(
            f"  kafka node {node.node_id}  pid {pid or '-':>7}  port {node.client_port} "
            f"(controller {node.controller_port})  {state}  {answer}"
        )
    return "\n".join(lines)


def ensure_running(settings: Settings) -> None:
    """Make sure Kafka answers: check an external cluster, else start the local one (one
    broker unless the home holds a cluster of another size; secured if the home is)."""
    if settings.kafka.external:
        if _describe(settings.kafka.servers, security=settings.kafka.security) is None:
            raise KafkaUnavailable(
                f"the Kafka cluster at LIVETALLY_BOOTSTRAP={settings.kafka.bootstrap} "
                "does not answer; check the address and that the brokers are up."
            )
        return
    running = _running(settings)
    size = _recorded_size(settings)
    if running and size is not None:
        nodes = node_layout(settings.kafka.port, size)
        if len(running) == size:
            _wait_answering(settings, nodes, running, timeout_s=START_TIMEOUT_S)
            return
    brokers = size if size in (1, 3) and not running else 1
    start(settings, brokers=brokers, secure=is_secure(settings))
