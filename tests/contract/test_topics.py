"""The topics' settings (compacted or kept a month, replicated safely) and creating them."""

from __future__ import annotations

import pytest

from contract import topics
from contract.kafka_auth import KafkaSecurity
from contract.kafka_login import KafkaLoginError
from contract.settings import KafkaSettings
from contract.topics import topic_specs

MONTH_MS = str(30 * 24 * 3600 * 1000)
COMPACTED = {"registry", "partials", "stats", "metrics", "checkpoints"}
KEPT = {"events", "deadletter", "alerts"}
PARTITIONED = {"events", "partials", "checkpoints"}
RECENT = {"deliveries"}
"""Compacted and also deleted after a day: only their newest minutes matter."""


def specs(**options) -> dict[str, topics.TopicSpec]:
    kafka = KafkaSettings(topic_prefix="t.", **options)
    return {spec.name.removeprefix("t."): spec for spec in topic_specs(kafka)}


def test_every_topic_is_named_with_the_prefix_once():
    names = [spec.name for spec in topic_specs(KafkaSettings(topic_prefix="prod."))]
    assert sorted(names) == sorted(f"prod.{t}" for t in COMPACTED | KEPT | RECENT)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("partitions", [1, 4, 12])
def test_keyed_topics_take_the_partition_count_and_the_others_one(partitions):
    for name, spec in specs(partitions=partitions).items():
        assert spec.partitions == (partitions if name in PARTITIONED else 1), name


@pytest.mark.parametrize("name", sorted(COMPACTED))
def test_state_topics_are_compacted_and_never_expire(name):
    config = specs()[name].config
    assert config["cleanup.policy"] == "compact"
    assert "retention.ms" not in config


@pytest.mark.parametrize("name", sorted(KEPT))
def test_log_topics_are_deleted_after_a_month(name):
    config = specs()[name].config
    assert config["cleanup.policy"] == "delete"
    assert config["retention.ms"] == MONTH_MS


@pytest.mark.parametrize(
    ("replication_factor", "min_insync"), [(1, None), (2, None), (3, "2"), (5, "2")]
)
def test_min_insync_replicas_is_two_from_replication_factor_three(replication_factor, min_insync):
    for name, spec in specs(replication_factor=replication_factor).items():
        assert spec.config.get("min.insync.replicas") == min_insync, name


@pytest.mark.parametrize("replication_factor", [1, 3])
def test_no_topic_allows_unclean_leader_election(replication_factor):
    for name, spec in specs(replication_factor=replication_factor).items():
        assert spec.config["unclean.leader.election.enable"] == "false", name


def test_alert_deliveries_are_compacted_and_deleted_after_a_day():
    config = specs()["deliveries"].config
    assert config["cleanup.policy"] == "compact,delete"
    assert config["retention.ms"] == str(24 * 3600 * 1000)


def test_checkpoints_take_large_records_and_are_cleaned_soon():
    config = specs(replication_factor=3)["checkpoints"].config
    assert config == {
        "cleanup.policy": "compact",
        "min.insync.replicas": "2",
        "unclean.leader.election.enable": "false",
        "max.message.bytes": str(16 * 1024 * 1024),
        "segment.ms": "600000",
        "min.cleanable.dirty.ratio": "0.1",
        "delete.retention.ms": "600000",
    }


def test_only_checkpoints_change_the_record_size_and_cleaning():
    for name, spec in specs().items():
        if name != "checkpoints":
            assert set(spec.config) <= {
                "cleanup.policy",
                "retention.ms",
                "unclean.leader.election.enable",
            }, name


def test_configs_are_all_strings():
    for spec in topic_specs(KafkaSettings(replication_factor=3)):
        assert all(isinstance(v, str) for v in spec.config.values()), spec.name


class FakeClock:
    """``time`` for ``ensure_topics``: sleeping moves the clock on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(topics, "time", fake)
    return fake


def failing_then(monkeypatch, errors: list[BaseException], created: list[str]) -> list[int]:
    calls = [0]

    def create(kafka):
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        return created

    monkeypatch.setattr(topics, "_create_missing", create)
    return calls


def test_a_cluster_not_ready_yet_is_retried_until_it_answers(monkeypatch, clock):
    from kafka.errors import BrokerNotAvailableError, KafkaConnectionError, KafkaTimeoutError

    errors = [KafkaConnectionError("refused"), KafkaTimeoutError(), BrokerNotAvailableError()]
    calls = failing_then(monkeypatch, errors, ["t.events"])
    assert topics.ensure_topics(KafkaSettings(), timeout_s=60) == ["t.events"]
    assert calls == [4]
    assert clock.slept == 3.0


def test_a_cluster_that_never_answers_raises_its_error_after_the_timeout(monkeypatch, clock):
    from kafka.errors import KafkaConnectionError

    errors: list[BaseException] = [KafkaConnectionError(f"refused {i}") for i in range(100)]
    calls = failing_then(monkeypatch, errors, [])
    with pytest.raises(KafkaConnectionError):
        topics.ensure_topics(KafkaSettings(), timeout_s=5)
    assert calls == [7]  # tried at 0..5 s, and once past the deadline


def test_a_user_that_may_not_create_topics_is_told_to_create_them_as_admin(monkeypatch, clock):
    from kafka.errors import TopicAuthorizationFailedError

    failing_then(monkeypatch, [TopicAuthorizationFailedError("livetally.events")], [])
    security = KafkaSecurity("SASL_PLAINTEXT", "PLAIN", "livetally-ingest", "pw")
    kafka = KafkaSettings(bootstrap="k:9092", security=security)
    with pytest.raises(KafkaLoginError) as refused:
        topics.ensure_topics(kafka)
    message = str(refused.value)
    assert message.startswith("Kafka at k:9092: 'livetally-ingest' is not allowed to do this")
    assert "create them once as an admin user" in message
    assert "livetally kafka setup" in message
    assert clock.slept == 0  # refused at once, not retried


def test_a_refused_login_while_creating_topics_is_final(monkeypatch, clock):
    from kafka.errors import SaslAuthenticationFailedError

    calls = failing_then(monkeypatch, [SaslAuthenticationFailedError("bad")], [])
    security = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "livetally-admin", "pw")
    with pytest.raises(KafkaLoginError, match="authentication failed for SASL_SSL"):
        topics.ensure_topics(KafkaSettings(security=security))
    assert calls == [1]
