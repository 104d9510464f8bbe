"""The records figures of the benchmark: what one record holds, and the per-partition rates."""

from __future__ import annotations

import pytest

from contract.records import encode_bundle, encode_raw_batch
from livetally.bench.records import RecordFigures, events_in_record


def batch(events: int) -> bytes:
    return encode_raw_batch("douyu", 1_000, [{"n": n} for n in range(events)])


@pytest.mark.parametrize(
    ("value", "events"),
    [
        (batch(3), 3),
        (encode_bundle([batch(3), batch(5), batch(1)]), 9),
        (b"not json", None),
        (b'{"v":2,"batches":[1]}', None),
        (None, None),
    ],
)
def test_a_record_holds_the_events_of_its_batches(value, events):
    assert events_in_record(value) == events


def test_rates_are_per_second_and_averaged_over_every_partition():
    figures = RecordFigures(
        seconds=2.0, records={0: 10, 1: 30, 2: 0, 3: 0}, events={0: 500, 1: 1500}
    )
    assert figures.total_records == 40
    assert figures.records_per_s_per_partition == 5.0  # 40 records / 2 s / 4 partitions
    assert figures.events_per_record == 50.0
    doc = figures.as_json()
    assert (doc["records_per_s_per_partition"], doc["events_per_record"]) == (5.0, 50.0)
    assert doc["records_by_partition"] == {"0": 10, "1": 30, "2": 0, "3": 0}


def test_no_records_has_no_rate_per_record():
    figures = RecordFigures(seconds=1.0, records={0: 0}, events={0: 0})
    assert figures.records_per_s_per_partition == 0.0
    assert figures.events_per_record is None
    assert RecordFigures(seconds=1.0, records={}, events={}).records_per_s_per_partition is None
