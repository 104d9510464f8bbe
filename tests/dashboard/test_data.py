"""StreamState bookkeeping and decoding of partials records (no Kafka involved)."""

from __future__ import annotations

import pytest

from contract.partials import chunk_from_record, chunk_key
from contract.registry import Registry
from contract.stats import PartitionStats
from dashboard.data import StreamState
from dashboard.model import figures_at
from tests.dashboard.builders import T0, chunk


def test_tombstone_becomes_an_empty_chunk_that_clears_its_slot():
    state = StreamState()
    state.put_chunk(chunk("douyin", 0, {T0: (4, 4, 4)}))
    state.put_chunk(chunk("douyin", 1, {T0: (1, 1, 1)}))
    tombstone = chunk_from_record(chunk_key("carnival", "douyin", 0, T0 // 60 * 60), None)
    assert tombstone is not None and tombstone.seconds == {}
    state.put_chunk(tombstone)
    snap = state.build(Registry(), 1)
    assert figures_at(snap.totals["carnival"], T0).concurrent == 1
    assert figures_at(snap.platforms["carnival"]["douyin"], T0).views == 1


def test_stats_tombstone_removes_the_partition_record():
    state = StreamState()
    state.put_stats("a", PartitionStats("carnival", "douyin", 0, 10, 20, 3, 0))
    state.put_stats("b", PartitionStats("carnival", "douyin", 1, 30, 40, 4, 0))
    state.put_stats("b", None)
    merged = state.build(Registry(), 1).stats["carnival"]["douyin"]
    assert (merged.last_arrival, merged.events) == (20, 3)


def test_version_grows_with_every_change():
    state = StreamState()
    before = state.version
    state.put_chunk(chunk("douyin", 0, {T0: (1, 1, 1)}))
    state.put_stats("k", None)
    assert state.version == before + 2


def test_total_slots_keep_partners_on_the_same_partition_apart():
    state = StreamState()
    state.put_chunk(chunk("douyin", 0, {T0: (2, 2, 2)}))
    state.put_chunk(chunk("bili", 0, {T0: (3, 3, 3)}))
    state.put_chunk(chunk("bili", 0, {T0: (1, 1, 1)}))  # replaces bili's chunk only
    snap = state.build(Registry(), 1)
    assert figures_at(snap.totals["carnival"], T0).concurrent == 3


class _Stuck:
    """A consumer that fetched up to ``positions`` while the log ends at ``ends``."""

    def __init__(self, positions, ends):
        self.positions, self.ends = positions, ends

    def position(self, tp):
        return self.positions[tp]

    def end_offsets(self, tps):
        return {tp: self.ends[tp] for tp in tps}


def test_a_follower_that_fetches_nothing_while_records_wait_reconnects_where_it_was():
    from contract.settings import KafkaSettings
    from dashboard.data import FollowerStalled, LiveData

    live = LiveData(KafkaSettings())
    tps = ["partials-0", "stats-0"]
    live._check_stalled(
        _Stuck({"partials-0": 5, "stats-0": 2}, {"partials-0": 5, "stats-0": 2}), tps
    )
    assert live._resume is None  # caught up: quiet is fine
    with pytest.raises(FollowerStalled, match="1 partition"):
        live._check_stalled(
            _Stuck({"partials-0": 5, "stats-0": 2}, {"partials-0": 9, "stats-0": 2}), tps
        )
    assert live._resume == {"partials-0": 5, "stats-0": 2}
