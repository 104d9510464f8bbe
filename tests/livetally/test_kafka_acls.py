"""The least-privilege ACL matrix of a secured local Kafka, as data."""

from __future__ import annotations

from contract import topics
from contract.settings import KafkaSettings
from livetally.kafka_acls import Grant, acl_grants

ALL_TOPICS = {
    topics.EVENTS,
    topics.REGISTRY,
    topics.PARTIALS,
    topics.STATS,
    topics.DEADLETTER,
    topics.ALERTS,
    topics.DELIVERIES,
    topics.METRICS,
    topics.CHECKPOINTS,
}


def _matrix(kafka: KafkaSettings) -> dict[tuple[str, str, str], set[str]]:
    found: dict[tuple[str, str, str], set[str]] = {}
    for g in acl_grants(kafka):
        found.setdefault((g.user, g.operation, g.resource), set()).add(f"{g.pattern}:{g.name}")
    return found


def test_each_service_gets_exactly_its_grants():
    p = "LITERAL:livetally."
    assert _matrix(KafkaSettings()) == {
        ("livetally-ingest", "WRITE", "TOPIC"): {p + "events", p + "metrics"},
        ("livetally-ingest", "READ", "TOPIC"): {p + "registry"},
        ("livetally-worker", "READ", "TOPIC"): {p + n for n in ALL_TOPICS - {topics.DEADLETTER}},
        ("livetally-worker", "WRITE", "TOPIC"): {
            p + n for n in ALL_TOPICS - {topics.EVENTS, topics.REGISTRY}
        },
        ("livetally-worker", "READ", "GROUP"): {"PREFIXED:livetally-stream"},
        ("livetally-dashboard", "READ", "TOPIC"): {
            p + n for n in ("registry", "partials", "stats", "alerts", "metrics")
        },
        ("livetally-registrar", "WRITE", "TOPIC"): {p + "registry"},
    }


def test_the_admin_has_no_acl_because_it_is_a_super_user():
    assert not [g for g in acl_grants(KafkaSettings()) if g.user == "livetally-admin"]


def test_grants_follow_the_topic_prefix():
    grants = acl_grants(KafkaSettings(topic_prefix="t1."))
    assert Grant("livetally-ingest", "WRITE", "TOPIC", "t1.events") in grants
    assert Grant("livetally-dashboard", "READ", "TOPIC", "t1.partials") in grants
    assert not [g for g in grants if g.resource == "TOPIC" and "livetally." in g.name]


def test_only_the_worker_joins_a_group_and_only_the_registrar_writes_the_registry():
    grants = acl_grants(KafkaSettings())
    assert {g.user for g in grants if g.resource == "GROUP"} == {"livetally-worker"}
    writers = {g.user for g in grants if g.operation == "WRITE" and g.name.endswith("registry")}
    assert writers == {"livetally-registrar"}
    assert [g for g in grants if g.user == "livetally-registrar"] == [
        Grant("livetally-registrar", "WRITE", "TOPIC", "livetally.registry")
    ]
    # The dashboard never reads raw events, rejected events or checkpoints.
    dashboard = {g.name for g in grants if g.user == "livetally-dashboard"}
    assert not dashboard & {"livetally.events", "livetally.deadletter", "livetally.checkpoints"}
    assert not [g for g in grants if g.user == "livetally-dashboard" and g.operation != "READ"]
