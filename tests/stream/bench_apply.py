"""Throughput and memory of ``PartitionState.apply_record`` on a synthetic evening.

Not collected by pytest (a measurement, not a test). Run:
``python -m tests.stream.bench_apply [--sessions N] [--profile]``.
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


def run(records: list[bytes]) -> tuple[int, float, PartitionState]:
    state = PartitionState(0)
    counted = 0
    started = time.process_time()
    for offset, value in enumerate(records):
        counted += state.apply_record(offset, value)
        if offset % 200 == 0:
            state.drain()
    state.drain()
    return counted, time.process_time() - started, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    records = synthetic_log(args.sessions)
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
