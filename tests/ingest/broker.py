"""A single-node Apache Kafka (KRaft) the ingest integration tests start, kill and restart."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

LIBS = Path.home() / ".cache" / "livetally" / "kafka-libs-manual"

PROPERTIES = """process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
"""


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    """One broker process on ``port`` with its data under ``directory``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.properties = directory / "server.properties"
        self.process: subprocess.Popen[bytes] | None = None
        self._classpath = f"{LIBS}/*"

    def format(self) -> None:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            PROPERTIES.format(
                port=self.port, controller=self.port + 1, data=self.directory / "data"
            )
        )
        subprocess.run(
            [
                "java",
                "-cp",
                self._classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                "AAAAAAAAAAAAAAAAAAAAAA",
                "-c",
                str(self.properties),
            ],
            check=True,
            capture_output=True,
        )

    def start(self, timeout_s: float = 90.0) -> None:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken; stop whatever listens there")
        log = (self.directory / "broker.log").open("ab")
        self.process = subprocess.Popen(
            ["java", "-Xmx512m", "-cp", self._classpath, "kafka.Kafka", str(self.properties)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"broker did not start; see {self.directory / 'broker.log'}")
            time.sleep(0.3)

    def kill(self) -> None:
        """Stop the broker abruptly, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
