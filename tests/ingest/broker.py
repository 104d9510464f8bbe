"""A broker of its own for the ingest integration tests, which kill and restart it.

Started through ``livetally.kafka_server`` (Kafka from Maven Central, like every other test),
on its own ports and home so that killing it touches no other test.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from contract.settings import KafkaSettings, Settings
from livetally import kafka_server
from livetally.pidfiles import read_pid


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    """One broker process on ``port`` with its state under ``directory``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.settings = Settings(
            home=directory, kafka=KafkaSettings(bootstrap=f"127.0.0.1:{port}", port=port)
        )

    def format(self) -> None:
        """Nothing to do: ``kafka_server.start`` formats storage on first start."""

    def start(self, timeout_s: float = 90.0) -> None:
        kafka_server.start(self.settings, brokers=1)

    def kill(self) -> None:
        """Stop the broker abruptly, as a crash would."""
        pid_file = self.directory / "run" / "kafka-0.pid"
        pid = read_pid(pid_file)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while port_open(self.port):
                pass

    def stop(self) -> None:
        kafka_server.stop(self.settings)
