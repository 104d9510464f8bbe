"""The registry topic as the CLI uses it: Kafka's failures turned into clear errors."""

from __future__ import annotations

import pytest

from contract.settings import KafkaSettings, Settings
from livetally import admin, registry_topic
from livetally.cli import build_parser
from livetally.exceptions import KafkaUnavailable
from tests.ports import free_port


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda settings: admin.run(build_parser().parse_args(["partner", "list"]), settings),
            id="admin.run",
        ),
        pytest.param(registry_topic.load_registry, id="load_registry"),
        pytest.param(
            lambda settings: registry_topic.register(settings, admin.build_stream("s", "t")),
            id="register",
        ),
    ],
)
def test_unreachable_kafka_is_a_clear_error_quickly(call):
    port = free_port()
    settings = Settings(kafka=KafkaSettings(bootstrap=f"127.0.0.1:{port}", port=port))
    with pytest.raises(KafkaUnavailable, match=rf"127.0.0.1:{port}.*livetally up"):
        call(settings)
