"""docker-compose.yml keeps Kafka private and its data, and lets SIGTERM reach the apps.

There is no Docker engine where the suite runs, so this reads the file as Compose would.
"""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
APPS = ("stream", "ingest", "dashboard")


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def test_kafka_is_published_on_loopback_only_and_keeps_its_data_in_a_volume():
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    kafka = doc["services"]["kafka"]
    assert kafka["ports"] and all(str(p).startswith("127.0.0.1:") for p in kafka["ports"])
    mounts = {m.split(":")[1]: m.split(":")[0] for m in kafka["volumes"]}
    data_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert mounts[data_dir] in doc["volumes"]
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_every_app_runs_under_an_init_with_a_health_check():
    services = _services()
    for name in APPS:
        service = services[name]
        assert service["init"] is True, name
        assert "healthz" in " ".join(service["healthcheck"]["test"]), name
    assert services["kafka"]["init"] is True
    assert services["dashboard"]["ports"] == ["127.0.0.1:8050:8050"]
    # The session-signing key's volume is the dashboard's alone.
    (key_volume,) = [m.split(":")[0] for m in services["dashboard"]["volumes"]]
    others = [
        m.split(":")[0] for n in APPS if n != "dashboard" for m in services[n].get("volumes", [])
    ]
    assert key_volume not in others
