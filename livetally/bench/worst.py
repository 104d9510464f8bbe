"""Cost of the worst event patterns in the counting code, against a normal heartbeat.

Part of ``livetally bench`` (the ``adversarial`` part); also on its own:
``python -m livetally.bench.worst [--leaves N] [--drains N] [--repeat N]``.

- ``heartbeat``: the baseline, in-order heartbeats of 20,000 sessions (10 s apart).
- ``leave/dense``, ``leave/sparse``: one session with 200,000 heartbeats at distinct
  milliseconds (1 ms apart, or 1,001 ms apart: one in every second), then ``--leaves``
  leaves at distinct random instants inside them, in random order.
- ``late heartbeat``: the sparse session, then ``--leaves`` heartbeats at random earlier
  instants.
- ``report+drain``: 200,000 reports two seconds apart, then ``--drains`` reports 0.25 s
  apart, each followed by a drain (what the worker does every flush interval).
- ``late report+drain``: the same 200,000 reports, then ``--drains`` reports at random
  earlier instants whose cumulative overtakes the next steps of the running maximum, each
  followed by a drain.

Times are CPU time per event of ``PlatformState.apply_session`` + ``fold`` (sessions) or
``apply`` + ``PartitionState.drain`` (reports): the work done under the partition lock,
without decoding; the best of ``--repeat`` runs (3), as the machine's other work only
ever adds time.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from contract.events import Event
from stream.partition_state import PartitionState, PlatformState

__all__ = ["PATTERNS", "measure"]

T0 = 1_734_778_800_000
TIMEOUT = 30_000
STARTS = 200_000


def _platform() -> tuple[PartitionState, PlatformState]:
    partition = PartitionState(0)
    # The worker creates a partner's state on its first record; here it is made directly,
    # so that only counting is timed, not decoding.
    state = partition._platform("s", "web", TIMEOUT)
    return partition, state


def _timed(steps: list[Callable[[], object]]) -> float:
    """CPU seconds per step."""
    started = time.process_time()
    for step in steps:
        step()
    return (time.process_time() - started) / len(steps)


def heartbeats() -> float:
    """In-order heartbeats of 20,000 sessions, 10 s apart: the baseline."""
    _, state = _platform()
    events = [(T0 + 10_000 * beat + i, f"s{i}") for beat in range(10) for i in range(20_000)]

    def step(ts: int, sid: str) -> Callable[[], None]:
        def run() -> None:
            state.apply_session("heartbeat", ts, sid, None, TIMEOUT)
            state.fold()

        return run

    return _timed([step(ts, sid) for ts, sid in events])


def _session(spacing: int) -> tuple[PlatformState, list[int]]:
    _, state = _platform()
    # Distinct milliseconds; with a spacing of 1,000 + 1 every heartbeat is in its own second.
    times = [T0 + spacing * i for i in range(STARTS)]
    for ts in times:
        state.apply_session("heartbeat", ts, "one", None, TIMEOUT)
    state.fold()
    return state, times


def session_events(kind: str, spacing: int, count: int, seed: int = 1) -> float:
    state, times = _session(spacing)
    rnd = random.Random(seed)
    taken = set(times) if kind != "leave" else set()
    instants: list[int] = []
    while len(instants) < count:
        ts = rnd.randrange(times[0], times[-1])
        if ts not in taken:
            taken.add(ts)
            instants.append(ts)

    def step(ts: int) -> Callable[[], None]:
        def run() -> None:
            state.apply_session(kind, ts, "one", None, TIMEOUT)
            state.fold()

        return run

    return _timed([step(ts) for ts in instants])


def reports(drains: int, late: bool = False, seed: int = 1) -> float:
    partition, state = _platform()
    for i in range(STARTS):
        state.apply(
            Event(type="count", stream="s", ts=T0 + 2000 * i, concurrent=i % 500, cumulative=i),
            TIMEOUT,
        )
    partition.drain()
    last = T0 + 2000 * STARTS
    rnd = random.Random(seed)
    # Late reports land at random earlier instants, in a second without a report (so they
    # govern concurrency there), with a cumulative that overtakes the next few steps of
    # the running maximum.
    times = [
        T0 + 2000 * rnd.randrange(STARTS) + 500 if late else last + 250 * i for i in range(drains)
    ]

    def step(ts: int) -> Callable[[], None]:
        def run() -> None:
            cumulative = (ts - T0) // 2000 + 5
            state.apply(
                Event(type="count", stream="s", ts=ts, concurrent=ts % 700, cumulative=cumulative),
                TIMEOUT,
            )
            partition.drain()

        return run

    return _timed([step(ts) for ts in times])


PATTERNS = (
    "heartbeat",
    "leave/dense",
    "leave/sparse",
    "late heartbeat",
    "report+drain",
    "late report+drain",
)
"""The patterns measured, the baseline first."""


def measure(leaves: int = 1_000, drains: int = 1_000, repeat: int = 3) -> dict[str, float]:
    """CPU seconds per event of every pattern (the best of ``repeat`` runs each)."""
    runs: dict[str, Callable[[], float]] = {
        "heartbeat": heartbeats,
        "leave/dense": lambda: session_events("leave", 1, leaves),
        "leave/sparse": lambda: session_events("leave", 1_001, leaves),
        "late heartbeat": lambda: session_events("heartbeat", 1_001, leaves),
        "report+drain": lambda: reports(drains),
        "late report+drain": lambda: reports(drains, late=True),
    }
    return {name: min(runs[name]() for _ in range(repeat)) for name in PATTERNS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000)
    parser.add_argument("--drains", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per pattern")
    args = parser.parse_args()
    costs = measure(args.leaves, args.drains, args.repeat)
    base = costs["heartbeat"]
    print(f"{'pattern':<20}{'µs per event':>14}{'× heartbeat':>14}")
    for name, cost in costs.items():
        print(f"{name:<20}{cost * 1e6:>14.1f}{cost / base:>14.1f}")


if __name__ == "__main__":
    main()
