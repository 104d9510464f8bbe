"""The local Kafka through its facade: refusals, and real 1- and 3-broker clusters."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from contract.settings import KafkaSettings, Settings
from livetally import kafka_server
from livetally.exceptions import KafkaUnavailable, LivetallyError
from tests.ports import free_port, free_port_block, processes_mentioning

SINGLE_PORT = 29092
TRIPLE_PORT = 29192


def _settings(home: Path, port: int, *, bootstrap: str | None = None) -> Settings:
    return Settings(
        home=home,
        kafka=KafkaSettings(
            bootstrap=bootstrap or f"127.0.0.1:{port}",
            external=bootstrap is not None,
            port=port,
        ),
    )


# --- without a broker ------------------------------------------------------------------


def test_a_home_formatted_without_security_cannot_be_started_secured(tmp_path):
    settings = _settings(tmp_path, SINGLE_PORT)
    meta = tmp_path / "kafka" / "node-0" / "data" / "meta.properties"
    meta.parent.mkdir(parents=True)
    meta.write_text("node.id=0\n")
    with pytest.raises(LivetallyError, match="fresh LIVETALLY_HOME.*delete"):
        kafka_server.start(settings, secure=True)
    assert not kafka_server.is_secure(settings)


def test_start_refuses_to_start_when_bootstrap_is_external(tmp_path):
    settings = _settings(tmp_path, SINGLE_PORT, bootstrap="kafka.example:9092")
    with pytest.raises(LivetallyError, match="LIVETALLY_BOOTSTRAP"):
        kafka_server.start(settings)


# --- real brokers ---------------------------------------------------------------------


@pytest.mark.integration
def test_one_broker_starts_serves_messages_and_stops_without_leftovers(tmp_path, capsys):
    from kafka import KafkaConsumer, KafkaProducer

    home = tmp_path / "home"
    settings = _settings(home, free_port_block(2, preferred=SINGLE_PORT))
    try:
        kafka_server.start(settings)
        version = kafka_server.kafka_version()
        assert (kafka_server.libs_dir() / f"kafka_2.13-{version}.jar").is_file()
        report = kafka_server.status(settings)
        assert f"Apache Kafka {version}" in report
        assert "running" in report and "answering" in report
        assert (home / "run" / "kafka-0.pid").is_file()
        assert (home / "kafka" / "node-0" / "server.log").stat().st_size > 0

        assert "already running" in str(kafka_server.start(settings))
        with pytest.raises(LivetallyError, match="stop"):
            kafka_server.start(settings, brokers=3)

        topic = f"t-{uuid.uuid4().hex[:8]}"
        payload = uuid.uuid4().bytes
        producer = KafkaProducer(bootstrap_servers=settings.kafka.servers)
        producer.send(topic, payload).get(timeout=30)
        producer.close()
        consumer = KafkaConsumer(
            topic, bootstrap_servers=settings.kafka.servers, auto_offset_reset="earliest"
        )
        received: list[bytes] = []
        deadline = time.monotonic() + 30
        while payload not in received and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                received.extend(record.value for record in records)
        consumer.close()
        assert payload in received

        external = _settings(home, settings.kafka.port, bootstrap=settings.kafka.bootstrap)
        kafka_server.ensure_running(external)
        assert "answers" in kafka_server.status(external)
        gone = _settings(home, settings.kafka.port, bootstrap=f"127.0.0.1:{free_port()}")
        with pytest.raises(KafkaUnavailable, match="does not answer"):
            kafka_server.ensure_running(gone)
    finally:
        kafka_server.stop(settings)
    assert processes_mentioning(str(home)) == []
    assert not list((home / "run").glob("*.pid"))
    assert "stopped" in kafka_server.status(settings)

    # A restart reuses the formatted storage and the cluster id.
    cluster_id = (home / "kafka" / "cluster.id").read_text()
    try:
        kafka_server.ensure_running(settings)
        assert (home / "kafka" / "cluster.id").read_text() == cluster_id
    finally:
        kafka_server.stop(settings)
    assert processes_mentioning(str(home)) == []


@pytest.mark.integration
def test_three_brokers_replicate_a_topic_three_ways(tmp_path):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

    home = tmp_path / "home3"
    settings = _settings(home, free_port_block(6, preferred=TRIPLE_PORT))
    try:
        kafka_server.start(settings, brokers=3)
        report = kafka_server.status(settings)
        assert report.count("answering") - report.count("not answering") == 3
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka.servers)
        try:
            assert len(admin.describe_cluster()["brokers"]) == 3
            topic = f"r3-{uuid.uuid4().hex[:8]}"
            admin.create_topics(
                [
                    NewTopic(
                        topic,
                        num_partitions=2,
                        replication_factor=3,
                        topic_configs={"min.insync.replicas": "2"},
                    )
                ]
            )
            # A replica joins the in-sync set once it has fetched (a broker that was slow to
            # heartbeat on a busy machine joins a moment later): wait for all three.
            deadline = time.monotonic() + 30
            while True:
                (described,) = admin.describe_topics([topic])
                isrs = [sorted(p["isr_nodes"]) for p in described["partitions"]]
                if isrs == [[0, 1, 2]] * 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert len(described["partitions"]) == 2
            for partition in described["partitions"]:
                assert sorted(partition["replica_nodes"]) == [0, 1, 2]
            assert isrs == [[0, 1, 2]] * 2
            configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            assert configs["topic"][topic]["min.insync.replicas"]["value"] == "2"
        finally:
            admin.close()
    finally:
        kafka_server.stop(settings)
    assert processes_mentioning(str(home)) == []
