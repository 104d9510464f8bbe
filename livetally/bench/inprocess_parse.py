"""Measures the CPU steps of one 500-event request: parsing (orjson + the duplicate-key fast
path vs json with a pairs hook), validation, partitioning (kafka-python's pure-Python
murmur2 per key vs the vectorised exact one) and packing, on the general path and on the
fast path (msgspec) that a request of valid events takes.

Run: python -m livetally.bench.inprocess_parse
"""

from __future__ import annotations

import json
import time
import timeit

import orjson
from kafka.partitioner.default import murmur2

from contract.events import parse_event
from contract.packing import pack_events, pack_wire_events
from contract.partitioner import partitions_for
from contract.records import partition_key
from ingest.fastpath import accept_whole
from ingest.validation import _unique_pairs, parse_json_events, validate_events


def batch(n: int = 500) -> bytes:
    now = time.time_ns() // 1_000_000
    return orjson.dumps(
        {
            "events": [
                {
                    "type": "heartbeat",
                    "stream": "carnival",
                    "ts": now,
                    "session_id": f"session-{i:08d}",
                    "viewer_id": f"viewer-{i:08d}",
                    "platform": "douyu",
                }
                for i in range(n)
            ]
        }
    )


def main() -> None:
    data = batch()
    events = orjson.loads(data)["events"]
    now = time.time_ns() // 1_000_000
    runs = 200
    checked = validate_events(events, now_ms=now, streams={"carnival"}, mode="sessions")
    fast_args = {
        "kind": "json",
        "platform": "douyu",
        "now_ms": now,
        "streams": {"carnival"},
        "mode": "sessions",
        "max_events": 1000,
    }
    whole = accept_whole(data, **fast_args)  # type: ignore[arg-type]
    if whole is None:
        raise RuntimeError("the fast path refused the benchmark's batch")
    keys = [partition_key(e.stream, "douyu", e.viewer_key) for e in checked.accepted]
    cases = {
        "orjson.loads only (no duplicate check)": lambda: orjson.loads(data),
        "parse_json_events (orjson + fast duplicate check)": lambda: parse_json_events(
            data, max_events=1000
        ),
        "json.loads(object_pairs_hook=...)": lambda: json.loads(
            data, object_pairs_hook=_unique_pairs
        ),
        "parse_event x500": lambda: [
            parse_event(e, now_ms=now, streams={"carnival"}, mode="sessions") for e in events
        ],
        "validate_events x500": lambda: validate_events(
            events, now_ms=now, streams={"carnival"}, mode="sessions"
        ),
        "fast path: accept_whole (msgspec decode + checks)": lambda: accept_whole(
            data,
            **fast_args,  # type: ignore[arg-type]
        ),
        "fast path: pack_wire_events x500": lambda: pack_wire_events(
            whole, platform="douyu", received_at_ms=now, partitions=4, timeout_ms=30_000
        ),
        "kafka-python murmur2 x500 (uncached)": lambda: [
            (murmur2(k) & 0x7FFFFFFF) % 4 for k in keys
        ],
        "partitions_for x500 (vectorised, exact)": lambda: partitions_for(keys, 4),
        "pack_events x500 (partition + encode)": lambda: pack_events(
            checked.accepted, platform="douyu", received_at_ms=now, partitions=4, timeout_ms=30_000
        ),
    }
    print(f"body: {len(data)} bytes, 500 events")
    for name, fn in cases.items():
        seconds = min(timeit.repeat(fn, number=runs, repeat=3)) / runs
        print(f"{name:52s} {seconds * 1e3:7.3f} ms/batch  {500 / seconds:12,.0f} events/s")


if __name__ == "__main__":
    main()
