"""The suite's own stack: a Kafka broker and livetally processes under a temporary home."""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from contract.settings import KafkaSettings, Settings
from livetally.exceptions import LivetallyError, ProcessFailed

__all__ = ["BenchStack", "PortPlan", "Service"]

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 120.0


def _free(port: int) -> bool:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


class PortPlan:
    """Hands out ports: consecutive ones from a base, or free ones below the ephemeral range."""

    def __init__(self, base: int | None, size: int = 40) -> None:
        self._base = base
        self._size = size
        self._next = 2 if base is not None else 0
        self._rng = random.Random()  # noqa: S311 - port picking, not security
        self.kafka = self._kafka_pair()

    def _kafka_pair(self) -> int:
        if self._base is not None:
            if not (_free(self._base) and _free(self._base + 1)):
                raise LivetallyError(f"ports {self._base} and {self._base + 1} are in use")
            return self._base
        for _ in range(200):
            port = self._rng.randrange(20000, 30000, 2)
            if _free(port) and _free(port + 1):
                return port
        raise LivetallyError("no free pair of ports for the benchmark's Kafka broker")

    def take(self) -> int:
        """Another free port."""
        if self._base is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                return int(s.getsockname()[1])
        while self._next < self._size:
            port = self._base + self._next
            self._next += 1
            if _free(port):
                return port
        raise LivetallyError(f"no free port left in {self._base}-{self._base + self._size - 1}")


@dataclass
class Service:
    """One process of the stack."""

    name: str
    proc: subprocess.Popen[bytes]
    health_url: str
    log: Path
    public_url: str = ""
    """A dashboard's public counter (``LIVETALLY_PUBLIC_PORT``)."""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def rss_bytes(self) -> int:
        """Resident memory of the process (and of any children it started)."""
        import psutil

        process = psutil.Process(self.proc.pid)
        total = int(process.memory_info().rss)
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += int(child.memory_info().rss)
        return total

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def tail(self, chars: int = 3000) -> str:
        """The end of the process's log."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class BenchStack:
    """A broker and the processes started on it; ``close`` stops everything."""

    root: Path
    ports: PortPlan
    base_env: Mapping[str, str]
    services: list[Service] = field(default_factory=list)
    kafka_started: bool = False

    @property
    def settings(self) -> Settings:
        """Shared settings pointing at the bench broker (default topic prefix)."""
        port = self.ports.kafka
        return Settings(
            home=self.root / "home",
            kafka=KafkaSettings(bootstrap=f"127.0.0.1:{port}", port=port),
        )

    @property
    def servers(self) -> list[str]:
        """The broker's bootstrap servers."""
        return self.settings.kafka.servers

    def kafka(self, prefix: str, partitions: int = 4) -> KafkaSettings:
        """Kafka settings for one isolated set of topics."""
        base = self.settings.kafka
        return replace(base, topic_prefix=prefix, partitions=partitions)

    def start_kafka(self) -> None:
        """Start the broker (Apache Kafka in KRaft mode, one node)."""
        from livetally import kafka_server

        self.settings.home.mkdir(parents=True, exist_ok=True)
        kafka_server.start(self.settings, brokers=1)
        self.kafka_started = True

    def env(self, prefix: str, partitions: int = 4, **extra: str) -> dict[str, str]:
        """The environment of a livetally process on this broker and topic prefix."""
        return {
            **self.base_env,
            "LIVETALLY_HOME": str(self.settings.home),
            "LIVETALLY_KAFKA_PORT": str(self.ports.kafka),
            "LIVETALLY_TOPIC_PREFIX": prefix,
            "LIVETALLY_PARTITIONS": str(partitions),
            **extra,
        }

    def spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], health_url: str
    ) -> Service:
        """Start a process; return without waiting for it."""
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, proc, health_url, log_path)
        self.services.append(service)
        return service

    def serve(self, kind: str, name: str, env: Mapping[str, str]) -> Service:
        """Start ``livetally serve kind`` on a free port and wait until it is healthy."""
        port = self.ports.take()
        variable = {
            "worker": "LIVETALLY_WORKER_PORT",
            "ingest": "LIVETALLY_INGEST_PORT",
            "dashboard": "LIVETALLY_DASHBOARD_PORT",
        }[kind]
        url = f"http://127.0.0.1:{port}/healthz"
        argv = [sys.executable, "-m", "livetally", "serve", kind]
        extra = {variable: str(port)}
        if kind == "dashboard":  # its public counter on a port of the plan too
            extra["LIVETALLY_PUBLIC_PORT"] = str(public := self.ports.take())
        service = self.spawn(name, argv, {**env, **extra}, url)
        if kind == "dashboard":
            service.public_url = f"http://127.0.0.1:{public}"
        self.wait_healthy(service)
        return service

    def wait_healthy(self, service: Service, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        """Wait until the service's health URL answers 200."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if service.proc.poll() is not None:
                raise ProcessFailed(f"{service.name} exited:\n{service.tail()}")
            try:
                if httpx.get(service.health_url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ProcessFailed(
            f"{service.name} not healthy after {timeout_s:.0f} s:\n{service.tail()}"
        )

    def stop(self, service: Service) -> None:
        """Stop one service."""
        service.stop()
        if service in self.services:
            self.services.remove(service)

    def close(self) -> None:
        """Stop every service, then the broker."""
        for service in list(reversed(self.services)):
            try:
                service.stop()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                logger.exception("could not stop %s", service.name)
        self.services.clear()
        if self.kafka_started:
            from livetally import kafka_server

            kafka_server.stop(self.settings)
            self.kafka_started = False
