"""Shared fixtures: a real Apache Kafka broker for the session, and the livetally stack on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from contract.settings import KafkaSettings, Settings
from tests.ports import free_port, free_port_pair

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Broker:
    """A running broker started for the test session."""

    settings: Settings
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One real Apache Kafka broker (KRaft) for the whole test session."""
    from livetally import kafka_server

    home = tmp_path_factory.mktemp("livetally-home")
    port = free_port_pair()
    settings = Settings(home=home, kafka=KafkaSettings(bootstrap=f"127.0.0.1:{port}", port=port))
    kafka_server.start(settings, brokers=1)
    env = {
        "LIVETALLY_HOME": str(home),
        "LIVETALLY_KAFKA_PORT": str(port),
    }
    try:
        yield Broker(settings=settings, env=env)
    finally:
        kafka_server.stop(settings)


@dataclass
class Stack:
    """The worker, ingest and dashboard processes running on the session's broker."""

    settings: Settings
    env: dict[str, str]
    ingest_url: str
    dashboard_url: str
    worker_url: str
    procs: dict[str, subprocess.Popen[bytes]]
    logs: Path
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """Environments of single services that differ from ``env`` (``env`` is the CLI's)."""
    public_url: str = ""
    """The dashboard's public counter (``LIVETALLY_PUBLIC_PORT``), where the stack sets it."""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the livetally CLI against this stack."""
        return subprocess.run(
            [sys.executable, "-m", "livetally", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def start(self, name: str) -> None:
        """Start (or restart) one service and wait until it is healthy."""
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "livetally", "serve", name],
            env=self.service_env.get(name, self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = {
            "worker": self.worker_url,
            "ingest": self.ingest_url + "/healthz",
            "dashboard": self.dashboard_url + "/healthz",
        }[name]
        wait_healthy(url, self.procs[name], self.logs / f"{name}.log")

    def stop_all(self) -> None:
        """SIGTERM every service, then SIGKILL what has not exited within 30 s."""
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def kill(self, name: str, sig: int = 9) -> None:
        """Send a signal to one service and wait for it to exit."""
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=60)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"{url} not healthy in {timeout}s: {log.read_text(errors='replace')[-3000:]}"
    )


@pytest.fixture(scope="session")
def stack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole livetally pipeline as real processes on the session's broker."""
    from contract.topics import ensure_topics

    ensure_topics(broker.settings.kafka)
    ports = {name: free_port() for name in ("ingest", "dashboard", "worker", "public")}
    env = {
        **os.environ,
        **broker.env,
        "LIVETALLY_INGEST_PORT": str(ports["ingest"]),
        "LIVETALLY_DASHBOARD_PORT": str(ports["dashboard"]),
        "LIVETALLY_PUBLIC_PORT": str(ports["public"]),
        "LIVETALLY_WORKER_PORT": str(ports["worker"]),
    }
    env.pop("LIVETALLY_BOOTSTRAP", None)
    logs = tmp_path_factory.mktemp("stack-logs")
    s = Stack(
        settings=broker.settings,
        env=env,
        ingest_url=f"http://127.0.0.1:{ports['ingest']}",
        dashboard_url=f"http://127.0.0.1:{ports['dashboard']}",
        worker_url=f"http://127.0.0.1:{ports['worker']}/healthz",
        procs={},
        logs=logs,
        public_url=f"http://127.0.0.1:{ports['public']}",
    )
    try:
        for name in ("worker", "ingest", "dashboard"):
            s.start(name)
        yield s
    finally:
        s.stop_all()
        if os.environ.get("LIVETALLY_KEEP_LOGS"):
            shutil.copytree(logs, REPO / ".livetally" / "test-logs", dirs_exist_ok=True)
