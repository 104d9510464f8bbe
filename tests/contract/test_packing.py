"""Packing accepted events into per-partition records."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2

from contract.events import Event
from contract.packing import (
    MAX_RECORD_BYTES,
    pack_events,
    pack_raw_events,
    partition_for,
    raw_partition_key,
)
from contract.records import decode_batch, partition_key


def event(session: str, stream: str = "carnival") -> Event:
    return Event(type="join", stream=stream, ts=1_734_780_600_000, session_id=session)


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=64))
def test_partition_matches_kafka_pythons_default_partitioner(key, partitions):
    assert partition_for(key, partitions) == (murmur2(key) & 0x7FFFFFFF) % partitions


def test_events_are_grouped_one_record_per_partition_in_their_keys_partition():
    events = [event(f"s{i}") for i in range(200)]
    records = pack_events(
        events, platform="douyu", received_at_ms=5, partitions=4, timeout_ms=30_000
    )
    assert len({r.partition for r in records}) == len(records) <= 4
    seen = []
    for record in records:
        batch = decode_batch(record.value)
        assert (batch.platform, batch.received_at, batch.timeout_ms) == ("douyu", 5, 30_000)
        assert record.count == len(batch.events)
        for raw in batch.events:
            key = partition_key(raw["stream"], "douyu", raw["session_id"])
            assert partition_for(key, 4) == record.partition
            seen.append(raw["session_id"])
        assert record.key == partition_key("carnival", "douyu", batch.events[0]["session_id"])
    assert sorted(seen) == sorted(e.session_id for e in events)


def test_a_group_too_big_for_one_record_is_split():
    events = [event("v" * 120 + f"{i:06d}") for i in range(12_000)]
    records = pack_events(events, platform="p", received_at_ms=1, partitions=1, timeout_ms=1000)
    assert len(records) > 1
    assert all(len(r.value) <= MAX_RECORD_BYTES for r in records)
    assert sum(r.count for r in records) == len(events)


def test_no_events_make_no_records():
    assert pack_events([], platform="p", received_at_ms=1, partitions=3, timeout_ms=1000) == []


def test_raw_events_are_packed_exactly_like_checked_ones():
    raw = [
        {"type": "join", "stream": "carnival", "ts": 1_734_780_600_000, "session_id": f"s{i}"}
        for i in range(50)
    ]
    checked = [event(f"s{i}") for i in range(50)]
    options = {"platform": "douyu", "received_at_ms": 7, "partitions": 4, "timeout_ms": 9000}
    assert pack_raw_events(raw, **options) == pack_events(checked, **options)


def test_raw_packing_drops_platform_and_keeps_invalid_events_for_the_stream_app():
    raw = [
        {"type": "join", "stream": "carnival", "ts": 1, "session_id": "a", "platform": "douyu"},
        {"type": "join", "stream": 5, "session_id": None, "color": "red"},
        "not an event",
    ]
    raw_dicts = [e for e in raw if isinstance(e, dict)]
    records = pack_raw_events(
        raw_dicts, platform="douyu", received_at_ms=1, partitions=2, timeout_ms=1000
    )
    stored = [e for r in records for e in decode_batch(r.value).events]
    assert sorted(stored, key=str) == sorted(
        [
            {"type": "join", "stream": "carnival", "ts": 1, "session_id": "a"},
            {"type": "join", "stream": 5, "session_id": None, "color": "red"},
        ],
        key=str,
    )
    assert raw_partition_key(raw_dicts[1], "douyu") == partition_key("", "douyu", "")
