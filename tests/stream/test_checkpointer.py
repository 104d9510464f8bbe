"""The checkpointer: which partition is due (table-driven) and the write, without a broker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from contract.checkpoints import Manifest
from stream.checkpointer import Checkpointer, due
from stream.partition_state import PartitionState
from stream.snapshot import load_state
from stream.states import PartitionStates
from tests.stream.conftest import Clock, join_record

T0 = 1_700_000_000_000


@dataclass
class Case:
    now: float
    next_offsets: dict[int, int]
    built_at: dict[int, float]
    checkpointed: dict[int, tuple[int, float]]
    dump_s: dict[int, float]
    expected: int | None
    interval_s: float = 60.0
    min_records: int = 100


CASES = {
    "nothing held": Case(1000, {}, {}, {}, {}, None),
    "first checkpoint waits one interval after the build": Case(
        1000, {0: 500}, {0: 950}, {}, {}, None
    ),
    "first checkpoint one interval after the build": Case(1000, {0: 500}, {0: 940}, {}, {}, 0),
    "no build time counts from time zero": Case(1000, {0: 500}, {}, {}, {}, 0),
    "too few records since the last checkpoint": Case(
        1000, {0: 550}, {0: 0}, {0: (500, 900)}, {}, None
    ),
    "exactly the minimum of records": Case(1000, {0: 600}, {0: 0}, {0: (500, 900)}, {}, 0),
    "too few records since the start": Case(1000, {0: 99}, {0: 0}, {}, {}, None),
    "the last checkpoint is too recent": Case(1000, {0: 900}, {0: 0}, {0: (500, 950)}, {}, None),
    "one partition per tick, the one waiting longest": Case(
        1000, {0: 900, 1: 900, 2: 900}, {}, {0: (0, 800), 1: (0, 700), 2: (0, 850)}, {}, 1
    ),
    "a tie goes to the lowest partition": Case(
        1000, {3: 900, 1: 900}, {}, {3: (0, 800), 1: (0, 800)}, {}, 1
    ),
    "slow dumps space the checkpoints out": Case(
        1000, {0: 900, 1: 900}, {}, {0: (0, 910), 1: (0, 920)}, {0: 6.0, 1: 4.0}, None
    ),
    "10x the sum of the dumps has passed": Case(
        1000, {0: 900, 1: 900}, {}, {0: (0, 900), 1: (0, 920)}, {0: 6.0, 1: 4.0}, 0
    ),
    "dumps of partitions no longer held do not count": Case(
        1000, {0: 900}, {}, {0: (0, 930)}, {0: 1.0, 5: 100.0}, 0
    ),
    "the interval wins over quick dumps": Case(1000, {0: 900}, {}, {0: (0, 960)}, {0: 0.5}, None),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_due(case: Case):
    chosen = due(
        case.now,
        next_offsets=case.next_offsets,
        built_at=case.built_at,
        checkpointed=case.checkpointed,
        dump_s=case.dump_s,
        interval_s=case.interval_s,
        min_records=case.min_records,
    )
    assert chosen == case.expected


class Store:
    """An in-memory checkpoint store; ``during`` runs while a write is in flight."""

    def __init__(self, during=None, fails: bool = False) -> None:
        self.written: list[tuple[int, int, bytes]] = []
        self.during = during
        self.fails = fails

    async def write(self, partition: int, offset: int, data: bytes) -> Manifest:
        if self.during is not None:
            self.during()
        if self.fails:
            raise OSError("cluster gone")
        self.written.append((partition, offset, data))
        return Manifest(partition, "e", offset, (0, 1), len(data), 0, T0)


class SteppingClock(Clock):
    """Moves on by ``step`` seconds each time it is read."""

    def __init__(self, now: float = 1000.0, step: float = 0.5) -> None:
        super().__init__(now)
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def counted(*partitions: int, records: int = 3) -> PartitionStates:
    states = PartitionStates({}, "events")
    for partition in partitions:
        state = PartitionState(partition)
        for offset in range(records):
            state.apply_record(offset, join_record(T0 + offset, f"s{offset}"))
        states.states[partition] = state
        states.built_at[partition] = 0.0
    return states


def checkpointer(states, store, clock, lock=None, interval_s=60.0, min_records=1):
    return Checkpointer(states, store, lock or asyncio.Lock(), interval_s, min_records, clock=clock)


async def test_write_stores_a_loadable_dump_and_records_the_offset():
    states = counted(0)
    store = Store()
    clock = SteppingClock(step=0.5)
    await checkpointer(states, store, clock).write(0)
    [(partition, offset, data)] = store.written
    assert (partition, offset) == (0, 3)
    assert load_state(data).next_offset == 3
    assert states.checkpointed[0][0] == 3


async def test_write_remembers_how_long_the_dump_took():
    states = counted(0)
    cp = checkpointer(states, Store(), SteppingClock(step=0.5))
    await cp.write(0)
    assert cp.dump_s == {0: 0.5}


async def test_a_partition_revoked_while_written_is_not_marked_checkpointed():
    states = counted(0)
    store = Store(during=lambda: states.drop([0]))
    await checkpointer(states, store, Clock()).write(0)
    assert len(store.written) == 1
    assert 0 not in states.checkpointed


async def test_a_partition_rebuilt_while_waiting_for_the_lock_is_not_dumped():
    states = counted(0)
    store = Store()
    lock = asyncio.Lock()
    cp = checkpointer(states, store, Clock(), lock=lock)
    async with lock:
        task = asyncio.ensure_future(cp.write(0))
        await asyncio.sleep(0)
        states.states[0] = PartitionState(0)  # revoked and rebuilt meanwhile
    await task
    assert store.written == []
    assert cp.dump_s == {}


async def test_records_counted_while_waiting_for_the_lock_are_in_the_dump():
    states = counted(0)
    store = Store()
    lock = asyncio.Lock()
    cp = checkpointer(states, store, Clock(), lock=lock)
    async with lock:
        task = asyncio.ensure_future(cp.write(0))
        await asyncio.sleep(0)
        states.states[0].apply_record(3, join_record(T0 + 3, "late"))
    await task
    [(_, offset, data)] = store.written
    assert offset == 4
    assert load_state(data).next_offset == 4


async def test_a_failed_write_waits_for_the_next_tick(caplog):
    states = counted(0)
    with caplog.at_level(logging.ERROR, logger="stream.checkpointer"):
        await checkpointer(states, Store(fails=True), Clock()).write(0)
    assert 0 not in states.checkpointed
    assert "checkpoint of partition 0 failed" in caplog.text


async def test_tick_writes_the_due_partition_then_waits_an_interval():
    states = counted(0, 1)
    store = Store()
    clock = Clock(100.0)
    cp = checkpointer(states, store, clock, interval_s=60.0)
    await cp.tick()
    await cp.tick()
    assert [p for p, _, _ in store.written] == [0, 1]  # one per tick
    await cp.tick()
    assert len(store.written) == 2  # both checkpointed just now
    clock.advance(59)
    await cp.tick()
    assert len(store.written) == 2
    states.states[0].apply_record(3, join_record(T0 + 3, "new"))
    clock.advance(1)
    await cp.tick()
    assert [p for p, _, _ in store.written] == [0, 1, 0]  # 1 has no new record


@pytest.mark.parametrize(("interval_s", "tick_s"), [(60.0, 5.0), (2.0, 2.0)])
def test_the_timer_asks_every_5_s_at_most(interval_s, tick_s):
    assert checkpointer(counted(), Store(), Clock(), interval_s=interval_s).tick_s == tick_s
