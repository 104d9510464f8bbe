"""The coalescer's gathering, on a stand-in sink and timers the test fires by hand.

The same over a real broker and the real HTTP server is in ``test_coalescing.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.packing import OutRecord
from contract.records import decode_batches, encode_raw_batch, split_bundle
from ingest.coalescer import Coalescer
from ingest.exceptions import KafkaNotAcknowledged
from tests.ingest.helpers import HandTimers

TOPIC = "livetally.events"
LINGER_S = 0.005


@dataclass
class HeldSink:
    """Keeps every send; acknowledges a partition's records once its gate opens, or fails
    them with the error set for the partition."""

    sent: list[tuple[str, list[OutRecord]]] = field(default_factory=list)
    gates: dict[int, asyncio.Event] = field(default_factory=dict)
    errors: dict[int, BaseException] = field(default_factory=dict)
    closed: bool = False

    def hold(self, partition: int) -> asyncio.Event:
        gate = self.gates[partition] = asyncio.Event()
        return gate

    async def partitions(self, topic: str) -> int:
        return 4

    async def ready(self, topic: str) -> bool:
        return True

    async def send(self, topic, records) -> None:
        self.sent.append((topic, list(records)))
        for record in records:
            gate = self.gates.get(record.partition)
            if gate is not None:
                await gate.wait()
            error = self.errors.get(record.partition)
            if error is not None:
                raise error

    async def close(self) -> None:
        self.closed = True

    def produced(self) -> list[OutRecord]:
        return [record for topic, records in self.sent if topic == TOPIC for record in records]


def record(partition: int, *numbers: int, key: bytes = b"k") -> OutRecord:
    value = encode_raw_batch("douyu", 1_000, [{"n": n} for n in numbers])
    return OutRecord(partition, key, value, len(numbers))


def numbers_in(out: OutRecord) -> list[int]:
    return [event["n"] for batch in decode_batches(out.value) for event in batch.events]


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.fixture
def timers() -> HandTimers:
    return HandTimers()


@pytest.fixture
def sink() -> HeldSink:
    return HeldSink()


def coalescer(sink, timers, **kwargs) -> Coalescer:
    options = {"linger_s": LINGER_S, "max_events": 1000, **kwargs}
    return Coalescer(sink, TOPIC, call_later=timers, **options)


async def test_concurrent_sends_to_one_partition_go_out_as_one_record(sink, timers):
    gather = coalescer(sink, timers)
    first = asyncio.create_task(gather.send(TOPIC, [record(0, 1, 2)]))
    second = asyncio.create_task(gather.send(TOPIC, [record(0, 3), record(1, 4)]))
    await settle()
    assert sink.sent == []  # gathering until the window closes
    assert [t.delay for t in timers.pending()] == [LINGER_S]
    timers.fire()
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    produced = sink.produced()
    assert [(r.partition, r.count) for r in produced] == [(0, 3), (1, 1)]
    assert numbers_in(produced[0]) == [1, 2, 3]
    assert split_bundle(produced[0].value) == [record(0, 1, 2).value, record(0, 3).value]
    assert produced[1] == record(1, 4)  # a lone record goes out as it is


async def test_a_send_returns_only_once_every_record_holding_its_events_is_acknowledged(
    sink, timers
):
    gather = coalescer(sink, timers)
    gate = sink.hold(1)
    sending = asyncio.create_task(gather.send(TOPIC, [record(0, 1), record(1, 2)]))
    other = asyncio.create_task(gather.send(TOPIC, [record(0, 3)]))
    await settle()
    timers.fire()
    await asyncio.wait_for(other, 1)  # partition 0 was acknowledged
    await settle()
    assert not sending.done()
    gate.set()
    await asyncio.wait_for(sending, 1)


@pytest.mark.parametrize(
    "error",
    [
        KafkaNotAcknowledged("Kafka refused the events (NotLeaderForPartitionError)"),
        ValueError("x"),
    ],
)
async def test_a_refused_record_fails_every_send_in_it_with_the_error_of_its_own_send(
    sink, timers, error
):
    gather = coalescer(sink, timers)
    sink.errors[0] = error
    sends = [
        asyncio.create_task(gather.send(TOPIC, [record(0, 1)])),
        asyncio.create_task(gather.send(TOPIC, [record(1, 2), record(0, 3)])),
        asyncio.create_task(gather.send(TOPIC, [record(1, 4)])),
    ]
    await settle()
    timers.fire()
    outcomes = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 1)
    assert [type(o) for o in outcomes] == [type(error), type(error), type(None)]
    assert [str(o) for o in outcomes[:2]] == [str(error)] * 2
    assert outcomes[0] is not outcomes[1]  # each request raises its own copy
    if isinstance(error, KafkaNotAcknowledged):
        assert outcomes[0].code == outcomes[1].code == error.code


class Abandoned(BaseException):
    """A way out of a send that is neither an error nor a cancellation."""


async def test_a_record_left_without_an_acknowledgement_fails_its_sends(sink, timers):
    gather = coalescer(sink, timers)
    sink.errors[0] = Abandoned()
    sends = [
        asyncio.create_task(gather.send(TOPIC, [record(0, 1)])),
        asyncio.create_task(gather.send(TOPIC, [record(1, 2)])),
    ]
    await settle()
    timers.fire()
    outcomes = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 1)
    assert isinstance(outcomes[0], KafkaNotAcknowledged)
    assert outcomes[1] is None


async def test_a_full_record_goes_out_without_waiting_for_the_window(sink, timers):
    gather = coalescer(sink, timers, max_events=3)
    first = asyncio.create_task(gather.send(TOPIC, [record(0, 1, 2)]))
    second = asyncio.create_task(gather.send(TOPIC, [record(0, 3)]))
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    assert timers.pending() == []  # nothing left to linger for
    assert [numbers_in(r) for r in sink.produced()] == [[1, 2, 3]]


async def test_a_record_that_would_pass_the_bound_starts_the_next_one(sink, timers):
    gather = coalescer(sink, timers, max_events=3)
    first = asyncio.create_task(gather.send(TOPIC, [record(0, 1, 2)]))
    second = asyncio.create_task(gather.send(TOPIC, [record(0, 3, 4)]))
    await settle()
    await asyncio.wait_for(first, 1)  # its record went out when the next did not fit
    assert not second.done()
    timers.fire()
    await asyncio.wait_for(second, 1)
    assert [numbers_in(r) for r in sink.produced()] == [[1, 2], [3, 4]]


async def test_a_huge_record_does_not_hold_back_other_partitions_beyond_the_window(sink, timers):
    gather = coalescer(sink, timers, max_events=10)
    huge = asyncio.create_task(gather.send(TOPIC, [record(0, *range(25))]))
    small = asyncio.create_task(gather.send(TOPIC, [record(1, 100)]))
    await settle()
    await asyncio.wait_for(huge, 1)  # over the bound on its own: out at once
    assert not small.done()
    timers.fire()
    await asyncio.wait_for(small, 1)


async def test_a_cancelled_send_still_has_its_records_produced(sink, timers):
    gather = coalescer(sink, timers)
    gone = asyncio.create_task(gather.send(TOPIC, [record(2, 7)]))
    await settle()
    gone.cancel()
    await settle()
    timers.fire()
    await settle()
    assert [numbers_in(r) for r in sink.produced()] == [[7]]


async def test_other_topics_go_straight_through(sink, timers):
    gather = coalescer(sink, timers)
    await asyncio.wait_for(gather.send("livetally.metrics", [record(0, 1)]), 1)
    assert sink.sent == [("livetally.metrics", [record(0, 1)])]
    assert timers.pending() == []


async def test_close_produces_what_is_gathered_then_closes_the_sink(sink, timers):
    gather = coalescer(sink, timers)
    sending = asyncio.create_task(gather.send(TOPIC, [record(3, 9)]))
    await settle()
    await gather.close()
    await asyncio.wait_for(sending, 1)
    assert [numbers_in(r) for r in sink.produced()] == [[9]]
    assert sink.closed
    assert gather.pending == 0


async def test_with_the_loop_s_own_timer_the_window_closes_by_itself(sink):
    gather = Coalescer(sink, TOPIC, linger_s=LINGER_S, max_events=1000)
    sends = [gather.send(TOPIC, [record(0, n)]) for n in range(5)]
    await asyncio.wait_for(asyncio.gather(*sends), 1)
    assert [numbers_in(r) for r in sink.produced()] == [[0, 1, 2, 3, 4]]


@pytest.mark.parametrize(
    "kwargs", [{"linger_s": 0}, {"linger_s": -1}, {"max_events": 0}, {"max_bytes": 0}]
)
def test_bounds_that_cannot_hold_a_record_are_refused(sink, timers, kwargs):
    with pytest.raises(ValueError):
        coalescer(sink, timers, **kwargs)


# --- a property: every record once, in order, within the bounds --------------------------

_sends = st.lists(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 6)),  # (partition, events) per record
        min_size=1,
        max_size=4,
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    sends=_sends,
    max_events=st.integers(1, 12),
    max_bytes=st.integers(1, 400),
    fire_after=st.sets(st.integers(0, 11)),
)
def test_every_event_goes_out_once_in_order_per_partition_within_the_bounds(
    sends, max_events, max_bytes, fire_after
):
    async def run() -> tuple[HeldSink, list[list[OutRecord]]]:
        sink, timers = HeldSink(), HandTimers()
        gather = coalescer(sink, timers, max_events=max_events, max_bytes=max_bytes)
        counter = iter(range(10_000))
        given_records = [
            [record(p, *(next(counter) for _ in range(n))) for p, n in spec] for spec in sends
        ]
        tasks = []
        for i, records in enumerate(given_records):
            tasks.append(asyncio.create_task(gather.send(TOPIC, records)))
            await settle()
            if i in fire_after and timers.pending():
                timers.fire()
        await settle()
        if timers.pending():
            timers.fire()
        await asyncio.wait_for(asyncio.gather(*tasks), 1)
        return sink, given_records

    sink, given_records = asyncio.run(run())
    for partition in range(4):
        sent = [
            n
            for r in given_records
            for rec in r
            if rec.partition == partition
            for n in numbers_in(rec)
        ]
        out = [n for r in sink.produced() if r.partition == partition for n in numbers_in(r)]
        assert out == sent
    for out in sink.produced():
        parts = split_bundle(out.value)
        if parts is None:
            continue  # a lone record, as ingest packed it
        assert len(parts) > 1
        assert out.count == len(numbers_in(out)) <= max_events
        assert len(out.value) <= max_bytes
