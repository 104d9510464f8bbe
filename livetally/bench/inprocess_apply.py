"""Throughput and memory of ``PartitionState.apply_record`` on a synthetic evening.

Not part of ``livetally bench``; run on its own:
``python -m livetally.bench.inprocess_apply [--sessions N | --carnival EVENTS] [--profile]``.
``--carnival`` applies the benchmark suite's event log (the carnival's partner mix, 5 % of
batches late, 2 % twice) packed into 4 partitions exactly as ingest packs it.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time

import orjson

from stream.partition_state import PartitionState

T0 = 1_734_778_800_000
RECORD_EVENTS = 500


def synthetic_log(sessions: int, seed: int = 7) -> list[bytes]:
    """500-event records of one partner: joins, heartbeats every 10 s, leaves, in time order."""
    rnd = random.Random(seed)
    events: list[tuple[int, dict[str, object]]] = []
    for i in range(sessions):
        start = T0 + rnd.randrange(0, 3_600_000)
        duration = rnd.randrange(20_000, 600_000)
        sid = f"sess-{i:08d}"
        viewer = f"viewer-{i % max(1, sessions * 2 // 3):08d}"
        base = {"stream": "carnival", "session_id": sid, "viewer_id": viewer}
        events.append((start, {**base, "type": "join", "ts": start}))
        t = start + 10_000
        while t < start + duration:
            events.append((t, {**base, "type": "heartbeat", "ts": t}))
            t += 10_000
        events.append((start + duration, {**base, "type": "leave", "ts": start + duration}))
    events.sort(key=lambda e: e[0])
    records = []
    for i in range(0, len(events), RECORD_EVENTS):
        chunk = [e for _, e in events[i : i + RECORD_EVENTS]]
        received = max(e[0] for e in events[i : i + RECORD_EVENTS]) + 500
        records.append(
            orjson.dumps(
                {
                    "v": 1,
                    "platform": "web",
                    "received_at": received,
                    "timeout_ms": 30_000,
                    "events": chunk,
                }
            )
        )
    return records


def carnival_log(events: int) -> list[tuple[int, bytes]]:
    """``(partition, value)`` records of the bench suite's log, its first ``events`` events."""
    from livetally.bench.eventlog import LogParams, batch_records, iter_batches, take_events

    base_ms = int(time.time() * 1000) - 4 * 3_600_000
    return [
        (r.partition, r.value)
        for batch in take_events(iter_batches(LogParams(scale=0.011)), events)
        for r in batch_records(batch, base_ms, partitions=4)
    ]


def run(records: list[tuple[int, bytes]]) -> tuple[int, float, dict[int, PartitionState]]:
    states: dict[int, PartitionState] = {}
    counted = 0
    started = time.process_time()
    for offset, (partition, value) in enumerate(records):
        state = states.get(partition)
        if state is None:
            state = states[partition] = PartitionState(partition)
        counted += state.apply_record(offset, value)
        if offset % 200 == 0:
            for s in states.values():
                s.drain()
    for s in states.values():
        s.drain()
    return counted, time.process_time() - started, states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--carnival", type=int, metavar="EVENTS")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.carnival:
        records = carnival_log(args.carnival)
    else:
        records = [(0, value) for value in synthetic_log(args.sessions)]
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(records)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return
    best = 0.0
    for _ in range(3):
        counted, elapsed, _ = run(records)
        best = max(best, counted / elapsed)
    print(f"{counted} events in {len(records)} records: {best:,.0f} events/s (best of 3, CPU time)")


if __name__ == "__main__":
    main()
