"""The publisher: drain, send, latency accounting and the catching-up pace, without a broker."""

from __future__ import annotations

import asyncio
import logging

import pytest

from contract.deadletter import deadletter_key, decode_dead_letter
from contract.metrics import decode_metric, pipeline_key
from contract.partials import chunk_key, decode_chunk
from contract.stats import decode_stats, stats_key
from stream.partition_state import PartitionState
from stream.publisher import Publisher
from stream.states import PartitionStates
from tests.stream.conftest import Clock, Sent, join_record

T0 = 1_700_000_000_000


class WallMs:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def held(*partitions: int) -> PartitionStates:
    states = PartitionStates({}, "events")
    for partition in partitions:
        states.states[partition] = PartitionState(partition)
    return states


def publisher(states, sent, clock=None, wall=None, flush=1.0, max_flush=30.0) -> Publisher:
    return Publisher(
        states,
        asyncio.Lock(),
        sent,
        flush,
        max_flush,
        clock=clock or Clock(),
        wall_ms=wall or WallMs(),
    )


async def test_publish_all_sends_each_partitions_chunks_and_stats(sent: Sent):
    states = held(0, 1)
    states.states[0].apply_record(0, join_record(T0, "a"))
    states.states[1].apply_record(0, join_record(T0, "b"))
    await publisher(states, sent).publish_all()
    chunks = [decode_chunk(value) for _, value in sent.on("partials")]
    assert {c.partition for c in chunks} == {0, 1}
    for key, value in sent.on("partials"):
        chunk = decode_chunk(value)
        assert key == chunk_key(chunk.stream, chunk.platform, chunk.partition, chunk.minute)
    stats = [decode_stats(value) for _, value in sent.on("stats")]
    assert sorted((s.partition, s.events) for s in stats) == [(0, 1), (1, 1)]
    assert [key for key, _ in sent.on("stats")] == [stats_key(s) for s in stats]


async def test_a_second_publish_sends_nothing_new(sent: Sent):
    states = held(0)
    states.states[0].apply_record(0, join_record(T0))
    pub = publisher(states, sent)
    await pub.publish_all()
    before = len(sent.records)
    await pub.publish_all()
    assert len(sent.records) == before


async def test_dead_letters_are_sent_keyed_by_partition_and_offset(sent: Sent):
    states = held(2)
    states.states[2].apply_record(7, b"not json")
    await publisher(states, sent).publish_all()
    [(key, value)] = sent.on("deadletter")
    letter = decode_dead_letter(value)
    assert (letter.partition, letter.offset, letter.code) == (2, 7, "bad_record")
    assert key == deadletter_key(letter)


async def test_latency_and_rate_count_arrivals_as_published_now(sent: Sent):
    states = held(0)
    states.states[0].apply_record(0, join_record(T0 - 400))
    wall = WallMs(T0)
    pub = publisher(states, sent, wall=wall)
    await pub.publish_all()
    assert states.states[0].arrivals == []
    assert pub.latency.percentiles(T0)["p50"] == pytest.approx(400)
    assert pub.rate.rate(T0) > 0


def test_behind_is_the_age_of_the_newest_arrival(sent: Sent):
    states = held(0, 1)
    states.states[0].arrivals = [(T0 - 9_000, 1), (T0 - 5_000, 1)]
    states.states[1].arrivals = [(T0 - 7_000, 1)]
    assert publisher(states, sent).behind_ms() == 5_000
    assert publisher(held(0), sent).behind_ms() == 0


async def ticks(
    pub: Publisher, states: PartitionStates, clock: Clock, times: list[float], behind_ms: int
) -> list[float]:
    """Tick at each time with a fresh arrival ``behind_ms`` old; the times that published."""
    published = []
    for at in times:
        clock.now = at
        states.states[0].arrivals = [(T0 - behind_ms, 1)] if behind_ms else []
        before = pub.published_at
        await pub.tick()
        if pub.published_at != before:
            published.append(at)
    return published


@pytest.mark.parametrize(
    ("behind_ms", "times", "published"),
    [
        (0, [100, 101, 102, 103], [100, 101, 102, 103]),  # keeping up: every tick
        (2_000, [100, 101, 102], [100, 101, 102]),  # a little behind is still keeping up
        (60_000, [100, 105, 114, 115, 120, 130], [100, 115, 130]),  # every 15 s (60 / 4)
        (600_000, [100, 120, 129, 130, 160], [100, 130, 160]),  # at most every 30 s
    ],
)
async def test_catching_up_publishes_every_quarter_of_the_delay(
    sent: Sent, clock: Clock, behind_ms, times, published
):
    states = held(0)
    pub = publisher(states, sent, clock=clock)
    assert await ticks(pub, states, clock, times, behind_ms) == published


async def test_catching_up_and_caught_up_are_logged_once_each(sent: Sent, clock: Clock, caplog):
    states = held(0)
    pub = publisher(states, sent, clock=clock)
    with caplog.at_level(logging.INFO, logger="stream.publisher"):
        await ticks(pub, states, clock, [100, 101, 102], 60_000)
        assert pub.catching_up
        await ticks(pub, states, clock, [103, 104], 0)
    assert not pub.catching_up
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "catching up (60.0 s behind): publishing less often",
        "caught up: publishing every 1 s",
    ]


async def test_catching_up_ends_at_once_when_the_worker_caught_up(sent: Sent, clock: Clock):
    states = held(0)
    pub = publisher(states, sent, clock=clock)
    assert await ticks(pub, states, clock, [100, 101], 60_000) == [100]
    assert await ticks(pub, states, clock, [102], 0) == [102]


async def test_publish_before_stop_gives_up_after_its_timeout(caplog):
    async def hangs(topic, key, value):
        await asyncio.sleep(60)

    states = held(0)
    states.states[0].apply_record(0, join_record(T0))
    with caplog.at_level(logging.WARNING, logger="stream.publisher"):
        await publisher(states, hangs).publish_before_stop(timeout_s=0.01)
    assert "could not publish before stopping" in caplog.text


async def test_pipeline_record_has_lag_from_the_high_watermarks(sent: Sent):
    states = held(0)
    states.states[0].next_offset = 40
    await publisher(states, sent).publish_pipeline("w1", [0, 1], {0: 50, 1: 12}, T0)
    [(key, value)] = sent.on("metrics")
    assert key == pipeline_key("w1")
    record = decode_metric(key, value)
    assert record.worker == "w1"
    assert record.at == T0
    assert record.partitions == (0, 1)
    assert record.lag == {0: 10, 1: 12}  # 1 has no state: all of it is lag
