"""The reliability suite's session: a 3-node Apache Kafka cluster and the stack on it.

Started once for all reliability tests (``make test-reliability``). Topics get replication
factor 3, ``min.insync.replicas=2`` and no unclean leader election. Every process of the
stack gets all three bootstrap servers, so any one node may be down when it (re)starts.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from contract.kafka_auth import read_security
from contract.settings import KafkaSettings, Settings
from tests.conftest import REPO, Stack
from tests.reliability.harness import Cluster, Keys

KAFKA_BASE_PORT = int(os.environ.get("LIVETALLY_RELIABILITY_KAFKA_PORT", "39292"))
PORTS = {
    "ingest": int(os.environ.get("LIVETALLY_RELIABILITY_INGEST_PORT", "39380")),
    "dashboard": int(os.environ.get("LIVETALLY_RELIABILITY_DASHBOARD_PORT", "39350")),
    "worker": int(os.environ.get("LIVETALLY_RELIABILITY_WORKER_PORT", "39366")),
}
SECOND_WORKER_PORT = PORTS["worker"] + 34
PLATFORMS = [f"p{i:02d}" for i in range(1, 12)]
"""Eleven partner platforms, like the carnival's."""
STREAMS = [f"rel-{name}" for name in (
    "leader", "quorum", "worker", "rebalance", "ingest-term", "ingest-kill", "storm",
    "poison", "wipe", "checkpoint", "compact", "pause", "security", "load", "fuzz",
)]  # fmt: skip
SCRIPT_NAME = "<script>alert('x')</script>网"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class RStack:
    """The stack on the 3-node cluster, plus what the tests registered."""

    cluster: Cluster
    stack: Stack
    keys: Keys
    home: Path
    repairs: list[str] = field(default_factory=list)
    """What ``ensure_running`` had to fix between tests."""

    @property
    def settings(self) -> Settings:
        return self.cluster.settings

    def second_worker(self) -> Stack:
        """A second worker process (own port and home) joining the same consumer group."""
        home = self.home / "worker2-home"
        home.mkdir(exist_ok=True)
        logs = self.stack.logs / "worker2"
        logs.mkdir(exist_ok=True)
        user = read_security({}, self.home, "worker")
        env = {
            **self.stack.env,
            "LIVETALLY_HOME": str(home),
            "LIVETALLY_WORKER_PORT": str(SECOND_WORKER_PORT),
            # Its own home has no credentials file: its login comes from the environment.
            "LIVETALLY_KAFKA_SECURITY_PROTOCOL": user.protocol,
            "LIVETALLY_KAFKA_SASL_MECHANISM": user.mechanism,
            "LIVETALLY_KAFKA_USERNAME": user.username,
            "LIVETALLY_KAFKA_PASSWORD": user.password,
            "LIVETALLY_KAFKA_CA_FILE": user.ca_file,
        }
        return Stack(
            settings=self.settings,
            env=env,
            ingest_url=self.stack.ingest_url,
            dashboard_url=self.stack.dashboard_url,
            worker_url=f"http://127.0.0.1:{SECOND_WORKER_PORT}/healthz",
            procs={},
            logs=logs,
        )

    def ensure_running(self) -> None:
        """Restart any broker or service a failed test left down, and an ingest that no
        longer gets acknowledgements from Kafka (see docs/reliability.md)."""
        for node in range(self.cluster.brokers):
            if not self.cluster.alive(node):
                self.cluster.restart(node)
        for name in ("worker", "ingest", "dashboard"):
            proc = self.stack.procs.get(name)
            if proc is None or proc.poll() is not None:
                self.stack.procs.pop(name, None)
                self.stack.start(name)
        if not self.ingest_acknowledges():
            self.repairs.append("ingest restarted: it answered 503 with every broker up")
            self.stack.kill("ingest", 9)
            self.stack.start("ingest")

    def ingest_acknowledges(self, timeout_s: float = 20) -> bool:
        """Whether ingest answers 202 to one small post within ``timeout_s``."""
        body = orjson.dumps({"events": [{
            "type": "join", "stream": "rel-fuzz", "ts": int(time.time() * 1000) - 1000,
            "session_id": "probe",
        }]})  # fmt: skip
        headers = {
            "Authorization": f"Bearer {self.keys.partners['p11']}",
            "Content-Type": "application/json",
        }
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                url = self.stack.ingest_url + "/v1/events"
                if httpx.post(url, content=body, headers=headers, timeout=10).status_code == 202:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(1)
        return False


def _register(settings: Settings) -> Keys:
    from livetally.admin import build_partner, build_stream, build_token
    from livetally.registry_topic import register

    keys: dict[str, str] = {}
    items: list[object] = []
    for stream in STREAMS:
        items.append(build_stream(stream, f"reliability {stream}"))
    for p in PLATFORMS:
        keys[p] = "ltk_" + secrets.token_urlsafe(24)
        items.append(build_partner(p, name=f"平台 {p}", key=keys[p], rate=50_000))
    keys["slow"] = "ltk_" + secrets.token_urlsafe(24)
    items.append(build_partner("slow", name="限速", key=keys["slow"], rate=20))
    keys["xss"] = "ltk_" + secrets.token_urlsafe(24)
    items.append(build_partner("xss", name=SCRIPT_NAME, key=keys["xss"]))
    revoked = "ltk_" + secrets.token_urlsafe(24)
    gone = build_partner("gone", name="已撤销", key=revoked)
    items.append(gone)
    viewer = "ltt_" + secrets.token_urlsafe(24)
    admin = "ltt_" + secrets.token_urlsafe(24)
    items.append(build_token("viewer", secret=viewer, token_id="relviewer"))
    items.append(build_token("admin", secret=admin, token_id="reladmin"))
    from dataclasses import replace

    items.append(replace(gone, revoked=True))
    register(settings, *items)  # type: ignore[arg-type]
    return Keys(partners=keys, viewer=viewer, admin=admin, revoked=revoked, streams=STREAMS)


@pytest.fixture(scope="session")
def rstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RStack]:
    """Three Kafka nodes, the worker, ingest and the dashboard, and registered partners."""
    from contract.topics import ensure_topics
    from livetally import kafka_server

    base = KAFKA_BASE_PORT
    if not all(_free(p) for p in range(base, base + 6)):
        from tests.conftest import free_port_pair

        base = free_port_pair()
        while not all(_free(p) for p in range(base, base + 6)):
            base = free_port_pair()
    ports = {n: p if _free(p) else _any_port() for n, p in PORTS.items()}
    home = tmp_path_factory.mktemp("reliability-home")
    bootstrap = ",".join(f"127.0.0.1:{base + 2 * i}" for i in range(3))
    kafka = KafkaSettings(bootstrap=bootstrap, port=base, replication_factor=3)
    settings = Settings(home=home, kafka=kafka)
    t0 = time.monotonic()
    # Secured: SASL_SSL, one user per service, ACLs. The services read their users from the
    # home's credentials file; the tests' own clients log in as the admin user.
    kafka_server.start(settings, brokers=3, secure=True)
    settings = settings.with_home_credentials("admin")
    kafka = settings.kafka
    print(f"reliability: 3 secured Kafka nodes up in {time.monotonic() - t0:.1f} s")
    env = {
        **os.environ,
        "LIVETALLY_HOME": str(home),
        "LIVETALLY_KAFKA_PORT": str(base),
        "LIVETALLY_BOOTSTRAP": bootstrap,
        "LIVETALLY_REPLICATION_FACTOR": "3",
        "LIVETALLY_INGEST_PORT": str(ports["ingest"]),
        "LIVETALLY_DASHBOARD_PORT": str(ports["dashboard"]),
        "LIVETALLY_PUBLIC_PORT": "0",  # not used here: no port next to the dashboard's
        "LIVETALLY_WORKER_PORT": str(ports["worker"]),
        # Checkpoint often, so that restarts in these short tests restore from checkpoints.
        "LIVETALLY_CHECKPOINT_INTERVAL_S": "2",
        "LIVETALLY_CHECKPOINT_MIN_RECORDS": "10",
    }
    env.pop("LIVETALLY_TOPIC_PREFIX", None)
    logs = tmp_path_factory.mktemp("reliability-logs")
    stack = Stack(
        settings=settings,
        env=env,
        ingest_url=f"http://127.0.0.1:{ports['ingest']}",
        dashboard_url=f"http://127.0.0.1:{ports['dashboard']}",
        worker_url=f"http://127.0.0.1:{ports['worker']}/healthz",
        procs={},
        logs=logs,
    )
    try:
        ensure_topics(kafka)
        keys = _register(settings)
        for name in ("worker", "ingest", "dashboard"):
            stack.start(name)
        time.sleep(5.5)  # services pick registry changes up within 5 s
        print(f"reliability: stack up in {time.monotonic() - t0:.1f} s")
        rstack = RStack(cluster=Cluster(settings), stack=stack, keys=keys, home=home)
        yield rstack
        print(
            f"reliability: {rstack.cluster.faults} broker faults injected; "
            f"repairs between tests: {rstack.repairs or 'none'}"
        )
    finally:
        stack.stop_all()
        for node in range(3):  # a test that failed mid-pause leaves a node stopped
            pid_file = home / "run" / f"kafka-{node}.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().strip()), 18)  # SIGCONT
                except (OSError, ValueError):
                    pass
        kafka_server.stop(settings)
        if os.environ.get("LIVETALLY_KEEP_LOGS"):
            import shutil

            shutil.copytree(logs, REPO / ".livetally" / "reliability-logs", dirs_exist_ok=True)
            shutil.copytree(home / "logs", REPO / ".livetally" / "reliability-logs" / "kafka",
                            dirs_exist_ok=True)  # fmt: skip


def _any_port() -> int:
    from tests.conftest import free_port

    return free_port()


@pytest.fixture
def rel(rstack: RStack) -> Iterator[RStack]:
    """The session's stack, healthy at the start of each test (and repaired after it)."""
    rstack.ensure_running()
    yield rstack
    rstack.ensure_running()
