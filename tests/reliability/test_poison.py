"""Poison records written straight into the events topic, between good ones."""

from __future__ import annotations

import json
import time

import httpx
import orjson
import pytest

from contract.topics import DEADLETTER, EVENTS
from tests.reliability.conftest import RStack
from tests.reliability.harness import Ledger, Loader, check_exact, make_events

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

PLATFORMS = ["p09", "p10"]
STREAM = "rel-poison"


def _poison(now_ms: int) -> dict[str, bytes]:
    good_event = {"type": "join", "stream": STREAM, "ts": now_ms - 60_000, "session_id": "x"}

    def record(**fields: object) -> bytes:
        doc = {"v": 1, "platform": "p09", "received_at": now_ms, "events": [good_event]}
        doc.update(fields)
        return json.dumps(doc).encode()

    return {
        "bad_json": b'{"v": 1, "platform": "p09", "events": [',
        "not_utf8": b"\xff\xfe\x00garbage",
        "not_object": b"[1, 2, 3]",
        "unknown_version": record(v=99),
        "platform_type": record(platform=12345),
        "received_at_type": record(received_at="yesterday"),
        "events_type": record(events="join"),
        "huge_counter": record(
            events=[{**good_event, "type": "count", "concurrent": 10**30, "session_id": None}]
        ),
        "bad_event_type": record(events=[{**good_event, "type": "explode"}]),
        "huge_record": record(events=[{**good_event, "session_id": "s" * 900_000}]),
        "null_value": b"",
    }


def _deadletters(rel: RStack) -> list[dict[str, object]]:
    from kafka import KafkaConsumer, TopicPartition

    topic = rel.settings.kafka.topic(DEADLETTER)
    consumer = KafkaConsumer(**rel.settings.kafka.client_options(), group_id=None)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        out = []
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend(orjson.loads(r.value) for r in records)
        return out
    finally:
        consumer.close()


def test_poison_records_go_to_the_dead_letter_topic(rel: RStack) -> None:
    from kafka import KafkaProducer

    base = (int(time.time() * 1000) - 5000_000) // 1000 * 1000
    keys = {p: rel.keys.partners[p] for p in PLATFORMS}
    ledger = Ledger()
    first = make_events(10, PLATFORMS, base, sessions=30)
    loader = Loader(rel.stack.ingest_url, keys, STREAM, first, ledger=ledger)
    loader.start().join(120)
    assert not loader.errors, loader.errors[:3]

    topic = rel.settings.kafka.topic(EVENTS)
    producer = KafkaProducer(
        **rel.settings.kafka.client_options(), acks="all", max_request_size=4_000_000
    )
    where: dict[tuple[int, int], str] = {}
    try:
        partitions = sorted(producer.partitions_for(topic))
        for name, value in _poison(int(time.time() * 1000)).items():
            for p in partitions:
                meta = producer.send(topic, key=b"poison", value=value or None, partition=p).get(
                    timeout=30
                )
                where[(meta.partition, meta.offset)] = name
    finally:
        producer.close()

    second = make_events(11, PLATFORMS, base, sessions=30)
    loader = Loader(rel.stack.ingest_url, keys, STREAM, second, ledger=ledger)
    loader.start().join(120)
    assert not loader.errors, loader.errors[:3]
    check_exact(rel.stack.dashboard_url, rel.keys.viewer, STREAM, ledger.events)

    deadline = time.monotonic() + 60
    while True:
        letters = {
            (int(d["partition"]), int(d["offset"])): d  # type: ignore[call-overload]
            for d in _deadletters(rel)
        }
        missing = sorted(set(where) - set(letters))
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not missing, f"not in the dead-letter topic: {[where[m] for m in missing][:10]}"
    for at in where:
        assert letters[at]["code"] and letters[at]["detail"], letters[at]
    health = httpx.get(rel.stack.worker_url, timeout=5)
    assert health.status_code == 200
    assert rel.stack.procs["worker"].poll() is None
    reasons = sorted({f"{where[at]}: {letters[at]['code']}" for at in where})
    print(f"poison: {len(where)} records dead-lettered with reasons {reasons}")
