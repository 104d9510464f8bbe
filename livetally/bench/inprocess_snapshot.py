"""Size, write and load time of a checkpoint, and process memory, for N sessions of state.

Not part of ``livetally bench``; run on its own:
``python -m livetally.bench.inprocess_snapshot [--sessions 1000000]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import time

import psutil

from stream.partition_state import PartitionState
from stream.snapshot import dump_state, load_state

T0 = 1_734_778_800_000


def build(sessions: int, seed: int = 3) -> PartitionState:
    """One partition of an evening: joins, heartbeats every 10 s for 20-220 s, leaves."""
    rnd = random.Random(seed)
    state = PartitionState(0)
    platform = state._platform("carnival", "web", 30_000)
    for i in range(sessions):
        start = T0 + rnd.randrange(0, 4 * 3_600_000)
        duration = rnd.randrange(20_000, 220_000)
        sid = f"{i:08x}-{rnd.getrandbits(64):016x}"
        viewer = f"viewer-{rnd.randrange(sessions * 2 // 3):08d}"
        platform.apply_session("join", start, sid, viewer, 30_000)
        for t in range(start + 10_000, start + duration, 10_000):
            platform.apply_session("heartbeat", t, sid, viewer, 30_000)
        platform.apply_session("leave", start + duration, sid, viewer, 30_000)
        newest = start + duration
        if platform.last_event_ts is None or newest > platform.last_event_ts:
            platform.last_event_ts = newest
        if i % 1000 == 0:
            platform.fold()
    platform.fold()
    state.next_offset = sessions
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    args = parser.parse_args()
    process = psutil.Process()
    before = process.memory_info().rss
    state = build(args.sessions)
    state.drain()
    gc.collect()
    held = process.memory_info().rss
    platform = state.platforms[("carnival", "web")]
    starts = 0
    for session_id in platform.sessions:
        session = platform.session(session_id)
        starts += len(session.starts) if session is not None else 0
    packed = len(platform.sessions) - len(platform.unpacked)
    print(f"state: {args.sessions:,} sessions ({packed:,} packed), {starts:,} start times")
    print(f"RSS with state: {held / 2**20:,.0f} MiB (state ~{(held - before) / 2**20:,.0f} MiB)")
    t, c = time.perf_counter(), time.process_time()
    data = dump_state(state)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"write: {wall:.2f} s wall, {cpu:.2f} s CPU, {len(data) / 2**20:,.1f} MiB")
    del state
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    restored = load_state(data)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"load: {wall:.2f} s wall, {cpu:.2f} s CPU ({restored.sessions():,} sessions)")
    print(f"peak RSS: {process.memory_info().rss / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
