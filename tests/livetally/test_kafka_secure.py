"""A secured local Kafka for real: TLS, SCRAM logins and least-privilege ACLs enforced."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
import time
import uuid
from pathlib import Path

import pytest

from contract.kafka_auth import KafkaSecurity, read_security
from contract.settings import KafkaSettings, Settings
from contract.topics import topic_specs
from livetally import kafka_server
from tests.ports import free_port_block, free_port_pair, processes_mentioning

pytestmark = pytest.mark.integration

SHORT_MS = 3000
"""How long a client that should be refused tries before it gives up."""


def _settings(home: Path, port: int, replication_factor: int = 1) -> Settings:
    kafka = KafkaSettings(
        bootstrap=f"127.0.0.1:{port}", port=port, replication_factor=replication_factor
    )
    return Settings(home=home, kafka=kafka)


def _options(settings: Settings, security: KafkaSecurity) -> dict:
    return {"bootstrap_servers": settings.kafka.servers, **security.kafka_python()}


def _as(settings: Settings, service: str) -> dict:
    return _options(settings, read_security({}, settings.home, service))


def _ensure_topics(settings: Settings) -> None:
    from contract.topics import ensure_topics

    admin = kafka_server.admin_security(settings)
    ensure_topics(dataclasses.replace(settings.kafka, security=admin))


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """One secured broker with livetally's topics, for the whole module."""
    home = tmp_path_factory.mktemp("secure-home")
    settings = _settings(home, free_port_pair())
    kafka_server.start(settings, secure=True)
    try:
        _ensure_topics(settings)
        yield settings
    finally:
        kafka_server.stop(settings)
    assert processes_mentioning(str(home)) == []


def _producer(options: dict, **extra):
    from kafka import KafkaProducer

    return KafkaProducer(**options, max_block_ms=10_000, **extra)


def _end_offsets(options: dict, topics: list[str]) -> dict:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**options, enable_auto_commit=False)
    try:
        return consumer.end_offsets([TopicPartition(t, 0) for t in topics])
    finally:
        consumer.close()


# --- who gets in ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_a_client_without_credentials_gets_no_metadata(secured, protocol):
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    ca = str(secured.home / "kafka" / "tls" / "ca.pem")
    security = KafkaSecurity(protocol, ca_file=ca if protocol == "SSL" else "")
    with pytest.raises(KafkaError):
        admin = KafkaAdminClient(
            **_options(secured, security),
            bootstrap_timeout_ms=SHORT_MS,
            request_timeout_ms=SHORT_MS,
        )
        try:
            admin.list_topics()
        finally:
            admin.close()


def test_a_wrong_password_only_times_out_in_kafka_python(secured, caplog):
    """kafka-python 3.0 retries a refused SCRAM login like a lost connection: the client
    raises ``KafkaTimeoutError('Unable to bootstrap from [...]')`` once
    ``bootstrap_timeout_ms`` (30 s by default) has passed. Its log names the cause
    (``SaslAuthenticationFailedError``) only sometimes: as often, it reads the broker's
    close before the error response and logs "socket disconnected". The broker's log is
    where the cause is certain."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaTimeoutError

    ingest = read_security({}, secured.home, "ingest")
    wrong = dataclasses.replace(ingest, password="not-the-password")
    with caplog.at_level(logging.WARNING, logger="kafka"):
        with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
            KafkaConsumer(**_options(secured, wrong), bootstrap_timeout_ms=SHORT_MS)
    assert "SaslAuthenticationFailedError" in caplog.text or "socket disconnected" in caplog.text
    log = (secured.home / "kafka" / "node-0" / "server.log").read_text(errors="replace")
    assert "Failed authentication with /127.0.0.1" in log
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in log


async def test_a_wrong_password_fails_aiokafka_at_once(secured, caplog):
    """``AIOKafkaProducer.start()`` raises ``KafkaConnectionError('Unable to bootstrap
    from [...]')`` and logs the cause; a bare ``aiokafka.conn.create_conn`` raises the
    cause itself, ``SaslAuthenticationFailed``."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

    ingest = read_security({}, secured.home, "ingest")
    wrong = dataclasses.replace(ingest, password="not-the-password")
    producer = AIOKafkaProducer(bootstrap_servers=secured.kafka.servers, **wrong.aiokafka())
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
            await producer.start()
    await producer.stop()
    assert "SaslAuthenticationFailed" in caplog.text
    host, port = secured.kafka.servers[0].split(":")
    with pytest.raises(SaslAuthenticationFailed, match="invalid credentials"):
        await create_conn(host, int(port), **wrong.aiokafka())
    conn = await create_conn(host, int(port), **ingest.aiokafka())
    conn.close()


# --- what each user may do ------------------------------------------------------------


def test_ingest_writes_events_but_not_the_registry(secured):
    from kafka.errors import TopicAuthorizationFailedError

    producer = _producer(_as(secured, "ingest"))
    try:
        meta = producer.send(secured.kafka.topic("events"), b"e").get(timeout=30)
        assert meta.offset >= 0
        with pytest.raises(TopicAuthorizationFailedError, match="livetally.registry"):
            producer.send(secured.kafka.topic("registry"), b"r").get(timeout=30)
    finally:
        producer.close()


def test_ingest_reads_the_registry_but_not_the_checkpoints_and_sees_only_its_topics(secured):
    from kafka import KafkaConsumer
    from kafka.errors import TopicAuthorizationFailedError

    ingest = _as(secured, "ingest")
    assert _end_offsets(ingest, [secured.kafka.topic("registry")])
    with pytest.raises(TopicAuthorizationFailedError, match="livetally.checkpoints"):
        _end_offsets(ingest, [secured.kafka.topic("checkpoints")])
    consumer = KafkaConsumer(**ingest)
    try:
        visible = consumer.topics()
    finally:
        consumer.close()
    assert visible == {secured.kafka.topic(n) for n in ("events", "metrics", "registry")}


def test_the_dashboard_reads_its_topics_only_and_writes_none(secured):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import (
        ClusterAuthorizationFailedError,
        KafkaError,
        TopicAuthorizationFailedError,
    )

    names = [spec.name for spec in topic_specs(secured.kafka)]
    dashboard = _as(secured, "dashboard")
    shown = [secured.kafka.topic(n) for n in ("registry", "partials", "stats", "alerts", "metrics")]
    assert len(_end_offsets(dashboard, shown)) == len(shown)
    for hidden in ("events", "deadletter", "checkpoints"):
        with pytest.raises(TopicAuthorizationFailedError):
            _end_offsets(dashboard, [secured.kafka.topic(hidden)])

    producer = _producer(dashboard, enable_idempotence=False)
    try:
        for name in names:
            with pytest.raises(TopicAuthorizationFailedError):
                producer.send(name, b"x").get(timeout=30)
    finally:
        producer.close()
    # kafka-python's default, idempotent producer is refused a producer id first: no Write
    # on any topic means no IdempotentWrite either (KIP-679).
    idempotent = _producer(dashboard)
    try:
        with pytest.raises(KafkaError, match=ClusterAuthorizationFailedError.__name__):
            idempotent.send(shown[1], b"x").get(timeout=30)  # a topic it may read
    finally:
        idempotent.close()

    payload = uuid.uuid4().bytes
    admin_producer = _producer(_options(secured, kafka_server.admin_security(secured)))
    alerts = secured.kafka.topic("alerts")
    admin_producer.send(alerts, payload).get(timeout=30)
    admin_producer.close()
    consumer = KafkaConsumer(**dashboard, enable_auto_commit=False)
    try:
        tp = TopicPartition(alerts, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        received: list[bytes] = []
        deadline = time.monotonic() + 30
        while payload not in received and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                received += [record.value for record in batch]
    finally:
        consumer.close()
    assert payload in received


def test_the_registrar_writes_the_registry_and_nothing_else(secured):
    from kafka.errors import TopicAuthorizationFailedError

    registrar = _producer(_as(secured, "registrar"))
    try:
        registrar.send(secured.kafka.topic("registry"), b"{}", key=b"probe/x").get(timeout=30)
        with pytest.raises(TopicAuthorizationFailedError):
            registrar.send(secured.kafka.topic("events"), b"x").get(timeout=30)
    finally:
        registrar.close()
    with pytest.raises(TopicAuthorizationFailedError):
        _end_offsets(_as(secured, "registrar"), [secured.kafka.topic("events")])


def test_the_worker_commits_in_its_own_group_only(secured):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import GroupAuthorizationFailedError
    from kafka.structs import OffsetAndMetadata

    worker = _as(secured, "worker")
    tp = TopicPartition(secured.kafka.topic("events"), 0)
    for group, allowed in (("livetally-stream", True), ("someone-else", False)):
        consumer = KafkaConsumer(**worker, group_id=group, enable_auto_commit=False)
        try:
            consumer.assign([tp])
            if allowed:
                consumer.commit({tp: OffsetAndMetadata(0, "", -1)})
                assert consumer.committed(tp) == 0
            else:
                with pytest.raises(GroupAuthorizationFailedError):
                    consumer.commit({tp: OffsetAndMetadata(0, "", -1)})
        finally:
            consumer.close()


# --- the home ---------------------------------------------------------------------------


def test_credentials_are_private_and_in_the_shared_format(secured):
    path = secured.home / "kafka" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    tls = secured.home / "kafka" / "tls"
    assert data["protocol"] == "SASL_SSL" and data["mechanism"] == "SCRAM-SHA-512"
    assert data["ca_file"] == str(tls / "ca.pem")
    assert sorted(data["users"]) == ["admin", "dashboard", "ingest", "registrar", "worker"]
    for service, user in data["users"].items():
        assert set(user) == {"username", "password"}
        assert user["username"] == f"livetally-{service}"
    assert stat.S_IMODE((tls / "ca-key.pem").stat().st_mode) == 0o600
    props = secured.home / "kafka" / "node-0" / "server.properties"
    assert stat.S_IMODE(props.stat().st_mode) == 0o600  # it holds the brokers' password


def test_status_says_the_cluster_is_secured_and_where_the_credentials_are(secured):
    report = kafka_server.status(secured)
    assert "secured: SASL_SSL (SCRAM-SHA-512) + ACLs" in report
    assert str(secured.home / "kafka" / "credentials.json") in report
    assert "running  answering" in report


def test_a_secured_home_restarts_secured_with_the_same_acls(secured):
    from kafka.admin import KafkaAdminClient
    from kafka.errors import TopicAuthorizationFailedError

    from livetally.kafka_acls import acl_grants, present_grants

    admin_options = _options(secured, kafka_server.admin_security(secured))
    kafka_server.stop(secured)
    started = kafka_server.start(secured)  # secure=False: the home decides
    assert started.secured and started.secured_by_home
    assert "starting it secured" in str(started)
    admin = KafkaAdminClient(**admin_options)
    try:
        assert present_grants(admin) == set(acl_grants(secured.kafka))
    finally:
        admin.close()
    producer = _producer(_as(secured, "ingest"))
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(secured.kafka.topic("registry"), b"r").get(timeout=30)
    finally:
        producer.close()


# --- three nodes ------------------------------------------------------------------------


def test_three_secured_nodes_replicate_over_scram_and_mutual_tls(tmp_path):
    from kafka.admin import KafkaAdminClient

    home = tmp_path / "secure3"
    settings = _settings(home, free_port_block(6), replication_factor=3)
    try:
        kafka_server.start(settings, brokers=3, secure=True)
        _ensure_topics(settings)
        admin = KafkaAdminClient(**_options(settings, kafka_server.admin_security(settings)))
        try:
            assert len(admin.describe_cluster()["brokers"]) == 3
            (events,) = admin.describe_topics([settings.kafka.topic("events")])
        finally:
            admin.close()
        for partition in events["partitions"]:
            assert sorted(partition["replica_nodes"]) == [0, 1, 2]
        # acks=all with min.insync.replicas=2: brokers must fetch from each other.
        producer = _producer(_as(settings, "ingest"), acks="all")
        try:
            producer.send(settings.kafka.topic("events"), b"e").get(timeout=30)
        finally:
            producer.close()
    finally:
        kafka_server.stop(settings)
    assert processes_mentioning(str(home)) == []
