"""Asking whether a Kafka answers, without one: open ports, refused servers, quiet logs."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from livetally import kafka_probe
from tests.ports import free_port


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something listens on (it accepts connections, it is no Kafka)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_port_is_open_while_something_listens_on_it(listening):
    assert kafka_probe.port_open(listening)
    assert not kafka_probe.port_open(free_port())


def test_a_cluster_whose_servers_all_refuse_is_no_cluster_and_the_answer_is_quick():
    servers = [f"127.0.0.1:{free_port()}", "not-a-server", f"[::1]:{free_port()}", "host:port"]
    started = time.monotonic()
    assert kafka_probe.describe(servers, timeout_s=5.0) is None
    assert time.monotonic() - started < 5.0


def test_probing_hushes_the_kafka_client_and_restores_its_level():
    client_logger = logging.getLogger("kafka")
    before = client_logger.level
    client_logger.setLevel(logging.INFO)
    try:
        with kafka_probe.quiet_kafka_client():
            assert client_logger.level == logging.CRITICAL
        assert client_logger.level == logging.INFO
        with pytest.raises(RuntimeError), kafka_probe.quiet_kafka_client():
            raise RuntimeError("probe failed")
        assert client_logger.level == logging.INFO
    finally:
        client_logger.setLevel(before)
