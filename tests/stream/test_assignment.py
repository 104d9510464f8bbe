"""The assignment: background builds with retries, revocation and shutdown, without a broker."""

from __future__ import annotations

import asyncio

import pytest

from contract.stats import parse_stats_key
from stream.assignment import Assignment
from stream.partition_state import PartitionState
from stream.publisher import Publisher
from stream.states import TruncatedLog
from tests.stream.conftest import Clock, Sent, join_record

T0 = 1_700_000_000_000


class States:
    """Stands in for ``PartitionStates``: ``ensure`` builds an empty state at once.

    ``fail`` maps a partition to the exceptions its next builds raise, in order; ``gate``,
    when set, holds every build until it is set.
    """

    def __init__(self) -> None:
        self.states: dict[int, PartitionState] = {}
        self.ensured: list[tuple[int, int]] = []
        self.fail: dict[int, list[BaseException]] = {}
        self.gate: asyncio.Event | None = None

    async def ensure(self, partition: int, upto: int) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail.get(partition):
            raise self.fail[partition].pop(0)
        self.ensured.append((partition, upto))
        if partition not in self.states:
            state = PartitionState(partition)
            state.next_offset = upto
            self.states[partition] = state

    def drop(self, partitions) -> None:
        for partition in partitions:
            self.states.pop(partition, None)


class Committed:
    """Committed offsets (``offset = 100 + partition``) after ``failures`` failed reads."""

    def __init__(self, failures: int = 0, gate: asyncio.Event | None = None) -> None:
        self.failures = failures
        self.gate = gate
        self.asked: list[list[int]] = []

    async def __call__(self, partitions: list[int]) -> dict[int, int]:
        self.asked.append(list(partitions))
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise LookupError("coordinator loading")
        return {p: 100 + p for p in partitions}


class Sleeps:
    """A fake ``asyncio.sleep``: remembers the delays; ``during`` runs at each sleep."""

    def __init__(self, during=None) -> None:
        self.delays: list[float] = []
        self.during = during

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.during is not None:
            await self.during()


class Crashes:
    def __init__(self) -> None:
        self.reasons: list[BaseException] = []

    async def __call__(self, reason: BaseException) -> None:
        self.reasons.append(reason)


def assignment(states, committed, sent=None, sleep=None, timeout_s=30.0, crash=None):
    lock = asyncio.Lock()
    publisher = Publisher(states, lock, sent or Sent(), 1.0, 30.0, clock=Clock())
    return Assignment(
        states,
        lock,
        publisher,
        committed,
        crash or Crashes(),
        sleep=sleep or Sleeps(),
        timeout_s=timeout_s,
    )


async def test_restore_builds_each_partition_up_to_its_committed_offset():
    states = States()
    a = assignment(states, Committed())
    await a.restore([0, 2], a.generation)
    assert states.ensured == [(0, 100), (2, 102)]


@pytest.mark.parametrize(
    ("failures", "delays"),
    [
        (0, []),
        (1, [1.0]),
        (3, [1.0, 2.0, 4.0]),
        (7, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]),  # at most 30 s apart
    ],
)
async def test_restore_retries_unread_offsets_with_backoff(failures, delays):
    states = States()
    committed = Committed(failures)
    sleeps = Sleeps()
    a = assignment(states, committed, sleep=sleeps)
    await a.restore([0, 1], a.generation)
    assert sleeps.delays == delays
    assert len(committed.asked) == failures + 1
    assert states.ensured == [(0, 100), (1, 101)]


async def test_restore_gives_a_slow_offsets_read_up_and_retries():
    class SlowOnce(Committed):
        async def __call__(self, partitions):
            if not self.asked:
                self.asked.append(partitions)
                await asyncio.sleep(60)
            return await super().__call__(partitions)

    states = States()
    sleeps = Sleeps()
    a = assignment(states, SlowOnce(), sleep=sleeps, timeout_s=0.01)
    await a.restore([0], a.generation)
    assert sleeps.delays == [1.0]
    assert states.ensured == [(0, 100)]


async def test_restore_retries_only_the_partitions_whose_build_failed():
    states = States()
    states.fail[1] = [OSError("broker away")]
    committed = Committed()
    sleeps = Sleeps()
    a = assignment(states, committed, sleep=sleeps)
    await a.restore([0, 1, 2], a.generation)
    assert committed.asked == [[0, 1, 2], [1]]
    assert sleeps.delays == [1.0]
    assert states.ensured == [(0, 100), (2, 102), (1, 101)]


async def test_restore_stops_the_worker_on_a_truncated_log():
    states = States()
    states.fail[0] = [TruncatedLog("events", 0, 0, 50)]
    sleeps = Sleeps()
    crashes = Crashes()
    a = assignment(states, Committed(), sleep=sleeps, crash=crashes)
    await a.restore([0, 1], a.generation)
    assert [type(r) for r in crashes.reasons] == [TruncatedLog]
    assert states.ensured == []
    assert sleeps.delays == []


async def test_a_restore_of_an_older_generation_builds_nothing():
    states = States()
    a = assignment(states, Committed())
    generation = a.generation
    await a.revoked([0])
    await a.restore([0, 1], generation)
    assert states.ensured == []


async def test_a_revocation_while_offsets_are_read_stops_the_build():
    states = States()
    gate = asyncio.Event()
    a = assignment(states, Committed(gate=gate))
    a.assigned([0, 1])
    await asyncio.sleep(0)
    await a.revoked([0, 1])
    gate.set()
    await asyncio.gather(*a.restoring)
    assert states.ensured == []
    assert states.states == {}


async def test_a_revocation_between_two_builds_stops_the_second():
    states = States()
    states.gate = asyncio.Event()
    a = assignment(states, Committed())
    a.assigned([0, 1])
    for _ in range(5):  # the build of 0 now holds the lock, waiting on the gate
        await asyncio.sleep(0)
    revocation = asyncio.ensure_future(a.revoked([0, 1]))
    await asyncio.sleep(0)
    states.gate.set()
    await revocation
    await asyncio.gather(*a.restoring)
    assert states.ensured == [(0, 100)]
    assert states.states == {}  # 0 was built, then dropped by the revocation


async def test_a_revocation_during_the_backoff_ends_the_retries():
    states = States()
    a = None

    async def revoke():
        await a.revoked([0])

    sleeps = Sleeps(during=revoke)
    a = assignment(states, Committed(failures=5), sleep=sleeps)
    await a.restore([0], a.generation)
    assert sleeps.delays == [1.0]
    assert states.ensured == []


async def test_revoked_publishes_what_was_counted_then_drops_the_partitions():
    states = States()
    for partition in (0, 1):
        states.states[partition] = PartitionState(partition)
        states.states[partition].apply_record(0, join_record(T0, f"v{partition}"))
    sent = Sent()
    a = assignment(states, Committed(), sent=sent)
    await a.revoked([0])
    assert a.generation == 1
    assert list(states.states) == [1]
    assert {parse_stats_key(key)[2] for key, _ in sent.on("stats")} == {0}
    assert sent.on("partials")


async def test_assigned_keeps_its_build_referenced_until_done():
    states = States()
    a = assignment(states, Committed())
    a.assigned([])
    assert a.restoring == set()
    a.assigned([3])
    [task] = a.restoring
    await task
    await asyncio.sleep(0)
    assert a.restoring == set()
    assert states.ensured == [(3, 103)]


async def test_cancel_stops_the_builds_in_flight():
    states = States()
    a = assignment(states, Committed(gate=asyncio.Event()))
    a.assigned([0])
    [task] = a.restoring
    await asyncio.sleep(0)
    a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert states.ensured == []
