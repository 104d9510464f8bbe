"""The aggregation part's coalesced fill: bundles as ingest's coalescer writes them."""

from __future__ import annotations

from contract.packing import MAX_RECORD_BYTES
from contract.records import split_bundle
from livetally.bench.aggregate import coalesced


def record(partition: int, n: int, count: int):
    return (partition, f"k{n}".encode(), b'{"batch":%d}' % n), count


def test_batches_of_a_partition_share_a_bundle_up_to_the_bound_in_order():
    records = [record(0, 0, 300), record(1, 1, 100), record(0, 2, 200), record(0, 3, 1),
               record(1, 2, 700), record(0, 4, 50)]  # fmt: skip
    out = list(coalesced(records, 500))
    got = [(p, key, split_bundle(value), count) for (p, key, value), count in out]
    assert out[1] == records[1] and out[3] == records[4]
    assert got == [
        (0, b"k0", [b'{"batch":0}', b'{"batch":2}'], 500),
        (1, b"k1", None, 100),  # alone (100 + 700 > 500): the record as it was
        (0, b"k3", [b'{"batch":3}', b'{"batch":4}'], 51),
        (1, b"k2", None, 700),  # larger than the bound: alone
    ]
    assert sum(count for _, count in out) == sum(count for _, count in records)


def test_a_bundle_stays_under_the_record_size_limit():
    big = b'{"pad":"' + b"x" * (400 * 1024) + b'"}'
    records = [((0, b"k", big), 1) for _ in range(5)]
    out = list(coalesced(records, 5_000))
    assert [count for _, count in out] == [2, 2, 1]
    assert all(len(value) <= MAX_RECORD_BYTES for (_, _, value), _ in out)


def test_records_without_a_partition_pass_through():
    records = [((None, b"a", b'{"n":1}'), 3), ((None, b"b", b'{"n":2}'), 4)]
    assert list(coalesced(records, 500)) == records
