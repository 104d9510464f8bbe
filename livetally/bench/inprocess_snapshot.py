"""Size, write and load time of a checkpoint, and process memory, for N sessions of state.

Not part of ``livetally bench``; run on its own:
``python -m livetally.bench.inprocess_snapshot [--sessions 1000000] [--fill joins]``.
``--fill joins`` fills four partitions with the ``memory`` part's log (one join per session,
half with a viewer id) instead of one partition of whole sessions, and also prints what the
state's parts cost per session (objects, cold stores, minutes of changes).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Iterable

import psutil

from livetally.bench.eventlog import batch_records, session_batches
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


def fill_joins(sessions: int, partitions: int = 4, seed: int = 20241221) -> list[PartitionState]:
    """The ``memory`` part's fill, counted in-process: ``partitions`` partition states."""
    states = [PartitionState(p) for p in range(partitions)]
    for batch in session_batches(sessions, seed=seed):
        for record in batch_records(batch, T0, partitions=partitions):
            state = states[record.partition]
            state.apply_record(state.next_offset, record.value)
    return states


def _allocated(obj: object) -> int:
    """``sys.getsizeof`` rounded up to the 8-byte blocks Python's allocator hands out."""
    return -(-sys.getsizeof(obj) // 8) * 8


def object_bytes(states: Iterable[PartitionState]) -> dict[str, int]:
    """Bytes of what holds sessions, viewers and per-second changes, by kind (a viewer id
    that is also a session id is one string, counted once)."""
    out = dict.fromkeys(
        ("session ids", "sessions dicts", "packed sessions", "session objects",
         "cold sessions", "viewer ids", "viewers dicts", "viewer first times", "cold viewers",
         "minutes of changes"),
        0,
    )  # fmt: skip
    for state in states:
        for platform in state.platforms.values():
            out["sessions dicts"] += sys.getsizeof(platform.sessions)
            out["viewers dicts"] += sys.getsizeof(platform.viewers)
            out["cold sessions"] += platform.cold_sessions.nbytes
            out["cold viewers"] += platform.cold_viewers.nbytes
            out["minutes of changes"] += sum(map(_allocated, platform.changes.values()))
            for session_id, held in platform.sessions.items():
                out["session ids"] += _allocated(session_id)
                if isinstance(held, bytes):
                    out["packed sessions"] += _allocated(held)
                else:  # the object, its arrays, its list of ranges and their tuples
                    parts: list[object] = [held, held.starts, held.leaves, held.ranges]
                    parts.extend(held.ranges)
                    out["session objects"] += sum(_allocated(p) for p in parts if p is not None)
            for viewer, first in platform.viewers.items():
                if viewer not in platform.sessions:
                    out["viewer ids"] += _allocated(viewer)
                out["viewer first times"] += _allocated(first)
    return out


def _counts(states: Iterable[PartitionState]) -> tuple[int, int]:
    """Start times kept and sessions packed (in a function of its own, so that no loop
    variable keeps the state alive once the caller lets it go)."""
    starts = packed = 0
    for state in states:
        for platform in state.platforms.values():
            for session_id in platform.session_ids():
                session = platform.session(session_id)
                starts += len(session.starts) if session is not None else 0
            packed += platform.session_count() - len(platform.unpacked)
    return starts, packed


def _rss(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument(
        "--fill",
        choices=("evening", "joins"),
        default="evening",
        help="whole sessions in one partition (evening), or the memory part's joins",
    )
    args = parser.parse_args()
    process = psutil.Process()
    before = _rss(process)
    states = fill_joins(args.sessions) if args.fill == "joins" else [build(args.sessions)]
    for one in states:
        one.drain()
    del one
    gc.collect()
    held = _rss(process)
    starts, packed = _counts(states)
    print(f"state: {args.sessions:,} sessions ({packed:,} packed), {starts:,} start times")
    print(f"RSS with state: {held:,.0f} MiB (state ~{held - before:,.0f} MiB)")
    if args.fill == "joins":
        for kind, size in object_bytes(states).items():
            print(f"  {kind}: {size / 2**20:,.1f} MiB, {size / args.sessions:.1f} B/session")
    t, c = time.perf_counter(), time.process_time()
    blobs = [dump_state(one) for one in states]
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    size = sum(len(blob) for blob in blobs)
    print(f"write: {wall:.2f} s wall, {cpu:.2f} s CPU, {size / 2**20:,.1f} MiB")
    del states
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    restored = [load_state(blob) for blob in blobs]
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    count = sum(state.sessions() for state in restored)
    print(f"load: {wall:.2f} s wall, {cpu:.2f} s CPU ({count:,} sessions)")
    print(f"RSS after loading, the original state freed: {_rss(process):,.0f} MiB")


if __name__ == "__main__":
    main()
