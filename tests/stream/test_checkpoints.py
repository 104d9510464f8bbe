"""The checkpoint store over an in-memory log: write order, finding the manifest, reading
the chunks back, and what it refuses. Against a broker it runs in the recovery tests."""

from __future__ import annotations

import logging
import zlib

import pytest
from aiokafka import TopicPartition

from contract.checkpoints import (
    Manifest,
    decode_manifest,
    encode_manifest,
    manifest_key,
    piece_key,
)
from stream import checkpoints
from stream.checkpoints import CheckpointStore
from tests.stream.fake_kafka import FakeCluster, FakeConsumer, FakeProducer

TOPIC = "cp"
TP = TopicPartition(TOPIC, 0)


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster({TOPIC: 4})


@pytest.fixture
def consumers() -> list[FakeConsumer]:
    """Every consumer ``load`` started, in order."""
    return []


@pytest.fixture
def new_store(cluster, consumers, monkeypatch):
    """Builds stores writing to and loading from ``cluster`` (chunks of 4 bytes)."""

    async def started(connect, **options):
        consumer = FakeConsumer(cluster)
        consumers.append(consumer)
        return consumer

    monkeypatch.setattr(checkpoints, "started_consumer", started)

    def build(chunk_bytes: int = 4) -> CheckpointStore:
        store = CheckpointStore({}, TOPIC, chunk_bytes)
        store._producer = FakeProducer(cluster)
        return store

    return build


def manifest_at(offset: int, epoch: str, chunks: tuple[int, ...], data: bytes) -> Manifest:
    return Manifest(0, epoch, offset, chunks, len(data), zlib.crc32(data), 1)


def write_raw(cluster: FakeCluster, epoch: str, data: bytes, chunk: int = 4) -> Manifest:
    """Write a checkpoint of events partition 0 by hand (chunks, then manifest)."""
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    offsets = tuple(
        cluster.append(TOPIC, 0, piece_key(0, epoch, i), piece) for i, piece in enumerate(pieces)
    )
    manifest = manifest_at(len(data), epoch, offsets, data)
    cluster.append(TOPIC, 0, manifest_key(0), encode_manifest(manifest))
    return manifest


def test_chunk_bytes_must_be_positive():
    with pytest.raises(ValueError, match="chunk_bytes"):
        CheckpointStore({}, TOPIC, 0)


async def test_write_sends_the_chunks_then_the_manifest_naming_their_offsets(cluster, new_store):
    store = new_store()
    cluster.append(TOPIC, 1, b"other", b"x")  # so offsets do not start at 0
    manifest = await store.write(5, 1234, b"abcdefghij")
    # Events partition 5 goes to partition 5 % 4 of the checkpoints topic.
    records = cluster.records(TOPIC, 1)[1:]
    assert manifest.epoch.startswith("1234-")
    assert [(r.key, r.value) for r in records] == [
        (piece_key(5, manifest.epoch, 0), b"abcd"),
        (piece_key(5, manifest.epoch, 1), b"efgh"),
        (piece_key(5, manifest.epoch, 2), b"ij"),
        (manifest_key(5), encode_manifest(manifest)),
    ]
    assert manifest == Manifest(
        5, manifest.epoch, 1234, (1, 2, 3), 10, zlib.crc32(b"abcdefghij"), manifest.written_at
    )
    assert decode_manifest(records[-1].value) == manifest


async def test_each_write_has_its_own_epoch_and_an_empty_state_still_has_a_chunk(new_store):
    store = new_store()
    first = await store.write(0, 10, b"")
    second = await store.write(0, 10, b"")
    assert first.epoch != second.epoch
    assert len(first.chunks) == 1 and first.size == 0


async def test_a_write_tombstones_the_epoch_it_replaces_after_its_manifest(cluster, new_store):
    store = new_store()
    a = await store.write(0, 100, b"aaaaaa")  # two chunks
    assert all(r.value is not None for r in cluster.records(TOPIC))
    b = await store.write(0, 200, b"bb")
    records = cluster.records(TOPIC)
    assert [(r.key, r.value) for r in records[3:]] == [
        (piece_key(0, b.epoch, 0), b"bb"),
        (manifest_key(0), encode_manifest(b)),
        (piece_key(0, a.epoch, 0), None),
        (piece_key(0, a.epoch, 1), None),
    ]
    await store.write(0, 300, b"c")
    tombstoned = [r.key for r in cluster.records(TOPIC)[7:] if r.value is None]
    assert tombstoned == [piece_key(0, b.epoch, 0)]  # a's are not deleted twice


async def test_replaced_epochs_are_kept_per_events_partition(cluster, new_store):
    store = new_store()
    await store.write(0, 1, b"x")
    await store.write(4, 1, b"y")  # the same checkpoints partition, another events partition
    assert [r.value for r in cluster.records(TOPIC) if r.value is None] == []


async def test_load_returns_the_newest_checkpoint_and_stops_its_consumer(new_store, consumers):
    writer = new_store()
    for n in range(3):
        written = await writer.write(2, n, bytes([n]) * 9)
    loaded = await new_store().load(2)
    assert loaded == (written, b"\x02" * 9)
    assert consumers[-1].stopped


async def test_after_a_restart_the_first_write_deletes_the_loaded_epoch(cluster, new_store):
    old = await new_store().write(0, 1, b"12345")
    store = new_store()
    await store.load(0)
    new = await store.write(0, 2, b"6")
    tombstones = {r.key for r in cluster.records(TOPIC) if r.value is None}
    assert tombstones == {piece_key(0, old.epoch, 0), piece_key(0, old.epoch, 1)}
    assert (await new_store().load(0)) == (new, b"6")


async def find(cluster: FakeCluster, partition: int = 0) -> tuple[FakeConsumer, object]:
    consumer = FakeConsumer(cluster)
    consumer.assign([TP])
    end = cluster.ends[TP]
    found = await CheckpointStore({}, TOPIC, 4)._find_manifest(consumer, TP, partition, 0, end)
    return consumer, found


async def test_chunks_a_crashed_write_left_behind_are_deleted_by_the_next_write(cluster, new_store):
    kept = write_raw(cluster, "k", b"kept")
    cluster.append(TOPIC, 0, piece_key(0, "orphan", 0), b"half")  # no manifest followed
    cluster.append(TOPIC, 0, piece_key(1, "other", 0), b"p1")  # another events partition
    cluster.append(TOPIC, 0, piece_key(0, "gone", 0), None)  # already deleted
    _, found = await find(cluster)
    assert found == (kept, {piece_key(0, "orphan", 0)})
    store = new_store()
    await store.load(0)
    await store.write(0, 9, b"new")
    tombstones = {r.key for r in cluster.records(TOPIC) if r.value is None}
    assert tombstones - {piece_key(0, "gone", 0)} == {
        piece_key(0, "k", 0),
        piece_key(0, "orphan", 0),
    }


async def test_load_of_an_empty_or_missing_topic_is_none(new_store, consumers):
    assert await new_store().load(0) is None
    store = CheckpointStore({}, "missing", 4)
    assert await store.load(0) is None
    assert len(consumers) == 2 and all(c.stopped for c in consumers)


async def test_the_manifest_is_searched_back_from_the_end_in_doubling_windows(cluster):
    manifest = write_raw(cluster, "e", b"data")
    for n in range(98):  # other partitions' records behind it
        cluster.append(TOPIC, 0, piece_key(1, "x", n), b"-")
    assert cluster.ends[TP] == 100
    consumer, found = await find(cluster)
    assert found == (manifest, set())
    # Windows [84, 100), [52, 84), [0, 52): 16, 32, then 64 records wide.
    assert consumer.seeks == [84, 52, 0]


async def test_a_manifest_near_the_end_is_found_in_the_first_window(cluster):
    for n in range(40):
        cluster.append(TOPIC, 0, piece_key(1, "x", n), b"-")
    manifest = write_raw(cluster, "e", b"data")
    consumer, found = await find(cluster)
    assert found == (manifest, set())
    assert consumer.seeks == [26]


async def test_no_manifest_of_the_partition_is_none(cluster):
    write_raw(cluster, "e", b"data")  # events partition 0's, not 4's
    assert (await find(cluster, partition=4))[1] is None
    assert (await find(FakeCluster({TOPIC: 1})))[1] is None


@pytest.mark.parametrize(
    "bad",
    [b"{not json", b'{"v": 2}', b'{"v": 1, "epoch": "e"}', b"[]"],
    ids=["not json", "other version", "fields missing", "not an object"],
)
async def test_a_malformed_manifest_is_skipped_for_the_one_before_it(cluster, caplog, bad):
    good = write_raw(cluster, "e", b"data")
    for n in range(20):  # the bad one in a later window than the good one
        cluster.append(TOPIC, 0, piece_key(1, "x", n), b"-")
    cluster.append(TOPIC, 0, manifest_key(0), bad)
    with caplog.at_level(logging.WARNING, logger="stream.checkpoints"):
        _, found = await find(cluster)
    assert found == (good, set())
    assert "skipping checkpoint manifest at 22" in caplog.text


async def test_of_two_manifests_in_one_window_the_newer_wins_and_a_tombstone_is_none(cluster):
    write_raw(cluster, "a", b"aaaa")
    b = write_raw(cluster, "b", b"bbbb")
    cluster.append(TOPIC, 0, manifest_key(0), None)
    _, found = await find(cluster)
    assert found == (b, {piece_key(0, "a", 0)})


async def read(cluster: FakeCluster, manifest: Manifest) -> bytes | None:
    consumer = FakeConsumer(cluster)
    consumer.assign([TP])
    return await CheckpointStore({}, TOPIC, 4)._read_chunks(consumer, TP, manifest)


async def test_chunks_are_read_by_offset_in_the_manifests_order(cluster):
    manifest = write_raw(cluster, "e", b"abcdefghij")
    cluster.append(TOPIC, 0, b"noise", b"!")
    assert await read(cluster, manifest) == b"abcdefghij"
    cluster.compact(TOPIC)  # gaps between and after the chunks
    assert await read(cluster, manifest) == b"abcdefghij"


async def test_an_incomplete_checkpoint_is_refused_with_a_warning(cluster, caplog):
    manifest = write_raw(cluster, "e", b"abcdefghij")
    cluster.remove(TOPIC, 0, [1])
    with caplog.at_level(logging.WARNING, logger="stream.checkpoints"):
        assert await read(cluster, manifest) is None
    assert "checkpoint e of partition 0 is incomplete (2 of 3 chunks)" in caplog.text


async def test_a_chunk_under_another_key_does_not_count(cluster, caplog):
    manifest = write_raw(cluster, "e", b"abcd")
    wrong = Manifest(0, "f", 4, manifest.chunks, 4, manifest.crc32, 1)
    with caplog.at_level(logging.WARNING, logger="stream.checkpoints"):
        assert await read(cluster, wrong) is None
    assert "incomplete (0 of 1 chunks)" in caplog.text


@pytest.mark.parametrize(("size_change", "crc_change"), [(0, 1), (1, 0), (-1, 0)])
async def test_a_checkpoint_not_matching_its_checksum_is_refused(
    cluster, caplog, size_change, crc_change
):
    good = write_raw(cluster, "e", b"abcdefgh")
    bad = Manifest(0, "e", 8, good.chunks, good.size + size_change, good.crc32 ^ crc_change, 1)
    with caplog.at_level(logging.WARNING, logger="stream.checkpoints"):
        assert await read(cluster, bad) is None
    assert "checkpoint e does not match its checksum" in caplog.text
    assert await read(cluster, good) == b"abcdefgh"


async def test_a_manifest_without_chunks_is_none(cluster):
    assert await read(cluster, manifest_at(0, "e", (), b"")) is None


async def test_load_refuses_a_newest_manifest_whose_chunks_are_gone(cluster, new_store):
    write_raw(cluster, "a", b"older")
    newest = write_raw(cluster, "b", b"newer")
    cluster.remove(TOPIC, 0, newest.chunks[:1])
    assert await new_store().load(0) is None


async def test_load_after_compaction_finds_the_newest_checkpoint(cluster, new_store):
    store = new_store()
    for n in range(12):
        written = await store.write(0, n, f"state {n:02}".encode())
    cluster.compact(TOPIC)
    records = cluster.records(TOPIC)
    assert len(records) == 2 + 1 and records[-1].offset < cluster.ends[TP] - 1
    assert await new_store().load(0) == (written, b"state 11")


async def collect(consumer: FakeConsumer, start: int, stop: int) -> list[int]:
    store = CheckpointStore({}, TOPIC, 4)
    return [r.offset async for r in store._records(consumer, TP, start, stop)]


async def test_records_are_read_from_start_to_before_stop(cluster):
    for n in range(10):
        cluster.append(TOPIC, 0, b"k%d" % n, b"v")
    consumer = FakeConsumer(cluster, batch=4)
    consumer.assign([TP])
    assert await collect(consumer, 3, 9) == [3, 4, 5, 6, 7, 8]


async def test_reading_stops_after_three_empty_fetches_at_a_compaction_gap(cluster):
    for n in range(10):
        cluster.append(TOPIC, 0, b"k%d" % n, b"v")
    cluster.remove(TOPIC, 0, range(5, 10))
    consumer = FakeConsumer(cluster, batch=2)
    consumer.assign([TP])
    assert await collect(consumer, 0, 10) == [0, 1, 2, 3, 4]
    assert consumer.empty_answers == 3


async def test_an_empty_fetch_between_records_does_not_end_the_reading(cluster):
    for n in range(6):
        cluster.append(TOPIC, 0, b"k%d" % n, b"v")
    # Two empty answers, records, two more: four in all but never three in a row.
    consumer = FakeConsumer(cluster, batch=2, empty_fetches={1, 2, 4, 5})
    consumer.assign([TP])
    assert await collect(consumer, 0, 6) == [0, 1, 2, 3, 4, 5]


class _FailingProducer(FakeProducer):
    """Fails the ``fail_at``-th ``send_and_wait`` (1 = the first), or the next flush."""

    def __init__(self, cluster: FakeCluster, fail_at: int | None = None, flush: bool = False):
        super().__init__(cluster)
        self.fail_at = fail_at
        self.fail_flush = flush
        self.calls = 0

    async def send_and_wait(self, topic, value, key=None, partition=0):
        self.calls += 1
        if self.calls == self.fail_at:
            raise ConnectionError("broker went away")
        return await super().send_and_wait(topic, value, key=key, partition=partition)

    async def flush(self):
        if self.fail_flush:
            self._pending.clear()  # the tombstones are lost with the connection
            raise ConnectionError("broker went away")
        await super().flush()


@pytest.mark.parametrize(
    ("fail_at", "fail_flush", "in_force"),
    [
        (2, False, "a"),  # the second chunk of b fails: a stays the checkpoint
        (3, False, "a"),  # b's manifest fails
        (None, True, "b"),  # b is in force, a's tombstones were lost
    ],
)
async def test_a_failed_write_leaves_nothing_for_the_next_one_to_forget(
    cluster, new_store, fail_at, fail_flush, in_force
):
    store = new_store()
    a = await store.write(0, 100, b"aaaa")
    store._producer = _FailingProducer(cluster, fail_at, fail_flush)
    with pytest.raises(ConnectionError):
        await store.write(0, 200, b"bbbbbbbb")  # two chunks of b, then the manifest
    loaded = await new_store().load(0)
    assert loaded is not None and loaded[0].offset == (100 if in_force == "a" else 200)
    assert loaded[0].epoch == a.epoch if in_force == "a" else loaded[0].epoch != a.epoch
    store._producer = FakeProducer(cluster)
    c = await store.write(0, 300, b"c")
    # Every piece but c's is deleted now: a's, and whatever of b was written.
    live = {r.key for r in cluster.records(TOPIC) if r.value is not None}
    tombstoned = {r.key for r in cluster.records(TOPIC) if r.value is None}
    pieces = {r.key for r in cluster.records(TOPIC) if r.key != manifest_key(0)}
    assert pieces - {piece_key(0, c.epoch, 0)} <= tombstoned
    assert piece_key(0, c.epoch, 0) in live


async def test_pieces_deleted_after_the_newest_manifest_are_not_stale(cluster):
    """As the store writes them: the old epoch's pieces, its manifest, the new piece, the
    new manifest, then the old pieces' tombstones, so many that the first window holds
    tombstones only and the pieces they delete are read in the next one."""
    write_raw(cluster, "old", bytes(range(80)))  # 20 pieces
    new = write_raw(cluster, "new", b"new")
    for index in range(20):
        cluster.append(TOPIC, 0, piece_key(0, "old", index), None)
    consumer, found = await find(cluster)
    assert found == (new, set())
    assert consumer.seeks[:2] == [cluster.ends[TP] - 16, 0]  # it took a second window
